"""The redirect's URL cache (``server/redirects.py``): one signed URL per blob and expiry
bucket, reused until the bucket ends, and a client's cache never outliving the SAS. The
store is a real ``AzureStore`` with an account key, which signs without a network call."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from blobpi.mirror.core.expiry import bucket_of
from blobpi.mirror.server.redirects import ReadUrls
from blobpi.mirror.store.protocol import open_store
from tests.support.processes import AZURITE_ACCOUNT, AZURITE_KEY

pytestmark = pytest.mark.anyio
KEY = f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY}"
CONTAINER = f"http://127.0.0.1:9/{AZURITE_ACCOUNT}/pkgs"
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LIFETIME = dt.timedelta(minutes=16)  # buckets of 2 minutes
A, B = "packages/aa/bb/cc/a-1.0-py3-none-any.whl", "packages/aa/bb/cc/b-1.0.tar.gz"


async def test_read_urls__one_url_per_blob_and_bucket_never_outliving_the_sas() -> None:
    now = [T0]
    async with open_store(CONTAINER, KEY) as store:
        urls = ReadUrls(store, KEY, LIFETIME, clock=lambda: now[0])
        first = await urls.url(A)
        assert first is not None
        url, max_age = first
        assert url.startswith(f"{CONTAINER}/{A}?")
        expiry = dt.datetime.strptime(
            parse_qs(urlsplit(url).query)["se"][0], "%Y-%m-%dT%H:%M:%SZ"
        ).replace(tzinfo=dt.UTC)
        assert expiry == T0 + LIFETIME
        assert max_age < (expiry - now[0]).total_seconds()
        now[0] = T0 + bucket_of(LIFETIME) - dt.timedelta(seconds=1)  # the bucket's last second
        later = await urls.url(A)
        assert later is not None and later[0] is url  # the very string: no signing again
        assert 0 < later[1] < max_age and later[1] < (expiry - now[0]).total_seconds()
        other = await urls.url(B)
        assert other is not None and other[0] != url and f"/{B}?" in other[0]
        now[0] = T0 + bucket_of(LIFETIME)  # the next bucket: a new expiry, a new URL
        renewed = await urls.url(A)
        assert renewed is not None and renewed[0] != url
        assert f"se={(expiry + bucket_of(LIFETIME)):%Y-%m-%dT%H}" in renewed[0]


async def test_read_urls__none_when_the_key_cannot_sign_for_the_store() -> None:
    wrong = f"AccountName=other;AccountKey={AZURITE_KEY}"
    async with open_store(CONTAINER, KEY) as store:
        urls = ReadUrls(store, wrong, LIFETIME, clock=lambda: T0)
        assert await urls.url(A) is None
