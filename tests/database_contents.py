"""Everything a clinic database holds, to compare before and after: "nothing was written";
and whether the database itself is whole.

The same on both engines: every table of the schema with all its rows, read
through a connection the engine made (tests/conftest.py, ``engine_location``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.connection import Connection
from storage.engine import open_engine

Contents = dict[str, list[tuple[object, ...]]]


def table_names(conn: Connection) -> list[str]:
    """The database's own tables, as its engine's catalogue lists them."""
    if isinstance(conn, sqlite3.Connection):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    return sorted(str(row[0]) for row in conn.execute(sql))


def contents(conn: Connection) -> Contents:
    """Each table's rows, in an order that does not depend on how they were stored."""
    return {
        table: sorted((tuple(row) for row in conn.execute(f"SELECT * FROM {table}")), key=repr)
        for table in table_names(conn)
    }


def intact(conn: Connection) -> bool:
    """SQLite's own check of every page of the file; a PostgreSQL server checks its pages
    as it reads them (the race and kill tests look at the rows themselves as well)."""
    if isinstance(conn, sqlite3.Connection):
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    return True


def contents_at(location: str | Path) -> Contents:
    """The contents of the database at ``location`` (a file or a postgresql:// URL)."""
    conn = open_engine(location).connect()
    try:
        return contents(conn)
    finally:
        conn.close()
