"""Removing the files of a database that a failed command made (storage/file_modes.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.file_modes import remove_database_files


def test_a_failed_database_leaves_no_companion_file(tmp_path: Path) -> None:
    database = tmp_path / "new clinic.db"
    sqlite3.connect(database).close()
    for suffix in ("-wal", "-shm", "-journal"):  # a rollback journal too: a copy writes one
        Path(f"{database}{suffix}").write_bytes(b"left by a failed copy")
    keep = tmp_path / "new clinic.db.bak"
    keep.write_bytes(b"someone else's")
    remove_database_files(database)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new clinic.db.bak"]


def test_files_already_gone_are_no_error(tmp_path: Path) -> None:
    remove_database_files(tmp_path / "never made.db")
    assert list(tmp_path.iterdir()) == []
