"""``blobpi lock --diff OLD NEW``: what a lock change adds, removes and upgrades, in Markdown
for a pull request's job summary, with the ``# via`` parents that brought each new pin."""

from __future__ import annotations

from collections import defaultdict

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


def diff_locks(old_text: str, new_text: str, names: tuple[str, str] = ("old", "new")) -> str:
    """A Markdown summary; "No changes" when the pins and hashes are the same.

    >>> print(diff_locks("a==1 --hash=sha256:" + "0" * 64, "a==2 --hash=sha256:" + "1" * 64))
    ### Lock changes: 0 added, 0 removed, 1 changed
    - changed `a`: 1 → 2
    """
    old, new = _versions(parse_lock(old_text, names[0])), _versions(parse_lock(new_text, names[1]))
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(n for n in set(old) & set(new) if set(old[n]) != set(new[n]))
    rehashed = sorted(
        n
        for n in set(old) & set(new)
        if n not in changed and any(old[n][v].hashes != new[n][v].hashes for v in new[n])
    )
    if not (added or removed or changed or rehashed):
        return "### Lock changes: none"
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
    return "\n".join(lines)
