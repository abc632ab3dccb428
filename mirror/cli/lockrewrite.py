"""``blobpi lock rewrite LOCK --index-url URL``: a ``pylock.toml`` or hashed requirements
file pointed from the upstream's URLs to the mirror's, refused whole if the mirror lacks any
file it names with the same hash (``blobpi.sync.io.lockurls``)."""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path

import anyio

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.settings import Settings
from blobpi.sync.io.lockurls import rewrite_lock

__all__ = ["rewrite"]


def rewrite(args: argparse.Namespace, settings: Settings) -> int:
    if args.lock_file is None or not args.index_url:
        raise ConfigError(
            "usage: blobpi lock rewrite LOCK --index-url https://HOST/simple/ [-o OUT]"
        )
    path = Path(args.lock_file)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(
            f"cannot read {str(path)!r} ({e.strerror}): give a pylock.toml or hashed lock"
        ) from None
    run = functools.partial(rewrite_lock, text, path.name, args.index_url, settings.sync)
    rewritten = anyio.run(run)
    output: Path = args.output or path
    # Written whole or not at all: a reader never sees half a lock.
    partial = output.with_name(f".{output.name}.{os.getpid()}")
    partial.write_text(rewritten)
    os.replace(partial, output)
    print(f"wrote {output}: every file it names is in the mirror with the same sha256")
    return 0
