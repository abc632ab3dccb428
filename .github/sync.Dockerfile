# The sync image: the blobpi image with the reviewed lock at the path BLOBPI_ALLOWLIST names.
# Built by .github/workflows/allowlist-sync.yml with ACR Tasks: --build-arg BASE=REGISTRY/IMAGE.
ARG BASE=blobpi:latest
FROM ${BASE}
COPY allowlist.txt /etc/blobpi/allowlist.txt
CMD ["sync"]
