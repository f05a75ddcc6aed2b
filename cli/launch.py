"""The console script's entry point: the program loads with the garbage collector paused.

Loading the program creates some 70,000 objects that live as long as it does
(modules, classes, functions, Textual's styles) and next to no garbage, yet
Python's cyclic collector would walk them again and again while they are
made (docs/performance.md, "Start-up"). So
the collector is paused here, before anything is imported, and runs again as
soon as the loading is over: when a command starts (cli/root.py), or, for the
app, once the list picker is on the screen (tui/app.py), which also moves what
was loaded out of the collector's sight (``gc.freeze``) so that its later
rounds skip it. Objects are still freed as soon as nothing refers to them;
only reference cycles wait for the collector.
"""

from __future__ import annotations

import gc


def main() -> int:
    """Run the ringround command (cli/main.py) and return its exit code."""
    gc.disable()
    from cli.main import main as run  # imported now, with the collector paused

    return run()
