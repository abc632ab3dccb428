"""Rules from Microsoft's reference for the network around the index: subnets (Container Apps,
Azure Firewall, Application Gateway), egress (NSGs, route table, firewall rules), image builds
inside the network (ACR task agent pools), Azure ML managed VNet access (outbound rules, the
approver role, Application Gateway private link), blob version lifecycle and audit logs.
Issue 15 numbers in brackets."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from tests.deploy.bicep_model import body, deployment, evaluate, one, resources
from tests.support.processes import ROOT

Templates = dict[str, dict[str, Any]]
REQUIRED = {
    "upstreamUrl": "https://upstream.example/simple/",
    "upstreamFileHosts": ["files.upstream.example"],
    "image": "blobpi:0.1.0",
    "syncImage": "blobpi-sync:0123abc",
}
DOC = (ROOT / "docs/deploy.md").read_text()
WORKFLOWS = [p.read_text() for p in sorted((ROOT / ".github/workflows").glob("*.yml"))]
APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"  # Azure AI Enterprise Network Connection Approver


def _network(templates: Templates, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The VNet's subnets by name, and the network module's evaluated NSGs and route tables
    by symbol."""
    template, scope = deployment(templates, {**REQUIRED, **overrides})["network"]
    vnet = evaluate(one(template, "Microsoft.Network/virtualNetworks")["properties"], scope)
    subnets = {subnet["name"]: subnet["properties"] for subnet in vnet["subnets"]}
    kinds = {"Microsoft.Network/networkSecurityGroups", "Microsoft.Network/routeTables"}
    symbols = {
        name: evaluate(body(r)["properties"], scope)
        for name, r in template["resources"].items()
        if r["type"] in kinds
    }
    return subnets, symbols


def _rules(symbols: dict[str, Any], subnet: dict[str, Any]) -> list[dict[str, Any]]:
    nsg = subnet["networkSecurityGroup"]["id"].removeprefix("@").removesuffix(".id")
    rules: list[dict[str, Any]] = symbols[nsg]["securityRules"]
    return sorted((r["properties"] for r in rules), key=lambda r: r["priority"])


def _first_match(rules: list[dict[str, Any]], destination: str) -> str:
    """What an NSG does with outbound traffic to ``destination`` (a service tag), as the
    lowest-priority-number matching rule decides; the default rules allow Internet."""
    for rule in rules:
        if rule["direction"] == "Outbound" and rule["destinationAddressPrefix"] in {
            destination,
            "*",
        }:
            return str(rule["access"])
    return "Allow"


def test_subnets__fit_the_address_space_apart_and_meet_each_service_minimum(
    templates: Templates,
) -> None:
    """Container Apps workload profiles environments need /27 or larger, Azure Firewall a
    subnet named AzureFirewallSubnet of /26 or larger, and no two subnets may overlap."""
    subnets, _ = _network(templates, deployGateway=True)
    _, main = deployment(templates, REQUIRED)["main"]
    space = ipaddress.IPv4Network(main["addressPrefix"])
    networks = {name: ipaddress.IPv4Network(s["addressPrefix"]) for name, s in subnets.items()}
    assert all(n.subnet_of(space) for n in networks.values())
    ordered = sorted(networks.values())
    assert all(not a.overlaps(b) for a, b in zip(ordered, ordered[1:], strict=False))
    for name, subnet in subnets.items():
        delegated = [d["properties"]["serviceName"] for d in subnet.get("delegations", [])]
        if delegated == ["Microsoft.App/environments"]:
            assert networks[name].prefixlen <= 27, name
    assert networks["AzureFirewallSubnet"].prefixlen <= 26


def test_egress__the_server_subnet_reaches_no_internet(templates: Templates) -> None:
    """[7] The server needs the VNet (private endpoints) and the platform's service tags only."""
    subnets, symbols = _network(templates)
    rules = _rules(symbols, subnets["apps"])
    assert _first_match(rules, "Internet") == "Deny"
    for tag in ("VirtualNetwork", "AzureActiveDirectory", "MicrosoftContainerRegistry"):
        assert _first_match(rules, tag) == "Allow", tag
    assert "routeTable" not in subnets["apps"] or _first_match(rules, "Internet") == "Deny"


def test_egress__the_sync_and_builds_reach_the_internet_only_through_the_firewall(
    templates: Templates,
) -> None:
    """[7] The sync jobs run in their own environment on their own subnet, whose 0.0.0.0/0
    goes to the firewall; the firewall's private address is the fourth of its subnet (Azure
    Firewall takes the first free one)."""
    subnets, symbols = _network(templates)
    _, main = deployment(templates, REQUIRED)["main"]
    firewall_subnet = ipaddress.IPv4Network(subnets["AzureFirewallSubnet"]["addressPrefix"])
    assert main["firewallPrivateIp"] == str(firewall_subnet[4])
    for name in ("sync", "builds"):
        table = subnets[name]["routeTable"]["id"].removeprefix("@").removesuffix(".id")
        routes = {
            r["properties"]["addressPrefix"]: r["properties"] for r in symbols[table]["routes"]
        }
        assert routes["0.0.0.0/0"]["nextHopType"] == "VirtualAppliance"
        assert routes["0.0.0.0/0"]["nextHopIpAddress"] == main["firewallPrivateIp"]
    sync_module = body(templates["main.bicep"]["modules"]["syncJobs"])["params"]
    apps_module = body(templates["main.bicep"]["modules"]["apps"])["params"]
    assert evaluate(sync_module["syncSubnetId"], {}) == "@network.outputs.syncSubnetId"
    assert evaluate(apps_module["appsSubnetId"], {}) == "@network.outputs.appsSubnetId"


def test_egress__the_firewall_allows_https_to_the_upstream_hosts_only(
    templates: Templates,
) -> None:
    """[7] Application rules: the upstream's host and its file hosts, plus the FQDNs Container
    Apps behind a firewall must reach (MCR, Entra ID); nothing with a wildcard of its own."""
    template, scope = deployment(templates, REQUIRED)["egress"]
    group = one(template, "Microsoft.Network/firewallPolicies/ruleCollectionGroups")
    collections = evaluate(group["properties"]["ruleCollections"], scope)
    rules = [rule for c in collections if c["action"]["type"] == "Allow" for rule in c["rules"]]
    upstream = [r for r in rules if r["name"] == "upstream"]
    assert [r["targetFqdns"] for r in upstream] == [["upstream.example", "files.upstream.example"]]
    _, main = deployment(templates, REQUIRED)["main"]
    sources = {main["syncSubnetPrefix"], main["buildsSubnetPrefix"]}
    assert all(set(r["sourceAddresses"]) == sources for r in rules)
    fqdns = [f for r in rules for f in r.get("targetFqdns", [])]
    assert "*" not in fqdns and "mcr.microsoft.com" in fqdns
    assert all(p in {"Allow", "Deny"} for p in (c["action"]["type"] for c in collections))


def test_builds__run_on_a_registry_agent_pool_inside_the_vnet(templates: Templates) -> None:
    """[3] The shared ACR Tasks agents are no trusted service any more and cannot reach a
    registry behind a private endpoint: every `az acr build` runs on the agent pool, which
    sits on the builds subnet."""
    registry = templates["modules/registry.bicep"]
    pool = one(registry, "Microsoft.ContainerRegistry/registries/agentPools")["properties"]
    assert pool["virtualNetworkSubnetResourceId"] == "buildsSubnetId"
    params = body(templates["main.bicep"]["modules"]["registry"])["params"]
    assert evaluate(params["buildsSubnetId"], {}) == "@network.outputs.buildsSubnetId"
    builds = [c for text in [DOC, *WORKFLOWS] for c in re.findall(r"az acr build[^\n]*", text)]
    assert builds and all("--agent-pool" in c for c in builds), builds
    assert "networkRuleBypassAllowedForTasks" not in DOC


def test_azureml__the_workspace_identity_approves_before_the_rules_exist(
    templates: Templates,
) -> None:
    """[5] A managed VNet's private endpoint to the index is approved by the workspace
    identity, which needs the approver role on each target before the outbound rule is made;
    then `az ml workspace provision-network` creates it."""
    approver = templates["modules/azureml-approver.bicep"]
    assert approver["variables"]["approverRole"]["value"] == APPROVER
    scopes = {
        body(r)["scope"]
        for r in approver["resources"].values()
        if r["type"] == "Microsoft.Authorization/roleAssignments"
    }
    assert scopes == {"storage", "gateway"}
    azureml = templates["main.bicep"]["modules"]["azureMl"]
    assert "azureMlApprover" in json.dumps(body(azureml).get("depends_on", azureml))
    assert "az ml workspace provision-network" in DOC


def test_gateway__private_frontend_named_for_azure_ml_next_to_a_public_one(
    templates: Templates,
) -> None:
    """[6] Application Gateway private link needs a v2 SKU and a public frontend address
    besides the private one, and Azure ML's outbound rule targets the private frontend by the
    name appGwPrivateFrontendIpIPv4; the connection's URL is a parameter (the gateway's host
    from a managed VNet), never the Container Apps host alone."""
    template, scope = deployment(templates, {**REQUIRED, "deployGateway": True})["gateway"]
    gateway = evaluate(one(template, "Microsoft.Network/applicationGateways")["properties"], scope)
    assert gateway["sku"]["tier"].endswith("_v2")
    frontends = {f["name"]: f["properties"] for f in gateway["frontendIPConfigurations"]}
    assert any("publicIPAddress" in f for f in frontends.values())
    private = frontends["appGwPrivateFrontendIpIPv4"]
    assert "privateLinkConfiguration" in private and private["privateIPAddress"]
    aml, aml_scope = deployment(templates, {**REQUIRED, "azureMlManagedNetwork": True})["azureMl"]
    rule = body(aml["resources"]["gatewayRule"])["properties"]["destination"]
    assert evaluate(rule["subresourceTarget"], aml_scope) == "appGwPrivateFrontendIpIPv4"
    url = body(templates["main.bicep"]["modules"]["azureMl"])["params"]["indexUrl"]
    assert "azureMlIndexUrl" in json.dumps(url) and "gateway" in json.dumps(url)


def test_azureml__the_connection_sends_a_token_unless_anonymous_read(
    templates: Templates,
) -> None:
    """[6] `authType: 'None'` fails when anonymous read is off."""
    for anonymous, token, expected in [(True, "", "None"), (False, "tok", "UsernamePassword")]:
        overrides = {**REQUIRED, "anonymousRead": anonymous, "azureMlFeedToken": token}
        aml, scope = deployment(templates, {**overrides, "azureMlWorkspaceName": "ws"})["azureMl"]
        feed = evaluate(body(aml["resources"]["feed"])["properties"], scope)
        assert feed["authType"] == expected and feed["category"] == "PythonFeed"
    condition = aml["resources"]["feed"]["config"]["condition"]
    assert "anonymousRead" in json.dumps(condition) and "feedToken" in json.dumps(condition)


def test_storage__versions_expire_under_a_lifecycle_rule(templates: Templates) -> None:
    """[12] Versioning keeps every page write forever unless a lifecycle rule deletes old
    versions."""
    template, scope = deployment(templates, REQUIRED)["storage"]
    blob = one(template, "Microsoft.Storage/storageAccounts/blobServices")["properties"]
    assert blob["isVersioningEnabled"] is True
    policy = evaluate(one(template, "Microsoft.Storage/storageAccounts/managementPolicies"), scope)
    assert policy["name"] == "default"  # the one policy an account has
    actions = [r["definition"]["actions"] for r in policy["properties"]["policy"]["rules"]]
    days = [a["version"]["delete"]["daysAfterCreationGreaterThan"] for a in actions]
    assert days and all(1 <= d <= 365 for d in days)


def test_diagnostics__storage_vault_and_registry_send_their_logs(templates: Templates) -> None:
    """[12] Audit: blob reads, writes and deletes (a blob service setting: the account has
    metrics only), Key Vault and registry logs, to the Log Analytics workspace."""
    targets = {
        "modules/storage.bicep": "blobService",
        "modules/keyvault.bicep": "vault",
        "modules/registry.bicep": "registry",
    }
    for path, target in targets.items():
        settings = list(resources(templates[path], "Microsoft.Insights/diagnosticSettings"))
        assert [s["scope"] for _, s in settings] == [target], path
        [(_, setting)] = settings
        assert setting["properties"]["workspaceId"] == "workspaceId"
        assert all(log["enabled"] for log in setting["properties"]["logs"]), path


# Network security rule (Microsoft.Network/networkSecurityGroups): required fields and enums.
NSG_ENUMS = {
    "protocol": {"Tcp", "Udp", "Icmp", "Esp", "Ah", "*"},
    "access": {"Allow", "Deny"},
    "direction": {"Inbound", "Outbound"},
}


def test_nsg_rules__required_fields_enums_and_unique_priorities(templates: Templates) -> None:
    """Priorities 100-4096, unique per direction; every rule names its protocol, access,
    direction, source and destination."""
    _, symbols = _network(templates, deployGateway=True)
    nsgs = {k: v for k, v in symbols.items() if "securityRules" in v}
    assert len(nsgs) == 4
    for name, nsg in nsgs.items():
        rules = [r["properties"] for r in nsg["securityRules"]]
        for rule in rules:
            assert 100 <= rule["priority"] <= 4096, (name, rule)
            for key, allowed in NSG_ENUMS.items():
                assert rule[key] in allowed, (name, key, rule[key])
            for key in ("sourceAddressPrefix", "destinationAddressPrefix"):
                assert rule[key], (name, key)
            assert rule["sourcePortRange"] and rule["destinationPortRange"], name
        for direction in NSG_ENUMS["direction"]:
            priorities = [r["priority"] for r in rules if r["direction"] == direction]
            assert len(priorities) == len(set(priorities)), (name, direction)


def test_agent_pool__tier_and_os_are_ones_the_api_offers(templates: Templates) -> None:
    """ACR agent pools: tiers S1, S2, S3 or I6 (isolated), Linux nodes only (preview)."""
    pool = one(
        templates["modules/registry.bicep"], "Microsoft.ContainerRegistry/registries/agentPools"
    )
    assert pool["properties"]["tier"] in {"S1", "S2", "S3", "I6"}
    assert pool["properties"]["os"] == "Linux" and pool["properties"]["count"] >= 1
