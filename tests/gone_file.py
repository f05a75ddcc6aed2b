"""The database file taken away under a running program: deleted, moved, or replaced.

As an administrator does it with ``rm``, ``mv`` (the -wal and -shm files with
it), or ``mv`` of a restored copy over the file. Used by the storage tests
(tests/storage/test_moved_file.py) and the app's (tests/tui/test_tui_file_gone.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from storage.engine import open_engine
from storage.file_modes import COMPANIONS


def moved_to(path: Path) -> Path:
    """Where :func:`moved` puts the file."""
    return Path(f"{path}.old")


def deleted(path: Path) -> None:
    for suffix in ("", *COMPANIONS):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def moved(path: Path) -> None:
    for suffix in ("", *COMPANIONS):
        if Path(f"{path}{suffix}").exists():
            os.rename(f"{path}{suffix}", f"{moved_to(path)}{suffix}")


def moved_back(path: Path) -> None:
    for suffix in ("", *COMPANIONS):
        if Path(f"{moved_to(path)}{suffix}").exists():
            os.rename(f"{moved_to(path)}{suffix}", f"{path}{suffix}")


def replaced(path: Path) -> None:
    """Another database (a restored copy, say) renamed over the file, as ``mv`` does."""
    other = path.with_name("restored.db")
    open_engine(other).connect(create=True).close()
    moved(path)
    os.rename(other, path)


GONE: dict[str, Callable[[Path], None]] = {"deleted": deleted, "moved": moved, "replaced": replaced}
