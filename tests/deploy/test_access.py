"""Who may do what: the role assignments of every template, read as (principal, role, scope,
only by parameter), against the built-in role IDs of Microsoft's reference and the least each
identity needs. Issue 15 numbers in brackets."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from blobpi.mirror.core.layout import tokens_path
from tests.deploy.bicep_model import body, evaluate, template_scope
from tests.support.processes import ROOT

Templates = dict[str, dict[str, Any]]
# Azure built-in roles (the same ID in every tenant).
BUILT_IN = {
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "db58b8e5-c6ad-4a2a-8342-4190687cbf4a": "Storage Blob Delegator",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b556d68e-0be0-4f35-a333-ad7ee1ce17ea": "Azure AI Enterprise Network Connection Approver",
}
# Variable keys the templates name the roles by, and the role each key must be.
ROLE_KEYS = {
    "storageBlobDataReader": "Storage Blob Data Reader",
    "storageBlobDataContributor": "Storage Blob Data Contributor",
    "storageBlobDelegator": "Storage Blob Delegator",
    "acrPull": "AcrPull",
    "keyVaultSecretsUser": "Key Vault Secrets User",
    "approverRole": "Azure AI Enterprise Network Connection Approver",
}
WORKFLOW = (ROOT / ".github/workflows/allowlist-sync.yml").read_text()
Grant = tuple[str, str, str, bool]  # principal symbol, role, scope symbol, only by parameter


def _role_ids(template: dict[str, Any]) -> dict[str, str]:
    """Role variable name -> GUID: a ``roles`` object, or one variable per role."""
    variables = template.get("variables", {})
    found = dict(variables.get("roles", {}).get("value", {}))
    found.update({k: v["value"] for k, v in variables.items() if k in ROLE_KEYS})
    return found


def _grants(template: dict[str, Any]) -> set[Grant]:
    ids = _role_ids(template)
    custom = {
        name
        for name, r in template.get("resources", {}).items()
        if r["type"] == "Microsoft.Authorization/roleDefinitions"
    }
    grants: set[Grant] = set()
    for resource in template.get("resources", {}).values():
        if resource["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        assignment = body(resource)
        conditional = (resource["config"] or {}).get("condition") is not None
        principal = str(evaluate(assignment["properties"]["principalId"], {}))
        principal = principal.removeprefix("@").split(".")[0]
        definition_value = assignment["properties"]["roleDefinitionId"]
        if isinstance(definition_value, str) and definition_value in template.get("variables", {}):
            definition_value = template["variables"][definition_value]["value"]  # a named ID
        definition = json.dumps(definition_value)
        roles = [BUILT_IN[guid] for key, guid in ids.items() if f'"{key}"' in definition]
        roles += [f"custom:{name}" for name in custom if f'"operand_1": "{name}"' in definition]
        if not roles and definition_value == "workflowRoleId":
            roles.append("custom:param")  # passed in: the workflow role, from identity.bicep
        [role] = roles
        # Never the deployment's resource group: every assignment names its scope.
        scope = str(evaluate(assignment.get("scope", "<resource group>"), {}))
        grants.add((principal, role, scope, conditional))
        assert assignment["name"]["function"]["type"] == "guid", "named by guid()"
    return grants


def test_roles__every_role_id_is_the_built_in_role_it_is_named_for(templates: Templates) -> None:
    """[5] [8] A wrong GUID assigns some other role (or fails): each ID is checked against
    Microsoft's built-in roles reference."""
    checked = 0
    for path, template in templates.items():
        for key, guid in _role_ids(template).items():
            assert BUILT_IN.get(guid) == ROLE_KEYS[key], (path, key, guid)
            checked += 1
    assert checked >= 6


def test_identity__least_roles_on_the_narrowest_scope(templates: Templates) -> None:
    """[8] The server reads the index container, reads the token secret only when there is
    one, and gets a user delegation key (Delegator, on the account) only when it redirects
    downloads to a SAS; the sync writes the index container; both pull."""
    assert _grants(templates["modules/identity.bicep"]) == {
        ("server", "Storage Blob Data Reader", "container", False),
        ("server", "Storage Blob Data Contributor", "container", True),  # serverUploads
        ("server", "Key Vault Secrets User", "tokenSecret", True),  # tokenSecretName
        ("server", "Storage Blob Delegator", "storage", True),  # serverDownloads redirect
        ("server", "AcrPull", "registry", False),
        ("sync", "Storage Blob Data Contributor", "container", False),
        ("sync", "AcrPull", "registry", False),
        ("workflow", "custom:workflowRole", "registry", True),  # githubRepository
        ("workflow", "custom:workflowRole", "sync", True),
    }
    identity = templates["modules/identity.bicep"]
    assert identity["parameters"]["serverUploads"]["default"] is False
    assert identity["parameters"]["serverDownloads"]["default"] == "stream"
    delegator = identity["resources"]["serverDelegator"]["config"]
    assert "redirect" in json.dumps(delegator)
    secret = body(identity["resources"]["serverSecretsUser"])
    assert "tokenSecretName" in json.dumps(identity["resources"]["serverSecretsUser"]["config"])
    assert secret["scope"] == "tokenSecret"


def test_identity__the_sync_cannot_write_the_token_records(templates: Templates) -> None:
    """[8] With write access to state/tokens.json the sync could mint an upload token: its
    Blob Data Contributor carries an ABAC condition that grants writes, creations and deletes
    everywhere but the token blobs, at the path the server reads them from."""
    identity = templates["modules/identity.bicep"]
    assignment = body(identity["resources"]["syncBlobContributor"])["properties"]
    condition = evaluate(assignment["condition"], template_scope(identity, {}))
    assert assignment["conditionVersion"] == "2.0"
    blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    for action in ("write", "add/action", "delete", "move/action"):  # all the role's writes
        assert f"!(ActionMatches{{'{blobs}/{action}'}})" in condition
    [pattern] = re.findall(rf"@Resource\[{blobs}:path\] StringNotLike '([^']+)'", condition)
    assert fnmatch.fnmatch(tokens_path(), pattern) and not fnmatch.fnmatch("simple/x", pattern)


def test_workflow__its_role_is_never_assigned_on_the_resource_group(
    templates: Templates,
) -> None:
    """[8] At resource-group scope, jobs/write and identity assign would let the workflow
    create a job running as the server identity: the role is assigned on the registry, the
    sync identity, each sync job and the sync environment only."""
    jobs = _grants(templates["modules/sync-jobs.bicep"])
    scopes = {(scope, conditional) for _, _, scope, conditional in jobs}
    assert scopes == {("syncJobs[shard]", False), ("syncEnv", True)}
    for template in templates.values():
        assert all(scope != "<resource group>" for _, _, scope, _ in _grants(template))


def test_workflow__its_role_allows_only_what_the_workflow_runs(templates: Templates) -> None:
    role = body(templates["modules/identity.bicep"]["resources"]["workflowRole"])
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
    # A run on an agent pool needs read on the pool (ACR agent pool permission change).
    assert "Microsoft.ContainerRegistry/registries/agentpools/read" in actions
    assert not [a for a in actions if "containerApps" in a or "delete" in a]
    assert "az acr build" in WORKFLOW and "az containerapp job update" in WORKFLOW


def test_azureml__the_approver_role_is_on_the_targets_only(templates: Templates) -> None:
    """[5] On the storage account and (with it) the gateway, for the workspace identity."""
    assert _grants(templates["modules/azureml-approver.bicep"]) == {
        ("principalId", "Azure AI Enterprise Network Connection Approver", "storage", False),
        ("principalId", "Azure AI Enterprise Network Connection Approver", "gateway", True),
    }
