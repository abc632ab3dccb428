"""The rule for ``--storage`` values: URLs, directories, and mistyped URLs refused."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.storagespec import storage_problem


@pytest.mark.parametrize(
    ("spec", "found"),
    [
        ("https://acct.blob.core.windows.net/pkgs", None),
        ("http://127.0.0.1:10000/devstoreaccount1/pkgs", None),
        ("HTTPS://acct.blob.core.windows.net/pkgs", None),
        ("./data", None),
        ("data", None),
        ("/srv/blobpi/data", None),
        ("../https-mirror/data", None),
        ("./https/data", None),
        ("https", None),  # a directory named https, nothing after it
        ("C:\\data", None),
        ("C:/data", None),
        ("htps://acct.blob.core.windows.net/pkgs", "has the scheme 'htps'"),
        ("ftp://x/y", "has the scheme 'ftp'"),
        ("file:///srv/data", "has the scheme 'file'"),
        ("az://acct/pkgs", "has the scheme 'az'"),
        ("https//acct.blob.core.windows.net/pkgs", "without ':' ('https')"),
        ("http/acct/pkgs", "without ':' ('http')"),
        ("https:/acct.blob.core.windows.net/pkgs", "mistyped URL"),
        ("https:acct/pkgs", "mistyped URL"),
        ("acct.blob.core.windows.net:443/pkgs", "mistyped URL"),
    ],
)
def test_storage_problem__table(spec: str, found: str | None) -> None:
    problem = storage_problem(spec)
    if found is None:
        assert problem is None
    else:
        assert problem is not None and found in problem
        assert "https://ACCOUNT.blob.core.windows.net/CONTAINER" in problem
