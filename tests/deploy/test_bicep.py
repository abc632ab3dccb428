"""The Bicep templates: both parsers accept them, checkov passes them, and the properties
checkov does not check are asserted here on pycep-parser's reading of the templates."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import tool
from tests.support.processes import ROOT, run

BICEP = ROOT / "bicep"
# Built-in role definition IDs (the same in every tenant).
READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader
DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"  # Storage Blob Delegator
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"  # Storage Blob Data Contributor
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"  # AcrPull
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User
SYNC_WORKFLOW = ROOT / ".github/workflows/allowlist-sync.yml"


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict[str, Any]]:
    out = run([str(tool("python")), str(Path(__file__).with_name("bicep_parse.py")), str(BICEP)])
    result: dict[str, dict[str, Any]] = json.loads(out.stdout)
    return result


def _template(parsed: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    template: dict[str, Any] = parsed[name]["pycep"]
    return template


def _body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's declared body, through any ``if`` or ``for`` wrapper."""
    config: dict[str, Any] = resource["config"]
    while "condition" in config or "loop_type" in config:
        config = config["config"]
    return config


def _resources(template: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in template.get("resources", {}).items():
        if resource["type"] == kind and not resource["existing"]:
            yield name, _body(resource)


def _one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    [(_, body)] = list(_resources(template, kind))
    return body


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
    assert {c["check_id"] for c in skipped} == {"CKV_AZURE_166"}  # one deliberate skip
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
    ("name", "group"),
    [("registry.bicep", "registry"), ("keyvault.bicep", "vault")],
)
def test_registry_and_vault__private_endpoint_only(
    parsed: dict[str, dict[str, Any]], name: str, group: str
) -> None:
    module = _template(parsed, f"modules/{name}")
    [body] = [_body(r) for r in module["resources"].values() if not r["existing"]]
    assert body["properties"]["publicNetworkAccess"] == "Disabled"
    [endpoint] = module["modules"].values()
    assert endpoint["config"]["params"]["groupId"] == group


def test_registry__premium_without_admin_user(parsed: dict[str, dict[str, Any]]) -> None:
    registry = _one(
        _template(parsed, "modules/registry.bicep"), "Microsoft.ContainerRegistry/registries"
    )
    assert registry["sku"]["name"] == "Premium"
    assert registry["properties"]["adminUserEnabled"] is False


def test_apps__internal_ingress_min_one_replica_probes_on_health(
    parsed: dict[str, dict[str, Any]],
) -> None:
    apps = _template(parsed, "modules/apps.bicep")
    environment = _one(apps, "Microsoft.App/managedEnvironments")["properties"]
    assert environment["vnetConfiguration"]["internal"] is True
    server = _one(apps, "Microsoft.App/containerApps")["properties"]
    ingress = server["configuration"]["ingress"]
    assert ingress["external"] is False and ingress["allowInsecure"] is False
    scale = server["template"]["scale"]
    assert scale["minReplicas"] >= 1
    assert [rule["name"] for rule in scale["rules"]] == ["http"]
    [container] = server["template"]["containers"]
    probes = {probe["type"]: probe["httpGet"] for probe in container["probes"]}
    assert set(probes) == {"Startup", "Readiness", "Liveness"}
    health = apps["variables"]["healthProbe"]["value"]
    assert all(p == "healthProbe" for p in probes.values()) and health["path"] == "/health"
    assert "serverEnv" in json.dumps(container["env"])  # concat(serverEnv, tokenEnv)
    env = json.dumps(apps["variables"]["serverEnv"])
    for name in (
        "BLOBPI_STORAGE",
        "AZURE_CLIENT_ID",
        "BLOBPI_ANONYMOUS_READ",
        "FORWARDED_ALLOW_IPS",
    ):
        assert f'"name": "{name}"' in env


def test_apps__sync_is_a_scheduled_job_running_blobpi_sync(
    parsed: dict[str, dict[str, Any]],
) -> None:
    apps = _template(parsed, "modules/apps.bicep")
    job = _one(apps, "Microsoft.App/jobs")["properties"]
    assert job["configuration"]["triggerType"] == "Schedule"
    [container] = job["template"]["containers"]
    assert container["args"] == ["sync"]
    assert "syncImage" in json.dumps(container["image"]), "the image with the allow-list"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert {"BLOBPI_STORAGE", "AZURE_CLIENT_ID", "BLOBPI_UPSTREAM", "BLOBPI_SHARD"} <= set(env)
    # One job per shard; `blobpi sync` takes K/N with 1 <= K <= N.
    loop = apps["resources"]["syncJobs"]["config"]["loop_type"]["detail"]
    assert (loop["start_index"], loop["count"]) == (0, "syncShards")
    index = loop["index_name"]
    assert env["BLOBPI_SHARD"] == "${" + index + " + 1}/${syncShards}"


def _role_grants(template: dict[str, Any]) -> dict[tuple[str, bool], set[str]]:
    """(identity symbol, only by parameter) -> roles assigned to it: built-in role GUIDs, or
    ``custom:SYMBOL`` for a role definition of the template."""
    roles = template["variables"]["roles"]["value"]
    custom = {
        name
        for name, r in template["resources"].items()
        if r["type"] == "Microsoft.Authorization/roleDefinitions"
    }
    grants: dict[tuple[str, bool], set[str]] = {}
    for resource in template["resources"].values():
        if resource["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        body = _body(resource)
        conditional = (resource["config"] or {}).get("condition") is not None
        principal = body["properties"]["principalId"]["operator"]["operands"]["operand_1"]
        definition = json.dumps(body["properties"]["roleDefinitionId"])
        [role] = [guid for key, guid in roles.items() if f'"{key}"' in definition] + [
            f"custom:{name}" for name in custom if f'"operand_1": "{name}"' in definition
        ]
        grants.setdefault((principal, conditional), set()).add(role)
        assert body["name"]["function"]["type"] == "guid", "role assignments named by guid()"
    return grants


def test_identity__least_roles_per_identity(parsed: dict[str, dict[str, Any]]) -> None:
    identity = _template(parsed, "modules/identity.bicep")
    assert _role_grants(identity) == {
        ("server", False): {READER, DELEGATOR, ACR_PULL, SECRETS_USER},
        ("server", True): {BLOB_CONTRIBUTOR},  # serverUploads, off by default
        ("sync", False): {BLOB_CONTRIBUTOR, ACR_PULL},
        ("workflow", True): {"custom:workflowRole"},  # only with githubRepository
    }
    assert identity["parameters"]["serverUploads"]["default"] is False


def test_identity__workflow_role_allows_only_what_the_workflow_runs(
    parsed: dict[str, dict[str, Any]],
) -> None:
    role = _body(_template(parsed, "modules/identity.bicep")["resources"]["workflowRole"])
    [permissions] = role["properties"]["permissions"]
    actions = set(permissions["actions"])
    assert not [a for a in actions if "*" in a]
    assert {a.split("/")[0] for a in actions} == {
        "Microsoft.ContainerRegistry",
        "Microsoft.App",
        "Microsoft.ManagedIdentity",
    }
    assert "Microsoft.App/jobs/start/action" in actions
    assert "Microsoft.ContainerRegistry/registries/scheduleRun/action" in actions
    assert not [a for a in actions if "containerApps" in a or "delete" in a]
    workflow = SYNC_WORKFLOW.read_text()
    assert "az acr build" in workflow and "az containerapp job update" in workflow


def test_main__composes_every_module_and_names_from_unique_string(
    parsed: dict[str, dict[str, Any]],
) -> None:
    main = _template(parsed, "main.bicep")
    used = {m["detail"]["path"] for m in main["modules"].values()}
    on_disk = {f"modules/{p.name}" for p in (BICEP / "modules").glob("*.bicep")}
    assert on_disk - {"modules/private-endpoint.bicep", "modules/dns-zone.bicep"} == used
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
