"""The Bicep templates: both parsers accept them, checkov passes them, and the properties
checkov does not check are asserted here on pycep-parser's reading of the templates."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.deploy.bicep_model import body as _body
from tests.deploy.bicep_model import one as _one
from tests.deploy.bicep_model import resources as _resources
from tests.deploy.conftest import BICEP, tool
from tests.support.processes import ROOT, run

SYNC_WORKFLOW = ROOT / ".github/workflows/allowlist-sync.yml"
# The checks skipped on purpose, each with its reason next to the resource.
JUSTIFIED_SKIPS = {"CKV_AZURE_166", "CKV_AZURE_216"}


def _template(parsed: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    template: dict[str, Any] = parsed[name]["pycep"]
    return template


def test_bicep__every_file_parses_with_pycep_and_tree_sitter(
    parsed: dict[str, dict[str, Any]],
) -> None:
    assert {"main.bicep", "modules/storage.bicep", "modules/apps.bicep"} <= set(parsed)
    problems = {
        name: (entry["pycep_error"], entry["tree_sitter_errors"])
        for name, entry in parsed.items()
        if entry["pycep_error"] or entry["tree_sitter_errors"]
    }
    assert not problems


def test_bicep__checkov_passes_with_only_justified_skips() -> None:
    result = run(
        [str(tool("checkov")), "-d", str(BICEP), "--framework", "bicep", "--skip-download"]
        + ["-o", "json", "--compact"],
        check=False,
    )
    assert result.returncode in {0, 1}, result.stderr  # 1 means failed checks: reported below
    reports = json.loads(result.stdout)
    report = reports[0] if isinstance(reports, list) else reports
    summary = report["summary"]
    # checkov exits 0 on a file it cannot parse: the parse errors count is the real check.
    assert summary["parsing_errors"] == 0, summary
    assert summary["resource_count"] > 40, summary
    failed = [(c["check_id"], c["file_path"], c["resource"]) for c in _checks(report, "failed")]
    assert not failed
    skipped = _checks(report, "skipped")
    assert {c["check_id"] for c in skipped} == JUSTIFIED_SKIPS
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) > 40, f"{check['check_id']} is skipped without a reason"


def _checks(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = report.get("results", {}).get(f"{kind}_checks", [])
    return checks


def test_bicep__every_parameter_is_described_required_or_optional(
    parsed: dict[str, dict[str, Any]],
) -> None:
    for name, entry in parsed.items():
        for param, spec in entry["pycep"].get("parameters", {}).items():
            [text] = [d["argument"] for d in spec["decorators"] if d["type"] == "description"]
            has_default = "default" in spec and spec["default"] is not None
            expected = "Optional. " if has_default else "Required. "
            assert text.startswith(expected), f"{name}: param {param}: {text!r}"


def test_storage__private_entra_only_with_soft_delete_and_versions(
    parsed: dict[str, dict[str, Any]],
) -> None:
    storage = _template(parsed, "modules/storage.bicep")
    account = _one(storage, "Microsoft.Storage/storageAccounts")["properties"]
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["networkAcls"]["defaultAction"] == "Deny"
    blob = _one(storage, "Microsoft.Storage/storageAccounts/blobServices")["properties"]
    assert blob["isVersioningEnabled"] is True
    assert blob["deleteRetentionPolicy"]["enabled"] is True
    assert blob["containerDeleteRetentionPolicy"]["enabled"] is True
    container = _one(storage, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container["properties"]["publicAccess"] == "None"
    endpoint = storage["modules"]["blobEndpoint"]
    assert endpoint["detail"]["path"] == "private-endpoint.bicep"
    assert endpoint["config"]["params"]["groupId"] == "blob"
    assert endpoint["config"]["params"]["dnsZoneName"].startswith("privatelink.blob.")


def test_private_endpoint__links_its_dns_zone_to_every_vnet(
    parsed: dict[str, dict[str, Any]],
) -> None:
    module = _template(parsed, "modules/private-endpoint.bicep")
    assert list(_resources(module, "Microsoft.Network/privateEndpoints"))
    zone = module["modules"]["zone"]
    assert zone["detail"]["path"] == "dns-zone.bicep"
    assert zone["config"]["params"] == {"name": "dnsZoneName", "vnetIds": "vnetIds", "tags": "tags"}
    group = _one(module, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups")
    assert "zoneId" in json.dumps(group["properties"])
    dns = _template(parsed, "modules/dns-zone.bicep")
    assert _one(dns, "Microsoft.Network/privateDnsZones")["name"] == "name"
    links = dns["resources"]["links"]["config"]
    assert links["loop_type"]["detail"]["item_name"] == "vnetId"
    assert "vnetIds" in json.dumps(links["loop_type"])
    assert _one(dns, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")["properties"][
        "virtualNetwork"
    ] == {"id": "vnetId"}


def test_apps__environment_domain_resolves_in_the_linked_vnets(
    parsed: dict[str, dict[str, Any]],
) -> None:
    zone = _template(parsed, "modules/apps.bicep")["modules"]["zone"]
    assert zone["detail"]["path"] == "dns-zone.bicep"
    params = json.dumps(zone["config"]["params"])
    assert "defaultDomain" in params and "staticIp" in params and '"vnetIds"' in params


def test_main__azure_ml_vnet_resolves_the_index_and_optionally_blobs(
    parsed: dict[str, dict[str, Any]],
) -> None:
    main = _template(parsed, "main.bicep")
    params = {name: _body(m)["params"] for name, m in main["modules"].items()}
    assert params["apps"]["vnetIds"] == "appVnetIds"
    assert params["storage"]["vnetIds"] == "blobVnetIds"
    assert params["registry"]["vnetIds"] == params["vault"]["vnetIds"] == "ownVnet"
    assert "azureMlLinkBlobZone" in json.dumps(main["variables"]["blobVnetIds"])


@pytest.mark.parametrize(
    ("name", "kind", "group"),
    [
        ("registry.bicep", "Microsoft.ContainerRegistry/registries", "registry"),
        ("keyvault.bicep", "Microsoft.KeyVault/vaults", "vault"),
    ],
)
def test_registry_and_vault__private_endpoint_only(
    parsed: dict[str, dict[str, Any]], name: str, kind: str, group: str
) -> None:
    module = _template(parsed, f"modules/{name}")
    assert _one(module, kind)["properties"]["publicNetworkAccess"] == "Disabled"
    [endpoint] = module["modules"].values()
    assert endpoint["config"]["params"]["groupId"] == group


def test_registry__premium_without_admin_user(parsed: dict[str, dict[str, Any]]) -> None:
    registry = _one(
        _template(parsed, "modules/registry.bicep"), "Microsoft.ContainerRegistry/registries"
    )
    assert registry["sku"]["name"] == "Premium"
    assert registry["properties"]["adminUserEnabled"] is False


def test_apps__server_env_health_probes_and_http_scaling(
    parsed: dict[str, dict[str, Any]],
) -> None:
    apps = _template(parsed, "modules/apps.bicep")
    environment = _one(apps, "Microsoft.App/managedEnvironments")["properties"]
    assert environment["vnetConfiguration"]["internal"] is True
    server = _one(apps, "Microsoft.App/containerApps")["properties"]
    assert server["configuration"]["ingress"]["allowInsecure"] is False
    assert [rule["name"] for rule in server["template"]["scale"]["rules"]] == ["http"]
    [container] = server["template"]["containers"]
    probes = {probe["type"]: probe["httpGet"] for probe in container["probes"]}
    assert set(probes) == {"Startup", "Readiness", "Liveness"}
    variables = apps["variables"]
    paths = {kind: variables[ref]["value"]["path"] for kind, ref in probes.items()}
    # /health split into liveness and readiness (the server's routes, another change).
    assert paths == {
        "Startup": "/health/live",
        "Liveness": "/health/live",
        "Readiness": "/health/ready",
    }
    assert "serverEnv" in json.dumps(container["env"])  # concat(serverEnv, tokenEnv)
    env = json.dumps(variables["serverEnv"])
    for name in (
        "BLOBPI_STORAGE",
        "AZURE_CLIENT_ID",
        "BLOBPI_ANONYMOUS_READ",
        "BLOBPI_TRUSTED_PROXIES",
        "BLOBPI_HTTP_SERVER",
    ):
        assert f'"name": "{name}"' in env


def test_sync_jobs__a_scheduled_job_per_shard_running_blobpi_sync(
    parsed: dict[str, dict[str, Any]],
) -> None:
    jobs = _template(parsed, "modules/sync-jobs.bicep")
    job = _one(jobs, "Microsoft.App/jobs")["properties"]
    assert job["configuration"]["triggerType"] == "Schedule"
    [container] = job["template"]["containers"]
    assert container["args"][0] == "sync"
    assert "syncImage" in json.dumps(container["image"]), "the image with the allow-list"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert {"BLOBPI_STORAGE", "AZURE_CLIENT_ID", "BLOBPI_UPSTREAM", "BLOBPI_SHARD"} <= set(env)
    # One job per shard; `blobpi sync` takes K/N with 1 <= K <= N.
    loop = jobs["resources"]["syncJobs"]["config"]["loop_type"]["detail"]
    assert (loop["start_index"], loop["count"]) == (0, "syncShards")
    index = loop["index_name"]
    assert env["BLOBPI_SHARD"] == "${" + index + " + 1}/${syncShards}"


def test_main__composes_every_module_and_names_from_unique_string(
    parsed: dict[str, dict[str, Any]],
) -> None:
    main = _template(parsed, "main.bicep")
    used = {m["detail"]["path"] for m in main["modules"].values()}
    on_disk = {f"modules/{p.name}" for p in (BICEP / "modules").glob("*.bicep")}
    nested = {"modules/private-endpoint.bicep", "modules/dns-zone.bicep"}
    assert on_disk - nested == used
    assert "uniqueString" in (BICEP / "main.bicep").read_text()
    assert {"indexUrl", "containerUrl", "serverClientId", "syncClientId"} <= set(main["outputs"])


def test_bicepparam__sets_only_declared_parameters_and_every_required_one(
    parsed: dict[str, dict[str, Any]],
) -> None:
    text = (BICEP / "main.bicepparam").read_text()
    assert text.startswith("using './main.bicep'")
    assigned = set(re.findall(r"^param (\w+) =", text, flags=re.MULTILINE))
    declared = _template(parsed, "main.bicep")["parameters"]
    assert assigned <= set(declared)
    required = {name for name, spec in declared.items() if spec.get("default") is None}
    assert required <= assigned
