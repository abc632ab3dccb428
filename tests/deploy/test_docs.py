"""docs/deploy.md stays true to the files it describes: every deployment output, template
parameter, environment variable and file it names exists."""

from __future__ import annotations

import re

from tests.support.processes import ROOT

DOC = (ROOT / "docs/deploy.md").read_text()
MAIN = (ROOT / "bicep/main.bicep").read_text()
PARAMS = (ROOT / "bicep/main.bicepparam").read_text()


def test_deploy_doc__names_only_outputs_the_template_has() -> None:
    used = set(re.findall(r"\bout (\w+)", DOC))
    outputs = set(re.findall(r"^output (\w+) ", MAIN, flags=re.MULTILINE))
    assert used and used <= outputs


def test_deploy_doc__documents_every_variable_the_parameter_file_reads() -> None:
    variables = set(re.findall(r"readEnvironmentVariable\('(\w+)'", PARAMS))
    assert "BLOBPI_UPSTREAM" in variables
    assert {v for v in variables if v not in DOC} == set()


def test_deploy_doc__overrides_only_declared_parameters() -> None:
    declared = set(re.findall(r"^param (\w+) ", MAIN, flags=re.MULTILINE))
    named = set(re.findall(r"`([a-z]\w*)=[^`]*`", DOC))  # camelCase: template parameters
    named |= set(re.findall(r"--parameters (\w+)=", DOC))
    assert named <= declared, named - declared
    # Parameters named in passing (`syncTimeout`): of main.bicep, or of the module they name.
    mentioned = set(re.findall(r"`([a-z]+[A-Z]\w*)`", DOC)) - {"appGwPrivateFrontendIpIPv4"}
    anywhere = {
        name
        for path in (ROOT / "bicep").rglob("*.bicep")
        for name in re.findall(r"^param (\w+) ", path.read_text(), flags=re.MULTILINE)
    }
    assert {"syncTimeout", "zoneRedundant", "firewallPrivateIp"} <= mentioned <= anywhere


def test_deploy_doc__files_it_names_exist() -> None:
    paths = set(re.findall(r"`((?:\.github|bicep|docs)/[\w./-]+)`", DOC)) | {"Dockerfile"}
    links = {f"docs/{link}" for link in re.findall(r"\]\(([\w.-]+\.md)\)", DOC)}
    assert "docs/azureml.md" in links
    assert {p for p in paths | links if not (ROOT / p).exists()} == set()


def test_readme__links_the_deploy_doc() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Deploy to Azure" in readme and "(docs/deploy.md)" in readme


def _commands(text: str, start: str) -> list[str]:
    """Shell commands beginning with ``start``, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith(start)]


def test_deploy_doc__deploys_with_the_parameter_file_alone() -> None:
    """[11] Inline `--parameters NAME=VALUE` next to a .bicepparam file is not the file's
    value: every value a step varies is a variable the parameter file reads."""
    deployments = _commands(DOC, "az deployment group create")
    assert len(deployments) >= 4
    for command in deployments:
        assert re.findall(r"--parameters (\S+)", command) == ["bicep/main.bicepparam"], command
    exported = set(re.findall(r"\b(BLOBPI_[A-Z_]+)=", DOC))
    read = set(re.findall(r"readEnvironmentVariable\('(\w+)'", PARAMS))
    runtime = {"BLOBPI_HOST", "BLOBPI_PORT", "BLOBPI_ALLOWLIST", "BLOBPI_CONFIG"}  # the image's
    assert exported - runtime <= read, exported - runtime - read


def test_deploy_doc__names_the_log_tables_the_environments_write() -> None:
    """[11] With the azure-monitor destination and resource-specific diagnostic settings,
    Container Apps logs land in ContainerAppConsoleLogs and ContainerAppSystemLogs; the _CL
    tables belong to the log-analytics destination."""
    for module in ("apps.bicep", "sync-jobs.bicep"):
        text = (ROOT / "bicep/modules" / module).read_text()
        assert "destination: 'azure-monitor'" in text
        assert "logAnalyticsDestinationType: 'Dedicated'" in text
    assert "`ContainerAppConsoleLogs`" in DOC and "`ContainerAppSystemLogs`" in DOC
    assert not re.findall(r"ContainerApp\w*_CL\b", DOC)


def test_deploy_doc__the_blob_zone_link_is_opt_in() -> None:
    """[11] A VNet links one zone of a name, and an Azure ML VNet with private storage has one:
    linking by default fails there."""
    assert re.search(r"^param azureMlLinkBlobZone bool = false$", MAIN, re.MULTILINE)
    assert "readEnvironmentVariable('BLOBPI_AZUREML_LINK_BLOB_ZONE', 'false')" in PARAMS


def test_deploy_doc__every_image_build_runs_inside_the_network() -> None:
    """[3] Each `az acr build` of the guide names the agent pool; the guide never relies on a
    trusted-service bypass for tasks."""
    builds = _commands(DOC, "az acr build")
    assert len(builds) == 2 and all('--agent-pool "$AGENT_POOL"' in b for b in builds)
    assert "networkRuleBypassAllowedForTasks" not in DOC


def test_readme__the_publish_flow_says_the_deployed_server_only_reads() -> None:
    """[11] twine and uv publish fail on a default deployment (serverUploads off): the section
    that documents them says so."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Private packages") :]
    section = section[: section.index("\n## ", 1)]
    assert "twine upload" in section and "uv publish" in section
    assert "serverUploads" in section and "BLOBPI_SERVER_UPLOADS=true" in section
