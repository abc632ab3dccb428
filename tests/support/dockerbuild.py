"""Run a build context's Dockerfile without a Docker engine: its COPY, ENV and RUN lines, in
order, against a directory that stands for the image's root and a venv whose ``python``
stands for the base image's. What the RUN line does is run as written; only the image's
absolute paths are mapped into the stand-in root."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from tests.deploy.dockerfile import parse
from tests.support.processes import client_env

__all__ = ["run_dockerfile"]


def run_dockerfile(context: Path, root: Path, venv: Path) -> subprocess.CompletedProcess[str]:
    """The result of the last RUN that ran (a failing one stops the build, as Docker's)."""
    env = client_env({"PATH": f"{venv / 'bin'}:/usr/bin:/bin"})
    del env["PIP_CONFIG_FILE"]  # the Dockerfile sets its own, as it does in the image
    result: subprocess.CompletedProcess[str] | None = None

    def _mapped(text: str) -> str:
        return text.replace(" /", f" {root}/").replace("=/", f"={root}/")

    for ins in parse(context / "Dockerfile"):
        if ins.keyword == "COPY":
            *sources, dest = shlex.split(ins.args)
            target = root / dest.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            for source in sources:
                shutil.copy(context / source, target / Path(source).name)
        elif ins.keyword == "ENV":
            for pair in shlex.split(_mapped(" " + ins.args)):
                key, _, value = pair.partition("=")
                env[key] = value
        elif ins.keyword == "RUN":
            result = subprocess.run(
                ["/bin/sh", "-c", _mapped(" " + ins.args)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if result.returncode != 0:
                return result
    assert result is not None, "the Dockerfile has no RUN line"
    return result
