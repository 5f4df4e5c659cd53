"""``python -m workbench``: the ``workbench`` command (``workbench.cli``); nothing else here."""

import sys

from workbench.cli import main

sys.exit(main())
