"""``blobpi serve`` and ``blobpi upload``: the index's own subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import anyio

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.ops.publish import Batch
from blobpi.mirror.store.protocol import open_store

__all__ = ["configure_parser"]


def add_storage_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        help="a directory, or a container URL https://ACCOUNT.blob.core.windows.net/CONTAINER "
        "(default: $BLOBPI_STORAGE, else ./data)",
    )


def configure_parser(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="serve the index over HTTP")
    add_storage_argument(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument(
        "--server",
        dest="http_server",
        choices=("uvicorn", "granian"),
        help="the HTTP server under the app (default uvicorn; granian uses less CPU a request)",
    )
    serve.add_argument(
        "--workers", type=int, help="server processes, granian only (default 1; about one a core)"
    )
    serve.add_argument(
        "--downloads",
        choices=("stream", "redirect"),
        help="stream files through the server (default), or redirect to a short-lived read "
        "SAS on the blob (a container store only)",
    )
    serve.set_defaults(handler=_serve)

    upload = subparsers.add_parser("upload", help="add private wheels or sdists to the index")
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add_storage_argument(upload)
    upload.set_defaults(handler=_upload)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from blobpi.mirror.cli.serving import serve

    if not settings.storage.startswith(("http://", "https://")):
        if Path(settings.storage).exists() and not Path(settings.storage).is_dir():
            raise ConfigError(
                f"the storage {settings.storage!r} is a file, not a directory: give --storage "
                "the index's directory (or a container URL)"
            )
        if not Path(settings.storage).is_dir():
            raise ConfigError(
                f"the storage directory {settings.storage!r} does not exist: check --storage, "
                "or fill it first with 'blobpi upload' or 'blobpi sync'"
            )
    anyio.run(_check_downloads, settings)  # here: granian builds the app in its workers
    serve(settings)
    return 0


async def _check_downloads(settings: Settings) -> None:
    from blobpi.mirror.server.redirects import check_downloads

    async with open_store(settings.storage, settings.storage_connection_string) as store:
        check_downloads(settings, store)


def _upload(args: argparse.Namespace, settings: Settings) -> int:
    for path in args.files:
        if not path.is_file():
            raise ConfigError(f"{str(path)!r} is not a file: give the path of a wheel or sdist")

    async def _run() -> None:
        async with open_store(settings.storage, settings.storage_connection_string) as store:
            await store.ensure()
            batch = Batch(
                store,
                max_bytes=settings.server.max_upload_bytes,
                shared_names=settings.shared_names,
            )
            new = 0
            try:
                for path in args.files:
                    with path.open("rb") as f:
                        result = await batch.add(path.name, f)
                    new += result.created
                    verb = "uploaded" if result.created else "already present, unchanged:"
                    print(f"{verb} {path.name} (sha256 {result.file.sha256})")
            finally:  # each page once, with every file stored before any refusal
                await batch.commit()
            present = len(args.files) - new
            print(
                f"published {new} new file(s)" + (f", {present} already present" if present else "")
            )

    anyio.run(_run)
    return 0
