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
  already as a StorageError with its sentence.

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
