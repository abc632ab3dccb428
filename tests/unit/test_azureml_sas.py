"""SAS URL signing and expiry bucketing, pure. The user delegation path is checked here by its
signed fields (its key comes from Entra in production); Azurite checks the account-key path
end to end in tests/integration/test_azureml_blob.py."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import UserDelegationKey

from blobpi.deploy.azure.sas import parse_lifetime, url_line
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.expiry import bucketed_window
from blobpi.mirror.core.model import File
from blobpi.mirror.store.signing import Signer

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SHA = "ab" * 32
PATH = "packages/aa/bb/cccc/pkg-1.0-py3-none-any.whl"


def _delegation_key() -> UserDelegationKey:
    key = UserDelegationKey()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped
    key.signed_oid = "11111111-1111-1111-1111-111111111111"
    key.signed_tid = "22222222-2222-2222-2222-222222222222"
    key.signed_start = "2026-03-01T12:00:00Z"
    key.signed_expiry = "2026-03-08T12:00:00Z"
    key.signed_service = "b"
    key.signed_version = "2025-01-05"
    key.value = "a2V5LWJ5dGVzLWZvci10ZXN0cy1vbmx5LW5vdC1hLXNlY3JldA=="
    return key


UD = Signer(
    "acct", "https://acct.blob.core.windows.net/pkgs", user_delegation_key=_delegation_key()
)


@pytest.mark.parametrize(
    "lifetime", [dt.timedelta(minutes=5), dt.timedelta(hours=8), dt.timedelta(days=7)]
)
def test_bucketed_window__same_within_a_bucket_and_valid_long_enough(
    lifetime: dt.timedelta,
) -> None:
    bucket = min(max(lifetime / 8, dt.timedelta(minutes=1)), dt.timedelta(days=1))
    start, expiry = bucketed_window(T0, lifetime)
    assert start <= T0 and expiry - start == lifetime
    for offset in (dt.timedelta(0), bucket / 2, bucket - dt.timedelta(seconds=1)):
        now = start + offset
        assert bucketed_window(now, lifetime) == (start, expiry)
        assert lifetime - bucket < expiry - now <= lifetime
    assert bucketed_window(start + bucket, lifetime)[1] == expiry + bucket


@pytest.mark.parametrize("raw", ["", "7", "0d", "8d", "1m", "2w", "-1h", "1.5h"])
def test_parse_lifetime__refuses(raw: str) -> None:
    with pytest.raises(ConfigError, match="--expires"):
        parse_lifetime(raw)


def test_signer__user_delegation_sas_fields() -> None:
    expiry = bucketed_window(T0, dt.timedelta(days=7))[1]
    url = UD.url(PATH, SHA, expiry)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{UD.container_url}/{PATH}"
    assert parts.fragment == f"sha256={SHA}"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["sp"] == "r"  # read only
    assert query["sr"] == "b"  # this one blob
    assert query["spr"] == "https"
    assert query["se"] == expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert query["skoid"] == "11111111-1111-1111-1111-111111111111"
    assert query["sktid"] == "22222222-2222-2222-2222-222222222222"
    assert (query["skt"], query["ske"]) == ("2026-03-01T12:00:00Z", "2026-03-08T12:00:00Z")
    assert query["sig"]
    assert UD.url(PATH, SHA, expiry) == url  # deterministic: same inputs, same URL
    assert UD.url(PATH, SHA, expiry + dt.timedelta(seconds=1)) != url


def test_signer__account_key_sas_has_no_delegation_fields() -> None:
    signer = Signer(
        "devstoreaccount1", "http://127.0.0.1:1/devstoreaccount1/pkgs", account_key="a2V5"
    )
    query = parse_qs(urlsplit(signer.url(PATH, SHA, T0)).query)
    assert "skoid" not in query and "spr" not in query and query["sp"] == ["r"]


def test_signer__repr_hides_keys() -> None:
    assert "a2V5" not in repr(Signer("a", "https://a.blob.core.windows.net/c", account_key="a2V5"))


def test_url_line__pep508_direct_reference_with_extras() -> None:
    file = File.stored(PATH, filename="pkg-1.0-py3-none-any.whl", hashes={"sha256": SHA})
    line = url_line("pkg", file, UD, T0, extras=("cli",))
    assert line.startswith(f"pkg[cli] @ {UD.container_url}/{PATH}?")
    assert line.endswith(f"#sha256={SHA}")
