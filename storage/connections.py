"""Connections for a long-running app: a few kept open, lent to one job at a time.

The app runs its database jobs on worker threads (as many as Python's thread
pool has: up to 32 on a big server). A connection of its own for every thread
would keep that many open for the app's whole life, which on a database
server (PostgreSQL) counts against its ``max_connections`` for every operator
(docs/deploy-postgresql.md). Instead each job borrows an idle connection, or
opens one when all are lent, and gives it back; at most :data:`IDLE_KEPT` stay
open between jobs. A connection is used by one thread at a time, so SQLite's
(opened ``shared``) may move between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from storage.connection import Connection
from storage.engine import Engine

IDLE_KEPT = 2  # connections kept open between jobs: the usual jobs at once (a read, a save)


class Connections:
    """Lends connections to one database, made on demand, a few kept for the next jobs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._idle: list[Connection] = []
        self._lent: list[Connection] = []
        self._closed = False

    @contextmanager
    def borrow(self) -> Iterator[Connection]:
        """A connection for the block alone: an idle one, else a new one."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self.engine.connect(shared=True)
        with self._lock:
            self._lent.append(conn)
        try:
            yield conn
        finally:
            with self._lock:
                # close_all (the app closing) may have closed it meanwhile, while a job ran on.
                lent = conn in self._lent
                if lent:
                    self._lent.remove(conn)
                keep = lent and not self._closed and len(self._idle) < IDLE_KEPT
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    @property
    def open_count(self) -> int:
        """Connections open now, lent or idle."""
        with self._lock:
            return len(self._idle) + len(self._lent)

    def close_all(self) -> None:
        """Close every connection. A job still running on one (the app is closing) meets a
        closed connection; giving it back afterwards is harmless."""
        with self._lock:
            self._closed = True
            for conn in self._idle + self._lent:
                conn.close()
            self._idle.clear()
            self._lent.clear()
