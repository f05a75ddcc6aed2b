"""The ids a table gives out: the highest ever given, and the next after ids written by hand.

Each engine keeps its own count, so this is engine-specific (the connection
tells which; nothing here imports psycopg):

- SQLite: an ``INTEGER PRIMARY KEY`` takes the highest id in the table plus
  one, so rows inserted with explicit ids need nothing more; the audit trail's
  AUTOINCREMENT keeps the highest id ever given in ``sqlite_sequence``, even
  after the newest entries were deleted.
- PostgreSQL (storage/postgres_schema.py): each id is an identity column whose
  sequence only counts up. Rows inserted with explicit ids (``ringround
  copy``, the demo clinic, imports that number their rows) do not move it, so
  :func:`catch_up_ids` must follow them in the same transaction, or the next
  ordinary insert would take an id already used. Its ``last_value`` is the
  highest id ever given.
"""

from __future__ import annotations

import sqlite3

from storage.connection import Connection


def highest_id_given(conn: Connection, table: str) -> int:
    """The highest id ``table`` ever gave (0 for none), even if that row is gone.

    SQLite knows it only for an AUTOINCREMENT table (the audit trail).
    """
    if isinstance(conn, sqlite3.Connection):
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    else:
        row = conn.execute(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence(?, 'id')::regclass)", (table,)
        ).fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def highest_id_goes_back_with_a_failed_save(conn: Connection) -> bool:
    """Whether the highest id given is rolled back with a save that failed.

    SQLite's ``sqlite_sequence`` is a table, written in the save's own
    transaction. A PostgreSQL sequence never goes back: a save that failed still
    used its ids, and after a server crash, or on a standby that takes over, it
    stands up to 32 ids ahead of the last one given (the server writes that far
    ahead to its log). There an id no row holds proves nothing by itself.
    """
    return isinstance(conn, sqlite3.Connection)


def set_highest_id_given(conn: Connection, table: str, highest: int) -> None:
    """Make ``highest`` the highest id ``table`` ever gave, so the next id is ``highest + 1``.

    0 counts from 1 again (a new demo clinic's audit trail); a copied clinic
    keeps its source's count, so deleted newest audit entries still show.
    SQLite keeps this only for an AUTOINCREMENT table (the audit trail).
    """
    if isinstance(conn, sqlite3.Connection):
        conn.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        if highest > 0:
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest))
    else:
        conn.execute(
            "SELECT setval(pg_get_serial_sequence(?, 'id'), greatest(?, 1), ? > 0)",
            (table, highest, highest),
        )


def catch_up_ids(conn: Connection) -> None:
    """After rows were inserted with explicit ids: the next ids follow the highest one there.

    Nothing to do on SQLite. On PostgreSQL every identity sequence of the
    schema is moved up to its column's highest value, never down (a sequence
    ahead of the table remembers ids given to rows since deleted). Inside the
    write transaction that inserted the rows.
    """
    if not isinstance(conn, sqlite3.Connection):
        # storage/postgres_schema.py: catch_up_function, with the owner's rights.
        conn.execute("SELECT ringround_catch_up_ids()")
