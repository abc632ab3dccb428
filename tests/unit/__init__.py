"""Pure units: no I/O beyond temporary files."""
