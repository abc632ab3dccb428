"""Read the Dockerfile's instructions, so the tests run exactly what the image runs."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

__all__ = ["Instruction", "buildkit_only", "final_stage", "parse", "runtime"]

# What only BuildKit (Dockerfile frontend 1.x) understands, which the classic builder of ACR
# Tasks' `az acr build` rejects: flags by instruction, heredocs, and the syntax directive.
_BUILDKIT_FLAGS = {
    "RUN": ("--mount", "--network", "--security"),
    "COPY": ("--link", "--chmod", "--parents", "--exclude"),
    "ADD": ("--link", "--chmod", "--checksum", "--keep-git-dir", "--exclude"),
}


@dataclasses.dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ENV, ...
    args: str  # the rest, continuation lines joined


def parse(path: Path) -> list[Instruction]:
    """Instructions in order; comments, parser directives and line continuations handled."""
    return _parse_text(path.read_text())


def _parse_text(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    return instructions


def buildkit_only(text: str) -> list[str]:
    """The BuildKit-only features a Dockerfile's text uses, as "KEYWORD feature" strings."""
    found = [
        "directive syntax"
        for line in text.splitlines()
        if re.match(r"#\s*syntax\s*=", line.strip(), re.IGNORECASE)
    ]
    for ins in _parse_text(text):
        flags = [word for word in ins.args.split() if word.startswith("--")]
        for flag in flags:
            if flag.split("=")[0] in _BUILDKIT_FLAGS.get(ins.keyword, ()):
                found.append(f"{ins.keyword} {flag.split('=')[0]}")
        if re.search(r"<<-?\s*[\"']?\w+", ins.args) and ins.keyword in {"RUN", "COPY", "ADD"}:
            found.append(f"{ins.keyword} heredoc")
    return found


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions after the last FROM."""
    last = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return instructions[last + 1 :]


def exec_form(args: str) -> list[str]:
    """A JSON exec form (``["blobpi", "serve"]``); a shell form is refused on purpose."""
    value = json.loads(args)
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ValueError(f"not an exec form: {args!r}")
    return value


def _env(args: str, env: dict[str, str]) -> None:
    for pair in shlex.split(args):
        key, _, value = pair.partition("=")
        for name, known in env.items():  # ${NAME} as Docker expands it, from earlier ENVs
            value = value.replace(f"${{{name}}}", known).replace(f"${name}", known)
        env[key] = value


@dataclasses.dataclass(frozen=True)
class Runtime:
    env: dict[str, str]  # only what the Dockerfile sets (PATH with ${PATH} left in)
    command: list[str]  # ENTRYPOINT + CMD
    healthcheck: list[str]
    user: str


def runtime(path: Path) -> Runtime:
    """What a container of the final stage runs, and with which environment."""
    env: dict[str, str] = {"PATH": "${PATH}"}
    entrypoint: list[str] = []
    cmd: list[str] = []
    healthcheck: list[str] = []
    user = "root"
    for ins in final_stage(parse(path)):
        if ins.keyword == "ENV":
            _env(ins.args, env)
        elif ins.keyword == "ENTRYPOINT":
            entrypoint = exec_form(ins.args)
        elif ins.keyword == "CMD":
            cmd = exec_form(ins.args)
        elif ins.keyword == "USER":
            user = ins.args
        elif ins.keyword == "HEALTHCHECK":
            healthcheck = exec_form(ins.args[ins.args.index(" CMD ") + 5 :])
    return Runtime(env, entrypoint + cmd, healthcheck, user)
