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
    assert named and named <= declared


def test_deploy_doc__files_it_names_exist() -> None:
    paths = set(re.findall(r"`((?:\.github|bicep|docs)/[\w./-]+)`", DOC)) | {"Dockerfile"}
    links = {f"docs/{link}" for link in re.findall(r"\]\(([\w.-]+\.md)\)", DOC)}
    assert "docs/azureml.md" in links
    assert {p for p in paths | links if not (ROOT / p).exists()} == set()


def test_readme__links_the_deploy_doc() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Deploy to Azure" in readme and "(docs/deploy.md)" in readme
