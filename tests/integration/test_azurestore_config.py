"""How ``--storage URL`` and the credentials combine: the URL always names the account."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.store.azureblob import AzureStore
from tests.support.processes import AZURITE_ACCOUNT, AZURITE_KEY, Azurite

pytestmark = pytest.mark.anyio


async def test_azurestore__url_wins_over_the_connection_strings_endpoint(
    azurite: Azurite,
) -> None:
    # A connection string whose endpoint is elsewhere: only its key may be used.
    elsewhere = azurite.connection_string.replace(str(azurite.port), "1")
    store = AzureStore.from_url(azurite.new_container_url(), elsewhere)
    try:
        await store.ensure()
        await store.put("x", b"here")
        blob = await store.get("x")
        assert blob is not None and blob.data == b"here"
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "environ", "match"),
    [
        (
            "http://127.0.0.1:10000/devstoreaccount1/pkgs",
            {},
            "plain http, which only Azurite speaks",
        ),
        (
            "https://other.blob.core.windows.net/pkgs",
            {
                "AZURE_STORAGE_CONNECTION_STRING": (
                    f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY}"
                )
            },
            "is for account 'devstoreaccount1', but --storage names account 'other'",
        ),
        (
            "https://acct.blob.core.windows.net/pkgs",
            {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=acct"},
            "neither AccountKey nor SharedAccessSignature",
        ),
        ("https://acct.blob.core.windows.net/x", {}, "is not a container URL"),
    ],
)
def test_azurestore__bad_configuration_is_one_line(
    url: str, environ: dict[str, str], match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as raised:
        AzureStore.from_url(url, environ.get("AZURE_STORAGE_CONNECTION_STRING"))
    assert "\n" not in str(raised.value)
    assert AZURITE_KEY not in str(raised.value)
