# The sync image: the blobpi image with the reviewed lock and sync settings at the paths
# BLOBPI_ALLOWLIST and BLOBPI_CONFIG name. Built by .github/workflows/allowlist-sync.yml with
# ACR Tasks: --build-arg BASE=REGISTRY/IMAGE.
ARG BASE=blobpi:latest
FROM ${BASE}
COPY allowlist.txt blobpi.toml /etc/blobpi/
ENV BLOBPI_CONFIG=/etc/blobpi/blobpi.toml
CMD ["sync"]
