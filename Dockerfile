# syntax=docker/dockerfile:1
# One image for the index server and the sync worker; the command decides:
#   docker run IMAGE            -> blobpi serve (the default CMD)
#   docker run IMAGE sync       -> blobpi sync  (the Container Apps job overrides the args)
# Configured only by environment variables (BLOBPI_*, AZURE_CLIENT_ID); see docs/deploy.md.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# Stage 1: build the blobpi wheel and a wheelhouse of its dependencies (tests/deploy checks
# that a wheel built this way installs with --no-index and serves).
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mirror/ mirror/
COPY sync/ sync/
COPY deploy/ deploy/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

# Stage 2: the wheels installed --no-index into a venv on slim Python, run as a non-root user.
# The wheelhouse is bind-mounted for the one RUN, so neither it nor pip's cache nor any build
# tool stays in the image; the venv gets no pip of its own.
FROM ${PYTHON_IMAGE}
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-index \
        --find-links /wheels blobpi \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin blobpi
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BLOBPI_HOST=0.0.0.0 \
    BLOBPI_PORT=8080 \
    BLOBPI_ALLOWLIST=/etc/blobpi/allowlist.txt
USER 10001
WORKDIR /tmp
EXPOSE 8080
# Docker's own health check; Container Apps uses the probes in bicep/modules/apps.bicep instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('BLOBPI_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["blobpi"]
CMD ["serve"]
