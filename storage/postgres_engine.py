"""The PostgreSQL engine: a clinic chain's database on a PostgreSQL server (storage/engine.py).

- Opening: a psycopg connection made to behave like SQLite's
  (storage/postgres_connection.py), the schema brought up to date
  (storage/postgres_schema.py) inside a write, so two programs starting at
  once migrate one after the other. The URL never holds a password: libpq
  reads it from ~/.pgpass, PGPASSWORD or a service file.
- Write transactions: storage/postgres_connection.py's ``write`` (BEGIN and
  the writers' advisory lock), which storage.engine.write begins for these
  connections.
- Noticing commits: :class:`NotifyWatch`, LISTEN/NOTIFY; the change-feed
  triggers notify at commit, so an idle clinic costs no query at all.
- The clock: the database server's. Operators of a chain sit on several
  application servers whose clocks may differ by minutes; liveness and
  staleness compare times written by all of them, so all of them read one
  clock. The engine reads the server's time when it first connects and
  again at every heartbeat (:meth:`PostgresEngine.resync`) and carries it
  forward with this computer's monotonic clock in between
  (:meth:`PostgresEngine.now`): no round trip per reading, and this
  computer's wall clock, however wrong or however it is set, plays no part.
"""

from __future__ import annotations

import select
import threading
import time
from contextlib import suppress
from urllib.parse import urlsplit

import psycopg

from storage.changes import Changes, changes_since, latest
from storage.connection import Connection
from storage.database import DatabaseUnreachable, ReadOnlyDatabase
from storage.errors import BadInput
from storage.i18n import _
from storage.postgres_connection import (
    PostgresConnection,
    connection_params,
    not_an_address,
    write,
)
from storage.postgres_schema import MIGRATIONS, NOTIFY_CHANNEL, migrate, schema_version

SERVER_CLOCK = "SELECT extract(epoch FROM clock_timestamp())"


def checked_url(url: str) -> str:
    """``url`` if its host part can be read; BadInput with the sentence if not (a ``[``
    without its ``]``). An address with a password never gets here (storage.engine.open_engine).
    """
    try:
        urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL"
        raise BadInput(
            _("{location} is not a PostgreSQL address: its host part cannot be read.").format(
                location=url
            )
        ) from None
    return url


class PostgresEngine:
    """A database on a PostgreSQL server; follows storage.engine.Engine."""

    def __init__(self, url: str) -> None:
        self.location = checked_url(url)
        try:
            self._params = connection_params(url)
        except psycopg.Error as error:
            raise not_an_address(url, str(error)) from None
        # The server's time, read at this computer's monotonic time: (server, monotonic).
        self._read_at: tuple[float, float] | None = None

    def connect(
        self, *, create: bool = False, reading: bool = False, shared: bool = False
    ) -> PostgresConnection:
        """A connection, the schema up to date (see storage.engine.Engine.connect).

        ``reading`` and ``shared`` need nothing here: what a role may do is the
        server's to say, and a psycopg connection may move between threads.
        """
        conn = PostgresConnection(self._params, self.location)
        try:
            if self._read_at is None:
                self.resync(conn)
            if schema_version(conn) != len(MIGRATIONS):
                self._migrate(conn, create=create)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: PostgresConnection, *, create: bool) -> None:
        try:
            with write(conn):
                migrate(conn, self.location, create=create)
        except ReadOnlyDatabase:
            if schema_version(conn) == 0:  # an empty database: there is nothing to upgrade
                raise ReadOnlyDatabase(
                    _(
                        "The database {location} has no ringround tables yet, and your role may "
                        "not make them; the administrator makes them as the database's owner "
                        "(docs/deploy-postgresql.md, step 6)."
                    ).format(location=self.location)
                ) from None
            raise ReadOnlyDatabase(
                _(
                    "The database {location} needs its tables brought up to date, which your "
                    "role may not do; ask the administrator to start ringround once as the "
                    "database's owner (docs/deploy-postgresql.md)."
                ).format(location=self.location)
            ) from None

    def check_integrity(self, conn: Connection) -> None:
        """Nothing to do: the server checks its own pages and refuses what it finds damaged."""

    def watch(self) -> NotifyWatch:
        return NotifyWatch(self)

    def now(self) -> int:
        if self._read_at is None:  # no connection made yet: nothing to compare with anyway
            return int(time.time())
        server, at = self._read_at
        return int(server + time.monotonic() - at)

    def resync(self, conn: Connection) -> None:
        """Read the server's clock again (the heartbeat calls this): it drifts, or is set."""
        before = time.monotonic()
        server = float(conn.execute(SERVER_CLOCK).fetchone()[0])
        after = time.monotonic()
        self._read_at = (server, (before + after) / 2)


# The first PostgreSQL that has idle_session_timeout (14; ringround runs on 13 too).
IDLE_SESSION_TIMEOUT_SINCE = 140000


class NotifyWatch:
    """Tells what others committed, woken by the change feed's notifications.

    One connection of its own LISTENs on the feed's channel; a look first takes
    the notifications that arrived (no round trip), and only when one did reads
    the change feed. A lost connection raises DatabaseUnreachable (the app says
    so in its header); the next look connects again and, once back, reports
    an incomplete change (read everything again), since commits made meanwhile
    were not announced. Used by one thread at a time (the guard).
    """

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine
        self._guard = threading.Lock()
        self._closed = threading.Event()
        self._conn: PostgresConnection | None = self._listen()
        self._seq = latest(self._conn)

    def _listen(self) -> PostgresConnection:
        conn = self._engine.connect()
        try:
            if conn.raw.info.server_version >= IDLE_SESSION_TIMEOUT_SINCE:
                # Listening is sitting idle: a server set to end idle sessions (for the
                # forgotten ones) would end this one whenever nobody commits for that long,
                # and each time the app would announce the server gone and back.
                conn.execute("SET idle_session_timeout = 0")
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except BaseException:
            conn.close()
            raise
        return conn

    def changes(self) -> Changes | None:
        """What changed since the last call; None when nobody committed at all."""
        with self._guard:
            if self._conn is None:
                if self._closed.is_set():
                    return None  # closed: never connects again
                return self._back()
            try:
                if not self._conn.announcements():
                    return None
                found = changes_since(self._conn, self._seq)
            except DatabaseUnreachable:
                self._conn.close()
                self._conn = None
                raise
            self._seq = found.seq
            return found

    def _back(self) -> Changes:
        """Connected again after a loss: everything may have changed meanwhile."""
        conn = self._listen()
        try:
            seq = latest(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        found = Changes(self._seq, seq, frozenset(), False)
        self._seq = seq
        return found

    def wait(self, seconds: float) -> None:
        """Until the listening connection's socket has something to read (a notification,
        or the server's goodbye), the watch is closed, or ``seconds`` have passed.

        No round trip: a clinic where nobody commits costs nothing. While the
        connection is lost, just the time: the next look connects again.
        """
        with self._guard:
            conn = self._conn
            socket = conn.socket if conn is not None and not conn.lost else None
        if socket is None or self._closed.is_set():
            self._closed.wait(seconds)
            return
        with suppress(OSError, ValueError):  # closed meanwhile: the caller looks at once
            select.select([socket], [], [], seconds)

    def close(self) -> None:
        self._closed.set()
        with self._guard:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
