"""The storage edge: the blob-store protocol, local and Azure adapters, leases, records, pages."""
