"""``blobpi lock``: resolve ``allowlist.in`` to one hashed lock for every target.

Each target (a CPython version x a platform) is resolved by ``uv pip compile --python-version
X --python-platform P --generate-hashes`` (pip-compile resolves for the interpreter it runs
under and ignores a target passed through ``--pip-args``). The per-target locks are merged
into one pip-tools format file (PEP 508 lines, pip's ``--hash`` options): a pin that only some
targets need carries an environment marker (PEP 508) naming them. Projects that exist only as
sdists need their build backends (PEP 517/518 ``build-system.requires``) on the mirror too,
since pip builds them in an isolated environment from the same index; those are resolved per
target under the runtime pins as constraints and added to the lock. With an advisory gate,
releases it blocks are avoided where the allow-list's ranges allow another. The sync's
cool-down (``min-age-hours``) holds for the lock too: nothing uploaded more recently is chosen,
except for lines marked ``# blobpi: urgent: why``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import os
import subprocess
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio

from blobpi.mirror.core.errors import ConfigError, MirrorError
from blobpi.mirror.core.origins import Origins
from blobpi.mirror.core.settings import Settings, SyncConfig
from blobpi.mirror.store.protocol import redact_url
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.core.gate import Gate, parse_waivers
from blobpi.sync.core.lockfile import (
    Pin,
    input_digest,
    lock_header,
    marker_for,
    parse_lock,
    render_lock,
)
from blobpi.sync.core.pylock import render_pylock
from blobpi.sync.io.lockurls import locked_packages
from blobpi.sync.io.network import client_for, uv_network_args
from blobpi.sync.io.upstream import Upstream

__all__ = ["lock"]

_UV_SOURCES = ("UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_FIND_LINKS", "UV_CONFIG")
# What pip installs to build a project with no [build-system]: setuptools alone for today's pip,
# setuptools and wheel for the pip that python3.11 -m venv bundles (23.2.1), so both are locked.
_LEGACY_BUILD_REQUIRES = ["setuptools>=40.8.0", "wheel"]


def _compile(
    source: Path,
    python: str,
    platform: str,
    upstream: str,
    environ: Mapping[str, str],
    constraints: Path | None = None,
    network: SyncConfig | None = None,
    cooldown: Sequence[str] = (),
) -> list[Pin]:
    from uv import find_uv_bin

    args = [
        find_uv_bin(),
        "pip",
        "compile",
        source.name,
        "--python-version",
        python,
        "--python-platform",
        platform,
        "--generate-hashes",
        "--no-header",
        "--quiet",
        "--index-url",
        upstream,
        "--no-config",
    ]
    if constraints:
        args += ["--constraint", str(constraints)]
    args += cooldown
    # Only the upstream may be consulted: no index, link or config from the environment.
    env = {k: v for k, v in environ.items() if not k.startswith(_UV_SOURCES)}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if network is not None:  # the same proxies and trust as the sync's own client
        network_args, network_env = uv_network_args(network)
        args += network_args
        env.update(network_env)
    result = subprocess.run(
        args, cwd=source.parent, env=env, capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        reason = " ".join(result.stderr.replace(upstream, redact_url(upstream)).split())[-600:]
        raise ConfigError(
            f"resolving {source.name} for CPython {python} on {platform} failed: {reason}"
        )
    return [
        dataclasses.replace(p, targets=frozenset({(python, platform)}))
        for p in parse_lock(result.stdout)
    ]


async def _build_requires(
    pins: Sequence[Pin], config: SyncConfig, cache: dict[tuple[str, str], list[str] | None]
) -> dict[str, list[str]]:
    """``build-system.requires`` of every pinned project that has no wheel among its hashes
    (``cache`` carries what earlier targets found, so each pin is looked at once)."""
    found: dict[str, list[str]] = {}
    origins = Origins.of(config.upstream, config.upstream_origins)
    async with (
        client_for(config) as client,
        Upstream(config.upstream, client=client, origins=origins) as upstream,
    ):
        for pin in pins:
            key = (pin.name, pin.version)
            if key not in cache:
                cache[key] = await _sdist_only_requires(upstream, pin)
            requires = cache[key]
            if requires is not None:
                found[f"{pin.name}=={pin.version}"] = requires
    return found


async def _sdist_only_requires(upstream: Upstream, pin: Pin) -> list[str] | None:
    page = await upstream.project(pin.name)
    assert page is not None  # no ETag was sent, so no 304
    files = [f for f in page.files if f.sha256 in pin.hashes]
    if not files or any(f.filename.endswith(".whl") for f in files):
        return None
    sdist = files[0]
    data = b"".join(await _read(upstream, sdist.url))
    if hashlib.sha256(data).hexdigest() != sdist.sha256:
        raise MirrorError(
            f"{sdist.filename!r} does not match its locked sha256: check the upstream, relock"
        )
    return _requires_of(sdist.filename, data)


async def _read(upstream: Upstream, url: str) -> list[bytes]:
    async with upstream.stream(url) as chunks:
        return [c async for c in chunks]


def _requires_of(filename: str, data: bytes) -> list[str]:
    text = None
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = [n for n in z.namelist() if n.count("/") == 1 and n.endswith("/pyproject.toml")]
            text = z.read(names[0]).decode() if names else None
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
            for m in t:
                if m.name.count("/") == 1 and m.name.endswith("/pyproject.toml") and m.isfile():
                    extracted = t.extractfile(m)
                    text = extracted.read().decode() if extracted else None
                    break
    if text is None:
        return list(_LEGACY_BUILD_REQUIRES)
    system = tomllib.loads(text).get("build-system", {})
    return list(system.get("requires", _LEGACY_BUILD_REQUIRES))


def _cooldown(source: Path, settings: Settings, now: dt.datetime) -> list[str]:
    """uv's options for ``min-age-hours``: nothing newer than the cool-down, except for lines
    marked ``# blobpi: urgent: why`` (a reviewed break-glass for a security release)."""
    hours = settings.sync.filters.min_age_hours
    if not hours:
        return []
    cutoff = (now - dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    urgent = sorted({e.name for e in parse_allowlist(source.read_text()) if e.urgent})
    later = (now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ["--exclude-newer", cutoff] + [
        arg for name in urgent for arg in ("--exclude-newer-package", f"{name}={later}")
    ]


def _resolve(source: Path, settings: Settings, avoid: Sequence[str], tmp: str) -> list[Pin]:
    """Every target's closure, merged, with build backends; ``avoid`` are ``name!=version``
    constraints (releases the curation gate blocks)."""
    upstream, environ, targets_of = settings.sync.upstream, settings.environ, settings.lock
    cooldown = _cooldown(source, settings, dt.datetime.now(dt.UTC))
    targets = [(v, p) for v in targets_of.python_versions for p in targets_of.platforms]
    merged: dict[tuple[str, str], Pin] = {}
    seen: dict[tuple[str, str], list[str] | None] = {}
    avoided = Path(tmp, "avoid.txt") if avoid else None
    if avoided is not None:
        avoided.write_text("".join(f"{line}\n" for line in avoid))
    for python, platform in targets:
        runtime = _compile(
            source.absolute(), python, platform, upstream, environ, avoided, settings.sync,
            cooldown,
        )  # fmt: skip
        backends = anyio.run(_build_requires, runtime, settings.sync, seen)
        pins = list(runtime)
        if backends:
            build_in = Path(tmp, "build.in")
            build_in.write_text("\n".join(r for rs in backends.values() for r in rs) + "\n")
            constraints = Path(tmp, "runtime.txt")
            constraints.write_text(
                "".join(f"{p.name}=={p.version}\n" for p in runtime)
                + "".join(f"{line}\n" for line in avoid)
            )
            via = frozenset(f"build backend of {k}" for k in backends)
            pins += [
                dataclasses.replace(p, via=via)
                for p in _compile(
                    build_in,
                    python,
                    platform,
                    upstream,
                    environ,
                    constraints,
                    settings.sync,
                    cooldown,
                )  # fmt: skip
            ]
        for pin in pins:
            key = (pin.name, pin.version)
            old = merged.get(key)
            merged[key] = (
                pin
                if old is None
                else dataclasses.replace(
                    old,
                    hashes=old.hashes | pin.hashes,
                    via=old.via | pin.via,
                    targets=old.targets | pin.targets,
                )
            )
    return [
        dataclasses.replace(
            p,
            marker=marker_for(p.targets, targets),
            via=frozenset(v.replace("build.in", "build backends") for v in p.via),
        )
        for p in merged.values()
    ]


_MAX_ROUNDS = 5  # each round excludes what the last one chose that the gate blocks


def _avoiding(
    source: Path, settings: Settings, gate: Gate | None, tmp: str, notes: list[str]
) -> list[Pin]:
    """Resolve, then again without the blocked releases while the ranges allow it."""
    avoid: list[str] = []
    pins = _resolve(source, settings, avoid, tmp)
    for _ in range(_MAX_ROUNDS if gate is not None else 0):
        assert gate is not None
        blocked = {(p.name, p.version): gate.blocking(p.name, p.version) for p in pins}
        blocked = {k: v for k, v in blocked.items() if v}
        if not blocked:
            break
        tried = [*avoid, *(f"{n}!={v}" for n, v in sorted(blocked))]
        try:
            better = _resolve(source, settings, tried, tmp)
        except ConfigError:
            break  # the ranges allow nothing else: the lock keeps them, audit will say so
        chosen = {p.name: p.version for p in better}
        for (name, version), findings in sorted(blocked.items()):
            ids = ", ".join(f.advisory.id for f in findings)
            now = chosen.get(name)
            notes.append(
                f"chose {name}=={now} over {version} ({ids})"
                if now
                else f"dropped {name}=={version} ({ids}): nothing needs it without it"
            )
        avoid, pins = tried, better
    if gate is not None:
        for pin in pins:
            for finding in gate.blocking(pin.name, pin.version):
                notes.append(
                    f"kept {pin.name}=={pin.version}: the allow-list's ranges allow no release "
                    f"without {finding.advisory.id}; {finding.fix()}"
                )
    return pins


def lock(
    source: Path,
    output: Path,
    settings: Settings,
    *,
    index_url: str | None = None,
    gate: Gate | None = None,
    notes: list[str] | None = None,
) -> list[Pin]:
    """Resolve ``source`` for every target, add build backends, write ``output``: the
    pip-tools format, or with ``index_url`` (the mirror's) a PEP 751 ``pylock.toml`` whose
    URLs are the mirror's. With a ``gate``, releases it blocks are avoided where the ranges
    allow (``notes`` says what was chosen); the allow-list's waiver lines are carried into
    the lock for the sync."""
    targets_of = settings.lock
    text = source.read_text()
    parse_allowlist(text, str(source))  # fail early, with a line number, on a bad line
    waivers = parse_waivers(text, str(source))
    with tempfile.TemporaryDirectory() as tmp:
        final = _avoiding(source, settings, gate, tmp, notes if notes is not None else [])
    digest = input_digest(text, targets_of)
    carried = [f"blobpi: waive {w.advisory} until {w.until}: {w.reason}" for w in waivers]
    if index_url is None:
        rendered = render_lock(final, targets_of, digest, source.name, carried)
    else:
        packages = anyio.run(locked_packages, final, settings.sync, index_url)
        command = f"blobpi lock {source.name} --format pylock --index-url {index_url}"
        header = lock_header(
            targets_of, digest, source.name, f"{command} -o {output.name}", carried
        )
        rendered = render_pylock(packages, header=header)
    tmp_out = output.with_name(f".{output.name}.{os.getpid()}")
    tmp_out.write_text(rendered)
    os.replace(tmp_out, output)
    return final
