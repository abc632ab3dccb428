"""``python -m blobpi.mirror``: the ``blobpi`` command."""

import sys

from blobpi.mirror.cli.main import main

sys.exit(main())
