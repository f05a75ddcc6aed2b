"""``python -m tui``: the ringround command where its console script is not on PATH."""

import sys

from tui.cli import main

sys.exit(main())
