"""The sync's I/O edges: the upstream client, fetching, applying, pruning, reports, locks."""
