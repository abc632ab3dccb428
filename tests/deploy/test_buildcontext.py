"""The Azure ML build context's Dockerfile, in both of its modes, is hadolint clean and
plain Dockerfile syntax (a workspace's image build need not run BuildKit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from blobpi.deploy.core.buildcontext import DEFAULT_IMAGE, build_context
from tests.deploy.conftest import tool
from tests.deploy.dockerfile import buildkit_only
from tests.support.processes import run

HASHED = f"attrs==23.2.0 --hash=sha256:{'a' * 64}"
URL = (
    f"attrs @ https://acct.blob.core.windows.net/c/attrs-23.2.0-py3-none-any.whl#sha256={'a' * 64}"
)


@pytest.mark.parametrize(
    ("line", "index_url"),
    [(HASHED, "https://pkgs.example.org/simple/"), (URL, None)],
    ids=["index-url", "blob-urls"],
)
def test_build_context__dockerfile_is_hadolint_clean(
    tmp_path: Path, line: str, index_url: str | None
) -> None:
    files = build_context([line], index_url=index_url, image=DEFAULT_IMAGE, python="3.11")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(files["Dockerfile"])
    result = run([str(tool("hadolint")), "--no-color", str(dockerfile)], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert buildkit_only(files["Dockerfile"]) == []
