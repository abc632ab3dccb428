"""Benchmarks of the server and the sync (``make bench``)."""
