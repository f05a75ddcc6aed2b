"""Which parts of ringround's schema a database file lacks (``ringround check``).

A file of the current format should hold every table, column, index and
trigger that the migrations (storage/schema.py) make. One that lacks some was
changed by another program or by hand: a missing table or column stops the
operators, a missing index makes every list slow, a missing trigger loses what
it keeps. The expected parts are those of a database made in memory by the
same migrations, so they never drift from the schema.

sqlite-utils reads the schema of both (tables, their columns and indexes,
triggers): a few lines instead of a query of ``sqlite_master`` and the
``table_info`` / ``index_list`` pragmas for each table.
"""

from __future__ import annotations

import sqlite3
from functools import cache

import sqlite_utils

from storage.i18n import _
from storage.schema import migrate


def _parts(conn: sqlite3.Connection) -> tuple[tuple[str, str, str], ...]:
    """Every part of the schema as (kind, name, its table), in the order the schema lists them."""
    # No plugins and no PRAGMA recursive_triggers: the connection is only read.
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    parts: list[tuple[str, str, str]] = []
    for table in db.tables:
        if table.name.startswith("sqlite_"):
            continue  # SQLite's own (sqlite_sequence comes and goes with AUTOINCREMENT rows)
        parts.append(("table", table.name, table.name))
        parts += [("column", f"{table.name}.{column.name}", table.name) for column in table.columns]
        # Indexes made by CREATE INDEX; those a constraint implies come with their table.
        parts += [
            ("index", index.name, table.name) for index in table.indexes if index.origin == "c"
        ]
    parts += [("trigger", trigger.name, trigger.table) for trigger in db.triggers]
    return tuple(parts)


@cache
def _expected() -> tuple[tuple[str, str, str], ...]:
    """The parts of a database that the migrations have just made."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn)
        return _parts(conn)
    finally:
        conn.close()


@cache
def layouts() -> dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[type, ...]]]:
    """Each table's columns, primary key and the kind of value each column holds (int for
    INTEGER, str for TEXT), as the migrations make them (storage/copying.py).

    On PostgreSQL too: its schema has the same tables and columns by name, as bigint and text.
    """
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn)
        db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
        return {
            table.name: (
                tuple(table.columns_dict),
                tuple(table.pks),
                tuple(table.columns_dict.values()),
            )
            for table in db.tables
            if not table.name.startswith("sqlite_")
        }
    finally:
        conn.close()


def missing_parts(conn: sqlite3.Connection) -> list[str]:
    """The parts of the current format's schema that the database on ``conn`` lacks, in words.

    A missing table is named alone, without its columns, indexes and triggers.
    ``conn`` must be at the current format (PRAGMA user_version); it is only read.
    """
    words = {
        "table": _("table {name}"),
        "column": _("column {name}"),
        "index": _("index {name}"),
        "trigger": _("trigger {name}"),
    }
    present = set(_parts(conn))
    missing = [part for part in _expected() if part not in present]
    missing_tables = {table for kind, _name, table in missing if kind == "table"}
    return [
        words[kind].format(name=name)
        for kind, name, table in missing
        if kind == "table" or table not in missing_tables
    ]
