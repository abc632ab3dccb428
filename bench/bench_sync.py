"""Benchmark: ``blobpi sync`` against bandersnatch (allowlist filter) on one local upstream.

In one run: build an upstream of PROJECTS x VERSIONS (a wheel and an sdist each), mirror it
with both tools (first sync, then a no-op resync), print the times and ratios; then mirror
one wheel of --big-gib GiB with both and print each process's peak RSS (``wait4``).
bandersnatch is installed into its own venv (its dependencies differ from blobpi's).

    .venv/bin/python bench/bench_sync.py [--projects 40] [--versions 3] [--big-gib 1] [--repeat 3]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.dists import build_sdist, build_wheel  # noqa: E402
from tests.support.upstream import LocalUpstream  # noqa: E402

BIN = Path(sys.executable).parent
_DISTS = {".whl", ".gz"}
BANDERSNATCH_VENV = Path(tempfile.gettempdir()) / "blobpi-bench-bandersnatch"


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


def _run(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{args[0]} failed ({process.returncode}):\n{output.decode()[-3000:]}")
    return time.perf_counter() - started, usage.ru_maxrss // 1024


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=40)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--big-gib", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOBPI_", "PIP_"))}
    _bandersnatch()
    with tempfile.TemporaryDirectory() as tmp, LocalUpstream.start() as upstream:
        work = Path(tmp)
        names = [f"benchproj{i}" for i in range(args.projects)]
        for name in names:
            for v in range(args.versions):
                upstream.add(build_wheel(work / "src", name, f"1.{v}", payload_bytes=50_000))
                upstream.add(build_sdist(work / "src", name, f"1.{v}"))
        files = args.projects * args.versions * 2
        print(f"upstream: {args.projects} projects, {files} files (+ .metadata)")
        # Without ETags (this machine's upstream) and with them (the public index sends them);
        # bandersnatch compares the root page's serials either way.
        for etags in (False, True):
            upstream.etags = etags
            label = "with ETags" if etags else "no ETags"
            results: dict[str, tuple[float, float]] = {}
            for tool, make in (("blobpi", _blobpi), ("bandersnatch", _bandersnatch_cmd)):
                firsts, noops = [], []
                for attempt in range(args.repeat):  # fresh mirrors; medians damp shared cores
                    tag = f"small-{etags}-{attempt}"
                    command = make(work, upstream, names, tag)
                    firsts.append(_run(command, env)[0])
                    noops.append(_run(command, env)[0])
                    mirrored = [
                        p for p in (work / f"{tool}-{tag}").rglob("*") if p.suffix in _DISTS
                    ]
                    if len(mirrored) != files:
                        sys.exit(f"{tool} mirrored {len(mirrored)} of {files} files")
                first, noop = statistics.median(firsts), statistics.median(noops)
                results[tool] = (first, noop)
                print(
                    f"{label:>10} {tool:>12}: first sync {first:6.2f}s   no-op resync "
                    f"{noop:6.2f}s   (median of {args.repeat})"
                )
            (b_first, b_noop), (s_first, s_noop) = results["blobpi"], results["bandersnatch"]
            print(
                f"{label:>10} ratio bandersnatch/blobpi: first sync {s_first / b_first:.2f}x, "
                f"no-op resync {s_noop / b_noop:.2f}x"
            )
        upstream.etags = False

        size = int(args.big_gib * 1024**3)
        big = _big_wheel(work / "big", size)
        upstream.add(big)
        print(f"big file: {big.name}, {size / 1024**3:.2f} GiB")
        for tool, make in (("blobpi", _blobpi), ("bandersnatch", _bandersnatch_cmd)):
            seconds, rss = _run(make(work, upstream, ["bigpkg"], "big"), env)
            rate = size / seconds / 1024**2
            print(f"{tool:>12}: {seconds:6.1f}s ({rate:.0f} MiB/s), peak RSS {rss} MiB")
            for path in (work / f"{tool}-big").rglob(big.name):
                path.unlink()  # free the disk before the next tool


if __name__ == "__main__":
    main()
