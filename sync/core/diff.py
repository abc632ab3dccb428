"""``blobpi lock --diff OLD NEW``: what a lock change adds, removes and upgrades, in Markdown
for a pull request's job summary, with the ``# via`` parents that brought each new pin, and,
given the curation gate, the advisories the change adds and removes (id, severity, fixed
versions, and the gate's verdict under the new lock's waivers)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from blobpi.sync.core.gate import Finding, Gate, parse_waivers
from blobpi.sync.core.lockfile import Pin, parse_lock

__all__ = ["diff_locks"]


def _versions(pins: list[Pin]) -> dict[str, dict[str, Pin]]:
    out: dict[str, dict[str, Pin]] = defaultdict(dict)
    for pin in pins:
        out[pin.name][pin.version] = pin
    return out


def _via(pin: Pin) -> str:
    parents = sorted(v.removeprefix("-r ") for v in pin.via)
    return f" (via {', '.join(parents)})" if parents else ""


def _advisories(old: list[Pin], new: list[Pin], gate: Gate) -> list[str]:
    def found(pins: list[Pin]) -> dict[tuple[str, str, str], Finding]:
        return {
            (f.name, f.version, f.advisory.id): f
            for f in gate.audit((p.name, p.version) for p in pins)
        }

    before, after = found(old), found(new)
    added = [after[k] for k in sorted(set(after) - set(before))]
    removed = [before[k] for k in sorted(set(before) - set(after))]
    blocking = [f for f in after.values() if f.blocks]
    lines = [
        f"### Advisories: {len(added)} added, {len(removed)} removed; {len(blocking)} blocking "
        f"in the new lock (block-severity {gate.block_severity})"
    ]
    lines += [f"- added: {f.describe()}" for f in added]
    lines += [f"- removed: {f.describe()}" for f in removed]
    lines += [
        f"- **blocking** `{f.name}=={f.version}` ({f.advisory.id}): {f.fix()}" for f in blocking
    ]
    return lines


def diff_locks(
    old_text: str,
    new_text: str,
    names: tuple[str, str] = ("old", "new"),
    gate: Gate | None = None,
) -> str:
    """A Markdown summary; "No changes" when the pins and hashes are the same.

    >>> print(diff_locks("a==1 --hash=sha256:" + "0" * 64, "a==2 --hash=sha256:" + "1" * 64))
    ### Lock changes: 0 added, 0 removed, 1 changed
    - changed `a`: 1 → 2
    """
    old_pins, new_pins = parse_lock(old_text, names[0]), parse_lock(new_text, names[1])
    review: list[str] = []
    if gate is not None:  # judged under the waivers the new lock carries
        waivers = tuple(parse_waivers(new_text, names[1]))
        review = ["", *_advisories(old_pins, new_pins, dataclasses.replace(gate, waivers=waivers))]
    old, new = _versions(old_pins), _versions(new_pins)
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(n for n in set(old) & set(new) if set(old[n]) != set(new[n]))
    rehashed = sorted(
        n
        for n in set(old) & set(new)
        if n not in changed and any(old[n][v].hashes != new[n][v].hashes for v in new[n])
    )
    if not (added or removed or changed or rehashed):
        return "\n".join(["### Lock changes: none", *review])
    lines = [
        f"### Lock changes: {len(added)} added, {len(removed)} removed, {len(changed)} changed"
    ]
    for name in added:
        for version, pin in sorted(new[name].items()):
            lines.append(f"- added `{name}=={version}`{_via(pin)}")
    for name in removed:
        lines.append(f"- removed `{name}` ({', '.join(sorted(old[name]))})")
    for name in changed:
        before, after = ", ".join(sorted(old[name])), ", ".join(sorted(new[name]))
        lines.append(f"- changed `{name}`: {before} → {after}")
    for name in rehashed:
        lines.append(f"- new hashes for `{name}` (same version: check why the files changed)")
    return "\n".join([*lines, *review])
