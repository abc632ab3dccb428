"""The hosts an upstream serves its files from, for the operator to review and list.

The sync fetches only from the upstream's own origin and the origins listed on purpose in
``BLOBPI_UPSTREAM_ORIGINS`` (issue 10: a hostile page must not point it at an internal
service). Many indexes serve files from a host of their own; this asks the configured
upstream for one project's page and prints the other origins its file links name, once, so
that an operator (and ``make run``, for the example allow-list) can list them::

    python -m blobpi.sync.io.discover PROJECT
"""

from __future__ import annotations

import sys
from urllib.parse import urljoin

import anyio

from blobpi.mirror.core.errors import MirrorError
from blobpi.mirror.core.origins import origin_of
from blobpi.mirror.settings import load_settings, with_upstream
from blobpi.sync.io.network import client_for
from blobpi.sync.io.upstream import Upstream

__all__ = ["file_origins", "main"]


async def file_origins(upstream: Upstream, project: str) -> list[str]:
    """Origins other than the upstream's own that ``project``'s page links files on."""
    found = await upstream.project(project)
    page = f"{upstream.base_url}{project}/"
    own = origin_of(upstream.base_url)
    urls = (urljoin(page, f.url) for f in (found.files if found else ()))
    return sorted({origin_of(url) for url in urls} - {own})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m blobpi.sync.io.discover PROJECT", file=sys.stderr)
        return 2
    config = with_upstream(load_settings()).sync

    async def _run() -> list[str]:
        async with Upstream(
            config.upstream, timeout=config.timeout, retries=1, client=client_for(config)
        ) as upstream:
            return await file_origins(upstream, args[0])

    try:
        print(" ".join(anyio.run(_run)))
    except MirrorError as e:
        print(f"blobpi: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
