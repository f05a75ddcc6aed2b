"""``python -m tui``: the same as ``python -m cli`` (the ringround command), as scripts call it."""

import sys

from cli.launch import main

sys.exit(main())
