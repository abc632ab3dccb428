"""A Docker build context for Azure ML that installs with pip from the mirror only. Pure.

Azure ML's conda mode needs the conda channel (for ``python`` and ``pip``) at image build
time, which a firewall blocks. This context needs none: its Dockerfile starts from a base
image that already has Python and pip (an image in the private registry, named with a pinned
tag or digest, never ``:latest``, so builds do not drift), and its one ``RUN`` checks the
image's Python is the one the lock is for, then pip installs ``requirements.txt`` with
hashes required. ``pip.conf`` is the image's pip configuration, loaded last
(``PIP_CONFIG_FILE``), so it overrides the base image's own files: the index is the mirror
(or ``no-index`` for blob-URL lines), and ``extra-index-url`` and ``find-links`` are emptied,
since a second source could answer for a private name (dependency confusion). Jobs that run
``pip install`` in the image later get the same configuration.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from blobpi.mirror.core.errors import ConfigError

__all__ = ["CONTEXT_DIR", "DEFAULT_IMAGE", "build_context", "check_image"]

# Azure ML's Ubuntu 22.04 base image (it has Python and pip), pinned to a dated release
# (Azure/AzureML-Containers release notes), so an image build is the same every time.
DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20241202.v1"
CONTEXT_DIR = "/blobpi"  # where the image keeps requirements.txt and pip.conf
_DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")
_TAG_RE = re.compile(r":[\w][\w.-]{0,127}$")
_IMAGE_RE = re.compile(r"^[a-z0-9]([a-z0-9._/:@-]*[a-z0-9])?$")


def check_image(image: str) -> str:
    """A base image pinned by digest or by a tag other than ``latest``.

    >>> check_image("myacr.azurecr.io/base/py311:2026.11.1")
    'myacr.azurecr.io/base/py311:2026.11.1'
    """
    if not _IMAGE_RE.match(image):
        raise ConfigError(f"--image {image[:80]!r} is not an image reference: give REPO:TAG")
    last = image.rsplit("/", 1)[-1]
    if _DIGEST_RE.search(image):
        return image
    if not _TAG_RE.search(last) or last.endswith(":latest"):
        raise ConfigError(
            f"--image {image!r} is not pinned, so every build may get another image: give "
            "a version tag or a digest (REPO:TAG or REPO@sha256:...), not :latest"
        )
    return image


def _pip_conf(index_url: str | None) -> str:
    source = f"index-url = {index_url}" if index_url else "no-index = true"
    return (
        "# Written by blobpi azureml environment --build-context: pip in this image installs\n"
        "# from the mirror only. Empty values override any the base image sets.\n"
        f"[global]\n{source}\nextra-index-url =\nfind-links =\nno-input = true\n"
    )


def _version_check(pythons: Sequence[str]) -> str:
    """A shell-quoted Python one-liner that fails the build on a Python the lock is not for."""
    accepted, either = ", ".join(pythons), " or ".join(pythons)
    choices = "(" + "".join(f'"{p}", ' for p in pythons) + ")"  # no ' inside the shell quotes
    return (
        'python -c \'import sys; v = "%d.%d" % sys.version_info[:2]; '
        f'sys.exit(None if v in {choices} else "blobpi: this image has Python " + v + '
        f'", the lock is for {accepted}: use an image with Python {either} (--image)")\''
    )


def build_context(
    pip_lines: Sequence[str],
    *,
    index_url: str | None,
    image: str,
    python: str,
    locked: Sequence[str] = (),
) -> dict[str, str]:
    """The context's files by name: ``Dockerfile``, ``requirements.txt`` and ``pip.conf``.
    The Dockerfile refuses an image whose Python is not one the lock was resolved for
    (``locked``, from its header), else not ``python``.

    >>> sorted(build_context(["a==1 --hash=sha256:ab"], index_url="https://m/simple/",
    ...                      image="img:1", python="3.11"))
    ['Dockerfile', 'pip.conf', 'requirements.txt']
    """
    if index_url is None and not all(" @ " in line for line in pip_lines):
        raise ConfigError(
            "without an index URL every line must be a 'name @ URL' line (blobpi azureml "
            "wheel-urls prints them): give --index-url, or the URL lines"
        )
    option = f"--index-url {index_url}" if index_url else "--no-index"
    requirements = "\n".join([option, *pip_lines]) + "\n"
    dockerfile = "\n".join(
        [
            "# Written by blobpi azureml environment --build-context: installs with pip from",
            "# the mirror only, on a pinned base image; no conda channel, no public index.",
            f"FROM {check_image(image)}",
            f"COPY pip.conf requirements.txt {CONTEXT_DIR}/",
            f"ENV PIP_CONFIG_FILE={CONTEXT_DIR}/pip.conf",
            f"RUN {_version_check(tuple(locked) or (python,))} \\",
            "    && python -m pip install --no-cache-dir --require-hashes \\",
            f"        -r {CONTEXT_DIR}/requirements.txt",
            "",
        ]
    )
    return {
        "Dockerfile": dockerfile,
        "requirements.txt": requirements,
        "pip.conf": _pip_conf(index_url),
    }
