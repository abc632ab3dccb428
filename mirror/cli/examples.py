"""One or more examples for every subcommand's ``--help`` (``main.build_parser`` adds them
as the epilog). ``tests/unit/test_cli_help.py`` checks that every subcommand has one and
that each parses with the real parser, so an example cannot rot."""

from __future__ import annotations

__all__ = ["EXAMPLES"]

_AZ = "https://ACCOUNT.blob.core.windows.net/pkgs"
_INDEX = "https://pkgs.example.org/simple/"

EXAMPLES: dict[str, tuple[str, ...]] = {
    "serve": ("blobpi serve --storage ./data --port 8080", f"blobpi serve --storage {_AZ}"),
    "upload": ("blobpi upload dist/mypkg-1.0-py3-none-any.whl --storage ./data",),
    "token": ("blobpi token create --name ci --scope upload --expires 90d",),
    "token create": (
        "blobpi token create --name ci-upload --scope upload --project acme-utils --expires 90d",
        "blobpi token create --name laptops --scope read --expires never",
    ),
    "token list": ("blobpi token list --storage ./data",),
    "token revoke": ("blobpi token revoke ci-upload",),
    "yank": ("blobpi yank acme-utils==1.0 --reason 'breaks on Python 3.13'",),
    "unyank": ("blobpi unyank acme-utils==1.0",),
    "delete": ("blobpi delete acme-utils==1.0 --file acme_utils-1.0.tar.gz --yes",),
    "sync": (
        "blobpi sync --allowlist allowlist.txt --storage ./data --dry-run",
        "blobpi sync --json > report.json",
        "BLOBPI_SHARD=1/2 blobpi sync --wait 300",
    ),
    "lock": (
        "blobpi lock allowlist.in -o allowlist.txt",
        "blobpi lock --check",
        "blobpi lock --diff old.txt allowlist.txt",
        "blobpi lock allowlist.in -o allowlist.txt --osv all.zip",
        "blobpi lock --diff old.txt allowlist.txt --osv all.zip",
    ),
    "audit": (
        "blobpi audit allowlist.txt --osv all.zip",
        "blobpi audit --storage ./data",
    ),
    "status": (
        "blobpi status demo deprecated --reason 'use demo2'",
        "blobpi status demo quarantined --reason 'under review' --storage ./data",
        "blobpi status demo active",
    ),
    "azureml": (f"blobpi azureml environment --index-url {_INDEX} -r requirements.txt --name t",),
    "azureml environment": (
        f"blobpi azureml environment --index-url {_INDEX} -r requirements.txt --name train "
        "-o envdir",
    ),
    "azureml connection": (
        f"blobpi azureml connection --index-url {_INDEX} --username __token__ --create",
    ),
    "azureml wheel-urls": (
        f"blobpi azureml wheel-urls -r requirements.txt --storage {_AZ} --expires 12h",
    ),
    "azureml add-private-wheel": (
        f"blobpi azureml add-private-wheel dist/mypkg-1.0-py3-none-any.whl --storage {_AZ}",
    ),
    "check": (
        "blobpi check --storage ./data",
        f"blobpi check --role server --storage {_AZ}",
        "blobpi check --deep --json > check.json",
    ),
    "config": ("blobpi config show",),
    "config show": ("blobpi config show", "blobpi config show --json"),
    "completion": ("blobpi completion bash > ~/.local/share/bash-completion/completions/blobpi",),
}
