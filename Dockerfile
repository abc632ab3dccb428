# One image for the index server and the sync worker; the command decides:
#   docker run IMAGE            -> blobpi serve (the default CMD)
#   docker run IMAGE sync       -> blobpi sync  (the Container Apps job overrides the args)
# Configured only by environment variables (BLOBPI_*, AZURE_CLIENT_ID); see docs/deploy.md.
# Plain Dockerfile syntax, no BuildKit-only features (RUN --mount, heredocs, COPY --link or
# --chmod, a syntax directive): ACR Tasks builds (az acr build) use the classic builder.

# The base image; docs/deploy.md imports it into the registry, so a build inside the network
# pulls it from there: --build-arg PYTHON_IMAGE=REGISTRY/python:3.12-slim-bookworm.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# Stage 1: build the blobpi wheel and a wheelhouse of its dependencies, then install them
# --no-index into a venv without pip (tests/deploy checks that a venv built this way serves).
# PIP_INDEX_URL: the index the build may reach (inside the network: the upstream, which the
# firewall allows); unset, pip's own default.
FROM ${PYTHON_IMAGE} AS build
ARG PIP_INDEX_URL
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mirror/ mirror/
COPY sync/ sync/
COPY deploy/ deploy/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels . \
    && python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-index \
        --find-links /wheels blobpi

# Stage 2: the venv alone on the same slim Python (its interpreter links to /usr/local/bin),
# run as a non-root user: no wheelhouse, pip cache or build tool stays in the image, and the
# venv has no pip of its own (the base interpreter's pip is /usr/local/bin/python -m pip).
FROM ${PYTHON_IMAGE}
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin blobpi
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
