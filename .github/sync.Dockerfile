# The sync image: the blobpi image with the reviewed lock and sync settings at the paths
# BLOBPI_ALLOWLIST and BLOBPI_CONFIG name. Built by .github/workflows/allowlist-sync.yml on the
# registry's agent pool inside the network: --build-arg BASE=REGISTRY/IMAGE (no default, so a
# build without it fails instead of picking a moving tag).
ARG BASE
FROM ${BASE}
COPY allowlist.txt blobpi.toml /etc/blobpi/
ENV BLOBPI_CONFIG=/etc/blobpi/blobpi.toml
CMD ["sync"]
