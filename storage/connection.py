"""What storage code uses of a database connection, whichever engine made it.

Every SQL statement in storage/ runs on a :class:`Connection`: SQLite's
``sqlite3.Connection`` is one as it is, and the PostgreSQL engine hands out an
adapter that behaves the same way (storage/postgres_engine.py). The rules both
keep (docs/design.md, "The storage seam"):

- autocommit: a statement outside :func:`storage.engine.write` commits by
  itself; ``in_transaction`` tells whether a write transaction is open;
- ``?`` placeholders, parameters as a sequence;
- rows are plain tuples, read by position;
- an error leaves as the engine's own (``sqlite3.Error``) or, from PostgreSQL,
  already as a StorageError with its sentence;
- a statement of a write transaction whose result nobody reads may go through
  :func:`execute_soon`: a database server gets it with the transaction's next
  statement, one round trip for both;
- a statement sent again and again may be marked :func:`preparable`.

Only the modules of one engine (storage/database.py, storage/sqlite_engine.py,
storage/backup.py, the file checks of storage/health.py) use more of SQLite's
connection than this.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    """The result of one statement: its rows, and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Sequence[Sequence[Any]]:
        """The columns of the rows (the name first in each), as the DB-API has it."""
        ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ...) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """One connection to the clinic database, used by one thread at a time."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


# Statements marked by preparable(): a database server may prepare them (below).
PREPARABLE: set[str] = set()


def preparable(sql: str) -> str:
    """Mark ``sql`` as one sent again and again, whose every parameter's type follows
    from where it stands (a column it is compared with or written to, or a CAST).

    A PostgreSQL connection then prepares it once per session, so that the
    server parses and plans it once instead of every time
    (storage/postgres_connection.py); SQLite caches its statements anyway.
    Returns ``sql``.
    """
    PREPARABLE.add(sql)
    return sql


def execute_soon(conn: Connection, sql: str, parameters: Sequence[Any] = ()) -> None:
    """Run a statement of a write transaction whose result nobody reads.

    SQLite runs it at once. A PostgreSQL connection sends it with the
    transaction's next statement or its COMMIT, one round trip to the server
    for both (storage/postgres_connection.py); an error it meets there fails
    the write as it would have failed here, and nothing of the write is saved.
    """
    if not conn.in_transaction:
        raise RuntimeError("execute_soon belongs inside a write transaction")
    # Looked up rather than checked against a runtime Protocol: such an isinstance
    # costs about 10 µs, several times a save, inside the writers' turn.
    send_soon = getattr(conn, "execute_soon", None)
    if send_soon is None:
        conn.execute(sql, parameters)
    else:
        send_soon(sql, parameters)
