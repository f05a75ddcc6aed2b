"""``python -m cli``: the ringround command where its console script is not on PATH."""

import sys

from cli.launch import main

sys.exit(main())
