"""The blob layout: every path in the container is built here, and nowhere else.

One function per row of the README's container table (DESIGN.md, "Blob layout"), so the
layout can be read, changed and tested in one place:

- ``packages/<aa>/<bb>/<rest>/<filename>``: a distribution (``content_path``,
  ``mirror_path``), its PEP 658 ``.metadata`` (``metadata_path``) and PEP 740
  ``.provenance`` (``provenance_path``); ``/packages/...`` requests map to ``package_path``.
- ``simple/<project>/index.v1_json|v1_html`` and ``simple/index.v1_json|v1_html``: the pages
  (``page_path``), which link files relative to themselves (``file_link``).
- ``state/``: local yanks (``yanks_path``), local project status (``status_path``),
  tombstones (``tombstones_path``), tokens (``tokens_path``), the OSV advisory database
  (``osv_archive_path``, ``osv_source_path``), and per shard the sync state
  (``sync_state_path``), the last report (``report_path``) and the lease target
  (``lease_path``).

Pure. Names that reach a path are checked first (``names.project_name``,
``names.parse_distribution_filename``), and ``check_blob_path`` is the one check of a path
that comes from outside (a request, an upstream URL): it lives here because what it checks,
the ``packages/`` prefix, plain segments and Azure's length limit, is the layout's own rule.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import NormalizedName

from blobpi.mirror.core.errors import InvalidName
from blobpi.mirror.core.names import (
    MAX_FILENAME_LENGTH,
    parse_distribution_filename,
    project_name,
)
from blobpi.mirror.core.negotiate import Format

__all__ = [
    "check_blob_path",
    "content_path",
    "file_blobs",
    "file_link",
    "file_name",
    "history_path",
    "lease_path",
    "linked_path",
    "metadata_path",
    "metadata_url",
    "mirror_path",
    "osv_archive_path",
    "osv_source_path",
    "package_path",
    "page_of",
    "page_path",
    "provenance_path",
    "report_path",
    "shard_suffix",
    "status_dir",
    "status_path",
    "sync_state_path",
    "tokens_path",
    "tombstones_path",
    "yanks_path",
]

_PACKAGES = "packages/"
_METADATA = ".metadata"  # PEP 658: the file's URL with this appended
_PROVENANCE = ".provenance"  # PEP 740 names no place; we keep it beside the file
_PAGE_BLOB = {Format.JSON: "index.v1_json", Format.HTML: "index.v1_html"}
_PAGE_TO_ROOT = "../../"  # pages live at simple/<project>/, two levels below the root
_MAX_BLOB_PATH = 1024  # Azure's limit for a blob name
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9._+!-]+$")
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
_SHARD_RE = re.compile(r"^(-[1-9][0-9]*-of-[1-9][0-9]*)?$")
# The public index's file URLs: /packages/<2 hex>/<2 hex>/<60 hex>/<filename>.
_UPSTREAM_PATH_RE = re.compile(r"^/packages/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/([^/]+)$")


def check_blob_path(path: str) -> str:
    """Return ``path`` if it is a safe blob path under ``packages/``, else raise.

    Only plain segments are allowed: no empty, ``.`` or ``..`` segment, no backslash,
    NUL or other control character, nothing percent-encoded left over.

    >>> check_blob_path("packages/ab/cd/x-1.0.tar.gz")
    'packages/ab/cd/x-1.0.tar.gz'
    """
    segments = path.split("/")
    if (
        len(path) > _MAX_BLOB_PATH
        or len(segments) < 2
        or segments[0] != _PACKAGES.rstrip("/")
        or any(
            s in ("", ".", "..") or len(s) > MAX_FILENAME_LENGTH or not _SEGMENT_RE.match(s)
            for s in segments
        )
    ):
        raise InvalidName(f"{path[:120]!r} is not a valid package path")
    return path


def package_path(url_path: str) -> str:
    """The blob a ``/packages/<url_path>`` request names, checked.

    >>> package_path("ab/cd/x-1.0.tar.gz.metadata")
    'packages/ab/cd/x-1.0.tar.gz.metadata'
    """
    return check_blob_path(_PACKAGES + url_path)


def content_path(digest_hex: str, filename: str) -> str:
    """The blob path of a file by a digest of its content, split 2/2/rest as the public
    index splits its blake2b_256 digests, so that paths never collide and never change.

    >>> content_path("ab" * 32, "x-1.0.tar.gz")
    'packages/ab/ab/abababababababababababababababababababababababababababababab/x-1.0.tar.gz'
    """
    if not _DIGEST_RE.match(digest_hex):
        raise InvalidName(f"{digest_hex!r} is not a 64-digit hex digest")
    parse_distribution_filename(filename)
    return f"{_PACKAGES}{digest_hex[:2]}/{digest_hex[2:4]}/{digest_hex[4:]}/{filename}"


def mirror_path(url: str, filename: str, sha256: str) -> str:
    """Where a mirrored file goes: the upstream URL's path when it has the public index's
    shape, so that locks that pin upstream URLs can be rewritten by swapping the host; else
    a content path from its sha256.

    >>> url = "https://h/packages/ab/cd/" + "e" * 60 + "/x-1.tar.gz"
    >>> mirror_path(url, "x-1.tar.gz", "0" * 64)
    'packages/ab/cd/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee/x-1.tar.gz'
    """
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:  # e.g. a broken IPv6 host: that file fails, not the whole page
        raise InvalidName(f"{filename!r}: its URL is malformed: not mirrored") from None
    match = _UPSTREAM_PATH_RE.match(path)
    if match and match[1] == filename:
        return check_blob_path(path.lstrip("/"))
    return check_blob_path(content_path(sha256, filename))


def metadata_path(file_path: str) -> str:
    """The PEP 658 core metadata beside a file.

    >>> metadata_path("packages/ab/cd/x-1.0-py3-none-any.whl")
    'packages/ab/cd/x-1.0-py3-none-any.whl.metadata'
    """
    return check_blob_path(file_path) + _METADATA


def metadata_url(file_url: str) -> str:
    """PEP 658: where an index serves a file's core metadata (the upstream's, or ours).

    >>> metadata_url("https://h/packages/x-1.0-py3-none-any.whl")
    'https://h/packages/x-1.0-py3-none-any.whl.metadata'
    """
    return file_url + _METADATA


def provenance_path(file_path: str) -> str:
    """The PEP 740 provenance beside a file.

    >>> provenance_path("packages/ab/cd/x-1.0-py3-none-any.whl")
    'packages/ab/cd/x-1.0-py3-none-any.whl.provenance'
    """
    return check_blob_path(file_path) + _PROVENANCE


def file_blobs(file_path: str) -> tuple[str, str, str]:
    """Every blob a file may have: itself, its ``.metadata`` and its ``.provenance``.

    >>> file_blobs("packages/ab/cd/x-1.0.tar.gz")[1:]
    ('packages/ab/cd/x-1.0.tar.gz.metadata', 'packages/ab/cd/x-1.0.tar.gz.provenance')
    """
    return file_path, metadata_path(file_path), provenance_path(file_path)


def file_name(path: str) -> str:
    """The distribution filename a package path is about (a sidecar names its file).

    >>> file_name("/packages/ab/cd/ef/Foo_Bar-1.0-py3-none-any.whl.metadata")
    'Foo_Bar-1.0-py3-none-any.whl'
    """
    return path.rsplit("/", 1)[-1].removesuffix(_METADATA).removesuffix(_PROVENANCE)


def file_link(blob_path: str) -> str:
    """A page's link to a blob: relative, so one page works behind any host and prefix.

    >>> file_link("packages/ab/cd/x-1.0+local.tar.gz")
    '../../packages/ab/cd/x-1.0%2Blocal.tar.gz'
    """
    return _PAGE_TO_ROOT + quote(blob_path)


def linked_path(url: str) -> str | None:
    """The blob a ``file_link`` names; None for any other URL (upstream, absolute).

    >>> linked_path("../../packages/ab/cd/x-1.0%2Blocal.tar.gz")
    'packages/ab/cd/x-1.0+local.tar.gz'
    """
    if url.startswith(_PAGE_TO_ROOT + _PACKAGES):
        return unquote(url.removeprefix(_PAGE_TO_ROOT))
    return None


def _project(project: str) -> NormalizedName:
    if project_name(project) != project:
        raise InvalidName(f"{project[:80]!r} is not a normalized project name (PEP 503)")
    return NormalizedName(project)


def page_path(project: NormalizedName | None, fmt: Format) -> str:
    """A project's page, or with no project the root page, in one format (both HTML
    formats are the same blob).

    >>> page_path("demo", Format.HTML), page_path(None, Format.JSON)
    ('simple/demo/index.v1_html', 'simple/index.v1_json')
    """
    blob = _PAGE_BLOB[Format.JSON if fmt is Format.JSON else Format.HTML]
    return f"simple/{_project(project)}/{blob}" if project is not None else f"simple/{blob}"


def page_of(path: str) -> tuple[NormalizedName | None, Format] | None:
    """Which page a blob path is (``page_path`` backwards); None for any other blob,
    including a page under a name that is not normalized (nothing serves it).

    >>> page_of("simple/demo/index.v1_html") == ("demo", Format.HTML)
    True
    >>> page_of("simple/index.v1_json") == (None, Format.JSON)
    True
    >>> page_of("simple/Demo/index.v1_json"), page_of("simple/demo/other")
    (None, None)
    """
    head, _, blob = path.removeprefix("simple/").rpartition("/")
    fmt = next((f for f, b in _PAGE_BLOB.items() if b == blob), None)
    if not path.startswith("simple/") or fmt is None or "/" in head:
        return None
    if not head:
        return None, fmt
    return (NormalizedName(head), fmt) if project_name(head) == head else None


def yanks_path(project: NormalizedName) -> str:
    """The project's local yank record (filename -> reason).

    >>> yanks_path("demo")
    'state/yanks/demo.json'
    """
    return f"state/yanks/{_project(project)}.json"


def status_dir() -> str:
    """Where the local status records are: the sync lists it once a run.

    >>> status_dir()
    'state/status/'
    """
    return "state/status/"


def status_path(project: NormalizedName) -> str:
    """The project's local PEP 792 status (status, reason), kept across syncs.

    >>> status_path("demo")
    'state/status/demo.json'
    """
    return f"{status_dir()}{_project(project)}.json"


def osv_archive_path() -> str:
    """The OSV database for the PyPI ecosystem, as the OSV export's ``all.zip``.

    >>> osv_archive_path()
    'state/osv/all.zip'
    """
    return "state/osv/all.zip"


def osv_source_path() -> str:
    """Where the archive came from and its upstream ETag, for conditional refreshes.

    >>> osv_source_path()
    'state/osv/source.json'
    """
    return "state/osv/source.json"


def tombstones_path(project: NormalizedName) -> str:
    """The project's deleted filenames (filename -> sha256), never to be reused.

    >>> tombstones_path("demo")
    'state/deleted/demo.json'
    """
    return f"state/deleted/{_project(project)}.json"


def tokens_path() -> str:
    """The hashed tokens.

    >>> tokens_path()
    'state/tokens.json'
    """
    return "state/tokens.json"


def shard_suffix(index: int, count: int) -> str:
    """What names one shard's state, report and lease: nothing for a single shard.

    >>> shard_suffix(1, 1), shard_suffix(2, 3)
    ('', '-2-of-3')
    """
    if not 1 <= index <= count:
        raise InvalidName(f"shard {index}/{count} is not K/N with 1 <= K <= N")
    return "" if count == 1 else f"-{index}-of-{count}"


def _shard(suffix: str) -> str:
    if not _SHARD_RE.match(suffix):
        raise InvalidName(f"{suffix[:40]!r} is not a shard suffix: use shard_suffix()")
    return suffix


def sync_state_path(shard: str = "") -> str:
    """A shard's sync state: per-project ETag, serial and inputs digest; pending deletes.

    >>> sync_state_path(shard_suffix(1, 2))
    'state/sync-1-of-2.json'
    """
    return f"state/sync{_shard(shard)}.json"


def report_path(shard: str = "") -> str:
    """A shard's last sync report.

    >>> report_path()
    'state/report.json'
    """
    return f"state/report{_shard(shard)}.json"


def lease_path(shard: str = "") -> str:
    """The lease target of one shard: one writer at a time.

    >>> lease_path("-1-of-2")
    'state/sync-1-of-2.lock'
    """
    return f"state/sync{_shard(shard)}.lock"


def history_path() -> str:
    """The recent sync runs of every shard, for the status page and ``/metrics``.

    >>> history_path()
    'state/history.json'
    """
    return "state/history.json"
