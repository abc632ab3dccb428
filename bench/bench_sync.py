"""Benchmark: ``blobpi sync`` against bandersnatch (allowlist filter) on one local upstream.

In one run: build an upstream of PROJECTS x VERSIONS (a wheel and an sdist each), mirror it
with both tools (first sync, then a no-op resync), then the same for NOOP_PROJECTS of one
version (the no-op target is for 100 projects), each without and with ETags; then mirror
one wheel of --big-gib GiB with both and report MiB/s and each process's peak RSS
(``wait4``). Prints one table (medians and ranges, ratios) and writes it to
``bench/results/sync-<time>.md`` and ``.json``. bandersnatch is installed into its own venv
(its dependencies differ from blobpi's).

    .venv/bin/python bench/bench_sync.py [--projects 40] [--versions 3] [--noop-projects 100]
        [--big-gib 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.recording import save, stamp  # noqa: E402
from tests.support.dists import build_sdist, build_wheel  # noqa: E402
from tests.support.upstream import LocalUpstream  # noqa: E402

BIN = Path(sys.executable).parent
_DISTS = {".whl", ".gz"}
_PACKAGES = ("mirror", "sync", "deploy")  # blobpi's own trees (an editable install runs them)
BANDERSNATCH_VENV = Path(tempfile.gettempdir()) / "blobpi-bench-bandersnatch"
# Both tools run from their compiled bytecode (``_compiled``), as installed by pip in the
# image; a pycache prefix elsewhere would send both back to their sources.
_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("BLOBPI_", "PIP_")) and k != "PYTHONPYCACHEPREFIX"
}


def _compiled(python: Path | str, *trees: Path) -> None:
    """Compile both tools' Python files once, before anything is timed. pip compiles what it
    installs (the image's blobpi), but uv does not (bandersnatch's venv) and an editable
    blobpi's own modules are compiled only when imported with bytecode writing on (this
    machine sets PYTHONDONTWRITEBYTECODE): without this each run compiled a tool's sources
    again, a third of the CPU of a no-op sync, unequally between the tools. Each tool's own
    interpreter compiles its files (the bytecode is per Python version)."""
    for tree in trees:
        subprocess.run(
            [str(python), "-m", "compileall", "-q", "-j", "0", str(tree)],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def _bandersnatch() -> Path:
    exe = BANDERSNATCH_VENV / "bin" / "bandersnatch"
    if not exe.exists():
        # bandersnatch 8 reads the PEP 691 root page (no XML-RPC) and needs Python 3.12+.
        python = next(
            (str(p) for p in Path("/root/.pyenv/versions").glob("3.12*/bin/python")), "3.12"
        )
        subprocess.run(
            [str(BIN / "uv"), "venv", "-q", "--python", python, str(BANDERSNATCH_VENV)], check=True
        )
        subprocess.run(
            [
                str(BIN / "uv"),
                "pip",
                "install",
                "-q",
                "--python",
                str(BANDERSNATCH_VENV / "bin" / "python"),
                "bandersnatch",
            ],
            check=True,
        )
    return exe


def _big_wheel(directory: Path, size: int) -> Path:
    """A valid wheel with one incompressible member of ``size`` bytes, streamed to disk."""
    name, version, tag = "bigpkg", "1.0", "py3-none-any"
    info = f"{name}-{version}.dist-info"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-{tag}.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    wheel = f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()
    record = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        digest = hashlib.sha256()
        with archive.open(f"{name}/payload.bin", "w", force_zip64=True) as member:
            left = size
            while left:
                chunk = os.urandom(min(left, 1 << 20))
                digest.update(chunk)
                member.write(chunk)
                left -= len(chunk)
        b64 = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        record.append(f"{name}/payload.bin,sha256={b64},{size}")
        for member_name, data in ((f"{info}/METADATA", metadata), (f"{info}/WHEEL", wheel)):
            archive.writestr(member_name, data)
            b64 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member_name},sha256={b64},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def _run(args: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{args[0]} failed ({process.returncode}):\n{output.decode()[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, usage.ru_maxrss // 1024, cpu


def _blobpi(work: Path, upstream: LocalUpstream, names: list[str], tag: str) -> list[str]:
    allowlist, config = work / f"allowlist-{tag}.txt", work / f"blobpi-{tag}.toml"
    allowlist.write_text("\n".join(names) + "\n")
    config.write_text(
        '[sync]\nplatform-tags = ["*"]\nconcurrency = 8\nmax-file-size = 0\ntimeout = 300\n'
    )
    return [
        str(BIN / "blobpi"),
        "sync",
        "--allowlist",
        str(allowlist),
        "--config",
        str(config),
        "--upstream",
        upstream.index_url,
        "--storage",
        str(work / f"blobpi-{tag}"),
    ]


def _bandersnatch_cmd(work: Path, upstream: LocalUpstream, names: list[str], tag: str) -> list[str]:
    conf = work / f"bandersnatch-{tag}.conf"
    packages = "\n".join(f"    {n}" for n in names)
    conf.write_text(
        f"[mirror]\ndirectory = {work / f'bandersnatch-{tag}'}\n"
        f"master = http://127.0.0.1:{upstream.port}\nallow-non-https = true\n"
        "json = false\nrelease-files = true\nhash-index = false\nsimple-format = ALL\n"
        "stop-on-error = true\ntimeout = 300\nglobal-timeout = 3600\nworkers = 8\n"
        "verifiers = 3\ncompare-method = hash\n\n"
        f"[plugins]\nenabled =\n    allowlist_project\n\n[allowlist]\npackages =\n{packages}\n"
    )
    return [str(_bandersnatch()), "-c", str(conf), "mirror"]


def _small_section(
    work: Path,
    upstream: LocalUpstream,
    names: list[str],
    files: int,
    repeat: int,
    key: str,
) -> dict[str, dict[str, list[float]]]:
    """Per upstream kind (without, with ETags) and tool: first-sync and no-op seconds, one
    fresh mirror per repeat. The tools alternate within a repeat, so a busy minute on the
    shared cores falls on both."""
    found: dict[str, dict[str, list[float]]] = {}
    for etags in (False, True):
        upstream.etags = etags
        label = "with ETags" if etags else "no ETags"
        for attempt in range(repeat):
            for tool, make in (("blobpi", _blobpi), ("bandersnatch", _bandersnatch_cmd)):
                tag = f"{key}-{etags}-{attempt}"
                command = make(work, upstream, names, tag)
                first, _, first_cpu = _run(command, env=_ENV)
                noop, _, noop_cpu = _run(command, env=_ENV)
                mirrored = [p for p in (work / f"{tool}-{tag}").rglob("*") if p.suffix in _DISTS]
                if len(mirrored) != files:
                    sys.exit(f"{tool} mirrored {len(mirrored)} of {files} files")
                times = found.setdefault(label, {}).setdefault(tool, [])
                times += [first, noop]
                cpu = found.setdefault(f"{label} cpu", {}).setdefault(tool, [])
                cpu += [first_cpu, noop_cpu]
                print(
                    f"{key:>8} {label:>10} {tool:>12}: first {first:6.2f}s "
                    f"(CPU {first_cpu:5.2f}s)  no-op {noop:5.2f}s (CPU {noop_cpu:5.2f}s)"
                )
    upstream.etags = False
    return found


def _spread(values: list[float]) -> str:
    """Median and range: 'median (min-max)'."""
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def _ratio(theirs: list[float], ours: list[float]) -> str:
    return f"{statistics.median(theirs) / statistics.median(ours):.2f}x"


def _table(small: dict[str, Any], noops: dict[str, Any], big: dict[str, Any]) -> list[str]:
    rows = [
        "| measure | upstream | blobpi | bandersnatch | bandersnatch / blobpi | CPU s, blobpi "
        "/ bandersnatch (user + sys) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for what, section, index in (
        (f"first sync, {small['projects']} projects", small, 0),
        (f"no-op resync, {small['projects']} projects", small, 1),
        (f"no-op resync, {noops['projects']} projects", noops, 1),
    ):
        for label, tools in section["times"].items():
            if label.endswith(" cpu"):
                continue
            ours, theirs = tools["blobpi"][index::2], tools["bandersnatch"][index::2]
            cpu = section["times"][f"{label} cpu"]
            cpu_ours, cpu_theirs = cpu["blobpi"][index::2], cpu["bandersnatch"][index::2]
            rows.append(
                f"| {what} | {label} | {_spread(ours)} | {_spread(theirs)} | "
                f"{_ratio(theirs, ours)} | {statistics.median(cpu_ours):.2f} / "
                f"{statistics.median(cpu_theirs):.2f} |"
            )
    ours, theirs = big["blobpi"], big["bandersnatch"]
    rows.append(
        f"| {big['gib']:g} GiB wheel | no ETags | {_rate(ours)} | {_rate(theirs)} | "
        f"{statistics.median(ours['mib_s']) / statistics.median(theirs['mib_s']):.2f}x "
        f"(MiB/s, blobpi / bandersnatch) | {statistics.median(ours['cpu_s']):.2f} / "
        f"{statistics.median(theirs['cpu_s']):.2f} |"
    )
    return rows


def _rate(runs: dict[str, list[int]]) -> str:
    rates, rss = runs["mib_s"], runs["rss_mib"]
    return (
        f"{statistics.median(rates):.0f} MiB/s ({min(rates)}-{max(rates)}), peak RSS {max(rss)} MiB"
    )


def _upstream_of(work: Path, upstream: LocalUpstream, names: list[str], versions: int) -> int:
    for name in names:
        for v in range(versions):
            upstream.add(build_wheel(work / "src", name, f"1.{v}", payload_bytes=50_000))
            upstream.add(build_sdist(work / "src", name, f"1.{v}"))
    return len(names) * versions * 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=40)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--noop-projects", type=int, default=100)
    parser.add_argument("--big-gib", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    exe = _bandersnatch()
    _compiled(exe.parent / "python", exe.parents[1] / "lib")
    _compiled(sys.executable, BIN.parent / "lib", *(ROOT / p for p in _PACKAGES))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, LocalUpstream.start() as upstream:
        work = Path(tmp)
        names = [f"benchproj{i}" for i in range(args.projects)]
        files = _upstream_of(work, upstream, names, args.versions)
        print(f"upstream: {args.projects} projects, {files} files (+ .metadata)")
        # Without ETags (this machine's upstream) and with them (the public index sends them);
        # bandersnatch compares the root page's serials either way.
        small = {
            "projects": args.projects,
            "times": _small_section(work, upstream, names, files, args.repeat, "small"),
        }
        # The no-op target is for 100 projects: a second upstream section of one version each.
        many = [f"noopproj{i}" for i in range(args.noop_projects)]
        many_files = _upstream_of(work, upstream, many, 1)
        noops = {
            "projects": args.noop_projects,
            "times": _small_section(work, upstream, many, many_files, args.repeat, "noop"),
        }

        size = int(args.big_gib * 1024**3)
        big_wheel = _big_wheel(work / "big", size)
        upstream.add(big_wheel)
        print(f"big file: {big_wheel.name}, {size / 1024**3:.2f} GiB")
        big: dict[str, Any] = {"gib": args.big_gib}
        for attempt in range(args.repeat):
            for tool, make in (("blobpi", _blobpi), ("bandersnatch", _bandersnatch_cmd)):
                command = make(work, upstream, ["bigpkg"], f"big{attempt}")
                seconds, rss, cpu_s = _run(command, _ENV)
                rate = size / seconds / 1024**2
                runs = big.setdefault(tool, {"mib_s": [], "rss_mib": [], "cpu_s": []})
                runs["mib_s"].append(round(rate))
                runs["rss_mib"].append(rss)
                runs["cpu_s"].append(round(cpu_s, 2))
                print(
                    f"{tool:>12}: {seconds:6.1f}s ({rate:.0f} MiB/s), peak RSS {rss} MiB, "
                    f"CPU {cpu_s:.1f}s"
                )
                for path in (work / f"{tool}-big{attempt}").rglob(big_wheel.name):
                    path.unlink()  # free the disk before the next run
    when = stamp()
    load_after = os.getloadavg()[0]
    head = (
        f"Sync benchmark {when}: blobpi sync (local directory) and bandersnatch "
        f"(allowlist_project), 8 workers each, on one local upstream; median (min-max) of "
        f"{args.repeat} fresh mirrors each, the tools alternating, both from compiled "
        f"bytecode; load average {load_before:.2f} before, {load_after:.2f} after (2 shared "
        "cores)."
    )
    lines = [head, "", *_table(small, noops, big), ""]
    print("\n".join(lines))
    record = {"small": small, "noop": noops, "big": big, "load": [load_before, load_after]}
    save("sync", when, record, "\n".join(lines))


if __name__ == "__main__":
    main()
