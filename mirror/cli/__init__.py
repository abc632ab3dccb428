"""The ``blobpi`` command line: one module per family of subcommands."""
