"""The index server: the Starlette app, access control, page cache, metrics, upload API."""
