"""The PostgreSQL engine's connections and write transactions (behind storage/engine.py).

storage/ is written once, for connections that behave like SQLite's in
autocommit mode (storage/connection.py). :class:`PostgresConnection` makes a
psycopg connection behave so:

- autocommit, with transactions only where :func:`write` begins one;
- the shared SQL's ``?`` placeholders become psycopg's ``%s`` (and a literal
  ``%`` becomes ``%%``), once per statement text; statements without
  parameters are sent as they are;
- parameters are bound by psycopg on the client (``ClientCursor``), so an
  untyped one (``? IS NULL``) means what it means on SQLite; ``True`` and
  ``False`` are sent as 1 and 0, SQLite's flags;
- rows are plain tuples; ``numeric`` results (``sum`` of integers, ``avg``,
  ``extract``) come back as int when whole and float otherwise, as SQLite
  returns them;
- psycopg's errors leave as our StorageError family, each one sentence naming
  the database; a connection lost (server down or restarting, network) is
  :class:`DatabaseUnreachable`, and the next statement outside a transaction
  connects again, so a long-running app goes on after a server restart;
- psycopg's own log stays silent: what it logs is a second failure it ignores
  while the first leaves as our sentence (a batch of inserts cut short by the
  server: "error ignored terminating <psycopg.Pipeline ...>"), and Python would
  print it on the terminal, under the sentence.

:func:`write` is the engine's write transaction: ``BEGIN``, then the
writers' advisory lock (``pg_advisory_xact_lock``, held until the commit), so
writers take turns exactly as SQLite's ``BEGIN IMMEDIATE`` makes them: what a
write reads cannot change before it commits, with no ``FOR UPDATE`` in the
lock protocol; readers never wait. docs/design.md ("The storage seam") says
why and what it costs.
"""

from __future__ import annotations

import logging
import os
import re
import select
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from functools import lru_cache
from itertools import count
from typing import Any

import psycopg
import psycopg.conninfo
from psycopg import pq
from psycopg.adapt import Buffer, Loader
from psycopg.types.numeric import IntDumper

from storage import admin_log
from storage.connection import PREPARABLE, Connection
from storage.database import (
    DatabaseUnreachable,
    DiskFull,
    LoginRefused,
    NotADatabase,
    ReadOnlyDatabase,
    StorageError,
    busy,
)
from storage.errors import BadInput, RingroundError
from storage.i18n import _
from storage.postgres_schema import WRITE_LOCK
from storage.server_logins import address, as_tried, login_refused, secure_connection_failure

_PSYCOPG_LOG = logging.getLogger("psycopg")
_PSYCOPG_LOG.addHandler(logging.NullHandler())  # never Python's last-resort output on stderr
_PSYCOPG_LOG.propagate = False

# How long a program waits for the server to answer a new connection (libpq waits for
# ever by default); a URL that sets connect_timeout itself keeps its own.
CONNECT_TIMEOUT_S = 10
# Settings of every session; a URL's own "options" come first and win. lock_timeout is
# SQLite's busy timeout: a writer that cannot get the writers' lock in 5 s is told the
# database is busy. A program stopped inside a transaction (SIGSTOP, a hung terminal)
# would hold the writers' lock and stop every operator; the server ends such a session
# after a minute, which no transaction of ringround comes near. statement_timeout is off
# whatever the server, database or role sets (against other programs' runaway queries):
# ringround's statements wait for locks at most lock_timeout, and an export or a copy of a
# big clinic may take as long as its data; cut off, it read "busy with another operator's
# save". The search path is public, where ringround's tables are (docs/postgresql-roles.sql)
# whatever the role's (PostgreSQL's advice for a secure set-up takes public off it: then
# ringround took its own clinic for another program's tables).
IN_SCHEMA_PUBLIC = "-c search_path=public"
SESSION_OPTIONS = (
    "-c lock_timeout=5000 -c idle_in_transaction_session_timeout=60000 -c statement_timeout=0 "
    + IN_SCHEMA_PUBLIC
)
# Text travels as UTF-8 whatever PGCLIENTENCODING, the role or the database would set:
# ringround's text is Python's, which holds every alphabet and emoji; another client
# encoding fails on the first letter it lacks ("has no equivalent in encoding WIN1251").
TEXT_AS_UTF8 = {"client_encoding": "UTF8"}
# A server gone from the network (its host lost, a cable pulled, a firewall dropping
# packets) sends nothing: no reset, no goodbye. Without these the operating system notices
# only after about 15 minutes of resending a statement (its retransmission limit) or two
# hours of silence on an idle connection, and meanwhile an operator's save shows "Saving..."
# and the header does not say that the connection is lost. With them a connection to a
# silent server ends within about 15 seconds and is reported as one that does not answer:
# - tcp_user_timeout: what was sent (a claim, a save, its COMMIT) unacknowledged for 15 s.
#   The server's computer acknowledges what arrives at once, however long the statement
#   then runs, so a slow statement never trips it; 15 s still rides out a brief drop
#   (a Wi-Fi access point changed, a link or VPN re-established), which TCP resends
#   through several times within it.
# - keepalives: an idle connection (the change watch's LISTEN, an app between saves) is
#   probed after 5 s of silence, every 5 s; with tcp_user_timeout the system gives up on it
#   once the server has been silent for 15 s, after at most 2 unanswered probes otherwise.
#   A probe is a few bytes: nothing for a clinic's network or the server.
# An address that sets any of these keeps its own (docs/deploy-postgresql.md, step 3).
NETWORK_SILENCE = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 5,
    "keepalives_count": 2,
    "tcp_user_timeout": 15_000,  # milliseconds
}

# A save whose COMMIT got no answer (the server restarting, the network gone) asks the
# server, once it answers again, whether that transaction committed; this long at most,
# about what a restart takes, before the operator is told the outcome is unknown.
IN_DOUBT_FOR = 30.0
IN_DOUBT_PAUSE = 0.5  # seconds between tries to reach the server again meanwhile

# A statement with parameters sent this many times is prepared on the session at the next
# write's start (PostgresConnection._prepare_frequent).
PREPARE_AFTER = 3
# At most this many per session (the server keeps each one's plan), the first ones so sent.
PREPARED_AT_MOST = 200

# What closing a connection waits at most, twice: for the server to take the cancel of a
# statement another thread still runs on it, and for that statement to end.
CLOSE_PATIENCE = 2.0

# Reads of an idle connection's socket before a statement: a shutting-down server sends
# its goodbye (FATAL 57P01) and then closes, which takes two reads to see.
GOODBYE_READS = 3

# A write transaction's start, sent with its first statement (PostgresConnection.begin_write).
_BEGIN_WRITE = (
    "BEGIN ISOLATION LEVEL READ COMMITTED;"
    f" SELECT pg_advisory_xact_lock({WRITE_LOCK}), pg_current_xact_id()::text"
)
_PLACEHOLDER = re.compile(r"%|\?")
_IN_TRANSACTION = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)
# SQLSTATEs that mean the server went away or is going (class 08 is the connection's own).
_GONE = frozenset({"57P01", "57P02", "57P03"})
# What a server says to a new connection while it starts or stops ("the database system
# is starting up", "... is shutting down", "... is in recovery mode").
_NOT_ACCEPTING = "the database system is"
# What psycopg says when libpq refuses the connection's parameters before trying the network.
_NOT_STARTED = "connection is bad: "
# How libpq begins what went wrong with a server it tried: then the address was readable.
_TRIED = "connection to server "
# What psycopg's own look-up of the host says when the port is no number (getaddrinfo's
# EAI_SERVICE): libpq would have refused it as an invalid port number.
_PORT_NOT_A_NUMBER = "Servname not supported"
_BUSY = frozenset({"55P03", "40P01", "40001", "57014"})
_NO_RIGHTS = "42501"  # insufficient privilege: the role lacks a right it needs
_READ_ONLY = "25006"  # read-only SQL transaction


def numbered_parameters(sql: str) -> str:
    """The shared SQL for PREPARE: each ``?`` becomes ``$1``, ``$2``... (no ``?`` in its
    literals)."""
    numbers = count(1)
    return re.sub(r"\?", lambda _found: f"${next(numbers)}", sql)


@lru_cache(maxsize=1024)
def psycopg_sql(sql: str) -> str:
    """The shared SQL for psycopg: ``?`` -> ``%s``, ``%`` -> ``%%`` (no ``?`` in its literals)."""
    return _PLACEHOLDER.sub(lambda found: "%s" if found.group() == "?" else "%%", sql)


def connection_params(url: str) -> dict[str, Any]:
    """libpq's parameters for ``url``: its own, and ours where it says nothing."""
    params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(url)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    params.setdefault("application_name", "ringround")
    for name, value in NETWORK_SILENCE.items():
        params.setdefault(name, value)
    params["options"] = f"{SESSION_OPTIONS} {params.get('options', '')}".strip()
    params.update(TEXT_AS_UTF8)
    return params


class _FlagDumper(IntDumper):
    """True and False as 1 and 0: flags are integer columns, as on SQLite."""

    def dump(self, obj: Any) -> Buffer | None:
        return super().dump(int(obj))


class _NumberLoader(Loader):
    """``numeric`` as SQLite would return it: an int when whole, else a float."""

    def load(self, data: Buffer) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


def open_raw(params: dict[str, Any], location: str) -> psycopg.Connection[Any]:
    """A new autocommit psycopg connection binding on the client; StorageError if not."""
    try:
        raw: psycopg.Connection[Any] = psycopg.connect(
            autocommit=True, cursor_factory=psycopg.ClientCursor, **params
        )
    except psycopg.Error as error:
        raise refused(error, location) from None
    encoding = stored_encoding(raw)
    if encoding != "UTF8":
        raw.close()
        raise not_utf8(location, encoding)
    raw.adapters.register_dumper(bool, _FlagDumper)
    raw.adapters.register_loader("numeric", _NumberLoader)
    return raw


def stored_encoding(raw: psycopg.Connection[Any]) -> str:
    """How the database stores text: the server says it when the connection starts."""
    return raw.info.parameter_status("server_encoding") or "?"


def not_utf8(location: str, encoding: str) -> NotADatabase:
    """A database that stores text in another encoding than UTF-8: names and comments in
    other alphabets, and emoji, would fail or be garbled (and SQL_ASCII stores bytes
    without knowing them as letters), so ringround refuses it."""
    return NotADatabase(
        _(
            "The database {location} stores text as {encoding}, which cannot hold every name "
            "and comment; ringround needs a database made with ENCODING 'UTF8' "
            "(docs/deploy-postgresql.md, step 2)."
        ).format(location=location, encoding=encoding)
    )


def not_an_address(location: str, reason: str) -> BadInput:
    """The address is the problem (libpq's ``reason``), not a server that does not answer."""
    return BadInput(
        _("{location} is not a PostgreSQL address libpq understands: {error}.").format(
            location=location, error=" ".join(reason.split()).rstrip(".")
        )
    )


def address_refused(error: psycopg.Error, location: str) -> BadInput | None:
    """BadInput when libpq refused a value of the address before trying the network (a port
    of 99999, an unknown sslmode: psycopg's "connection is bad"; a timeout that is not a
    number: its ProgrammingError; a port that is not a number, which fails psycopg's look-up
    of the host); None when the connection was tried."""
    text = str(error)
    reason = text.removeprefix(_NOT_STARTED)
    if reason.startswith(_TRIED):  # a Unix socket tried at once: no socket file, no server
        return None
    if isinstance(error, psycopg.ProgrammingError) or text.startswith(_NOT_STARTED):
        return not_an_address(location, reason)
    if _PORT_NOT_A_NUMBER in text:
        given = psycopg.conninfo.conninfo_to_dict(location).get("port")
        port = given or os.environ.get("PGPORT", "")
        return not_an_address(location, _('invalid port number: "{port}"').format(port=port))
    return None


def refused(error: psycopg.Error, location: str) -> RingroundError:
    """Why a connection could not be made, as one sentence.

    A server that answered says why (libpq's "FATAL:  ..."): no such database,
    or a login refused (LoginRefused: a password, role or right; the app names it in
    its header, as waiting does not mend it); no answer at all (refused, timed out, no such
    host), or a server starting up or shutting down (a restart), is
    DatabaseUnreachable: it answers again soon, and nothing was saved. An
    address libpq refuses before it tries the network is BadInput
    (:func:`address_refused`): trying again cannot help.
    """
    bad_address = address_refused(error, location)
    if bad_address is not None:
        return bad_address
    text = str(error)
    answer = text.rpartition("FATAL:")[2].strip().splitlines()[0] if "FATAL:" in text else ""
    if error.sqlstate == "3D000" or ("database" in answer and "does not exist" in answer):
        return NotADatabase(
            _(
                "There is no database {location} on the server; an administrator makes it "
                "(docs/deploy-postgresql.md)."
            ).format(location=location)
        )
    if error.sqlstate in _GONE or _NOT_ACCEPTING in answer:
        return unreachable(location, saving=False)  # starting up, shutting down: back soon
    if error.sqlstate == "28P01" or "password" in text:
        return LoginRefused(
            _(
                "The database server refused your login to {location}; the password belongs "
                "in ~/.pgpass, PGPASSWORD or a service file."
            ).format(location=location)
        )
    if answer:
        said = login_refused(as_tried(address(location), error), text)
        return LoginRefused(
            said
            or _("The database {path} could not be used: {error}.").format(
                path=location, error=answer.rstrip(".")
            )
        )
    secure = secure_connection_failure(text)
    if secure:
        return StorageError(
            _(
                "A secure connection to the database server {location} could not be made "
                "({reason}); check the address's sslmode and sslrootcert "
                "(docs/deploy-postgresql.md, step 3)."
            ).format(location=location, reason=secure)
        )
    if error.sqlstate is not None and not error.sqlstate.startswith("08"):
        return described(error, location, saving=False)
    return unreachable(location, saving=False)


def unreachable(location: str, *, saving: bool) -> DatabaseUnreachable:
    """The server does not answer: during a save (a write transaction, which the server
    rolls back) the sentence says that nothing was saved; while reading, or connecting
    (:func:`refused`), no save was asked, and it says only that the server is silent."""
    if saving:
        return DatabaseUnreachable(
            _("The database server {location} does not answer; nothing was saved.").format(
                location=location
            )
        )
    return DatabaseUnreachable(
        _("The database server {location} does not answer.").format(location=location)
    )


def described(error: psycopg.Error, location: str, *, saving: bool) -> StorageError:
    """A psycopg error as one sentence for clinic staff (as storage.database.describe);
    ``saving``: inside a write transaction."""
    state = error.sqlstate or ""
    if isinstance(error, psycopg.OperationalError) and not state:
        return unreachable(location, saving=saving)  # the connection broke: no answer, no state
    if state.startswith("08") or state in _GONE:
        return unreachable(location, saving=saving)
    if state in _BUSY:
        return busy(location)
    if state == "53100":
        return DiskFull(
            _("The disk holding {path} is full; nothing was saved.").format(path=location)
        )
    if state == _NO_RIGHTS:
        return ReadOnlyDatabase(
            _(
                "Your database role may not use {path} ({error}); an administrator gives it "
                "the operators' rights (docs/postgresql-roles.sql)."
            ).format(path=location, error=_primary(error))
        )
    if state == _READ_ONLY:  # a standby, or a session set to read only
        return ReadOnlyDatabase(
            _("The database {path} is read-only for you; nothing was saved.").format(path=location)
        )
    return StorageError(
        _("The database {path} could not be used: {error}.").format(
            path=location, error=_primary(error)
        )
    )


def _primary(error: psycopg.Error) -> str:
    """The server's own words for an error, without its full stop."""
    return (error.diag.message_primary or str(error).strip()).rstrip(".")


class Rows:
    """The result of one statement (storage.connection.Cursor), read from the client's copy."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor
        # A statement that returns no rows reads as none, as on SQLite (psycopg refuses).
        self._rows = cursor.description is not None

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Sequence[Sequence[Any]]:
        return self._cursor.description or ()

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._rows else []

    def fetchmany(self, size: int = 1) -> list[Any]:
        return self._cursor.fetchmany(size) if self._rows else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor) if self._rows else iter(())


class PostgresConnection:
    """A psycopg connection that behaves as storage/connection.py's Connection.

    Used by one thread at a time, as SQLite's. ``location`` names the
    database in messages (the URL, which never holds a password).
    """

    def __init__(self, params: dict[str, Any], location: str) -> None:
        self.location = location
        self._params = params
        self._raw = open_raw(params, location)
        self._writing = False  # inside write(): a lost connection is not replaced meanwhile
        self._transaction = ""  # the id of the write transaction begun last (begin_write)
        self._begin_pending = False  # begin_write's BEGIN waits for the first statement
        self._waiting: list[str] = []  # statements of execute_soon, bound, waiting to be sent
        self._uses: Counter[str] = Counter()  # statements with parameters: times sent
        self._to_prepare: list[str] = []  # sent PREPARE_AFTER times: prepared at the next write
        self._prepared: dict[str, str] = {}  # statement -> its prepared name on this session
        self._not_preparable: set[str] = set()
        self._names = count(1)
        self._closed = False

    @property
    def lost(self) -> bool:
        """The server connection broke (until a statement outside a write connects again)."""
        return self._raw.closed and not self._closed

    @property
    def raw(self) -> psycopg.Connection[Any]:
        """The psycopg connection, made again if the old one was lost outside a write.

        Between transactions a server that shut down or restarted has already
        said so on the socket (or closed it): a look at the socket, without a
        round trip, finds that before the next statement is sent, so the first
        statement after a server restart runs on a new connection instead of
        failing. A connection lost inside a write stays lost until the write
        ends: its transaction is gone, and nothing of it may run outside it.
        """
        if not self._writing and not self._closed and self._said_goodbye():
            self._raw.close()
        if self.lost:
            if self._writing:
                raise unreachable(self.location, saving=True)  # the transaction is gone with it
            self._raw = open_raw(self._params, self.location)
            self._forget_prepared()
        return self._raw

    def _said_goodbye(self) -> bool:
        """Whether the idle server connection holds its end (a FATAL message, or EOF)."""
        raw = self._raw
        if raw.closed or raw.info.transaction_status != pq.TransactionStatus.IDLE:
            return raw.closed
        for _message in range(GOODBYE_READS):
            if not select.select([raw.pgconn.socket], [], [], 0)[0]:
                return False  # nothing (more) to read: the usual case
            try:
                raw.pgconn.consume_input()  # notifications stay with libpq for psycopg
            except psycopg.OperationalError:
                return True  # the end of the stream
            if raw.pgconn.status == pq.ConnStatus.BAD:
                return True
        return False

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows:
        raw = self.raw
        text = self._text(sql, parameters)
        if not (self._begin_pending or self._waiting):
            try:
                return Rows(raw.execute(text, parameters or None))
            except psycopg.Error as error:
                raise described(error, self.location, saving=self._writing) from None
        if parameters:
            text = self._bound(text, parameters)
        return Rows(self._send(raw, text))

    def execute_soon(self, sql: str, parameters: Sequence[Any] = (), /) -> None:
        """Run a statement whose result nobody reads: inside a write that has begun,
        it waits to go to the server with the next statement (or the COMMIT), one round
        trip for both; an error it meets there ends the write as it would have here."""
        if not self._writing or self._begin_pending:
            self.execute(sql, parameters)
            return
        text = self._text(sql, parameters)
        self._waiting.append(self._bound(text, parameters) if parameters else text)

    def _text(self, sql: str, parameters: Sequence[Any]) -> str:
        """What to send for ``sql`` (for psycopg, parameters still apart): ``EXECUTE`` of
        its prepared statement if it has one on this session, else the statement."""
        if not parameters:
            return sql
        name = self._prepared.get(sql)
        if name is not None:
            return f"EXECUTE {name}({', '.join(['%s'] * len(parameters))})"
        if sql not in PREPARABLE:
            return psycopg_sql(sql)
        self._uses[sql] += 1
        if self._uses[sql] == PREPARE_AFTER and sql not in self._not_preparable:
            self._to_prepare.append(sql)
        return psycopg_sql(sql)

    def _forget_prepared(self) -> None:
        """A new session: the old one's prepared statements are gone with it."""
        self._prepared.clear()
        self._uses.clear()
        self._to_prepare.clear()

    def _prepare_frequent(self) -> None:
        """Prepare on this session the statements marked preparable (storage.connection)
        that were sent :data:`PREPARE_AFTER` times, so that the server parses and plans
        each once instead of every time.

        Only between transactions, one statement at a time, so that a statement
        the server cannot prepare after all fails alone and harms nothing: it is
        sent as before, parameters written in.
        """
        raw = self._raw
        while self._to_prepare and len(self._prepared) < PREPARED_AT_MOST:
            sql = self._to_prepare.pop(0)
            name = f"ringround_{next(self._names)}"
            try:
                raw.execute(f"PREPARE {name} AS {numbered_parameters(sql)}")
            except psycopg.Error as error:
                if self.lost or raw.info.transaction_status != pq.TransactionStatus.IDLE:
                    raise described(error, self.location, saving=self._writing) from None
                self._not_preparable.add(sql)
            else:
                self._prepared[sql] = name

    def forget_waiting(self) -> None:
        """Drop the statements waiting to be sent: what they would do is being rolled back."""
        self._waiting.clear()

    def _bound(self, text: str, parameters: Sequence[Any]) -> str:
        """``text`` with its parameters written in, as psycopg's client-side binding does."""
        try:
            return psycopg.ClientCursor(self.raw).mogrify(text, parameters)
        except psycopg.Error as error:
            raise described(error, self.location, saving=self._writing) from None

    def _send(self, raw: psycopg.Connection[Any], text: str | None) -> psycopg.Cursor[Any]:
        """Send what waits (the write's BEGIN and lock, statements of execute_soon) and
        ``text`` (bound already) in one round trip; the cursor is at the last result."""
        begins = self._begin_pending
        statements = [*([_BEGIN_WRITE] if begins else []), *self._waiting]
        if text is not None:
            statements.append(text)
        self._begin_pending = False
        self._waiting = []
        try:
            cursor = raw.execute("; ".join(statements))
            results = len(statements) + (1 if begins else 0)  # BEGIN; SELECT: two results
            if begins:
                cursor.nextset()
                row = cursor.fetchone()
                assert row is not None
                self._transaction = str(row[1])
                results -= 1
            for _result in range(results - 1):
                cursor.nextset()
        except psycopg.Error as error:
            raise described(error, self.location, saving=self._writing) from None
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Rows:
        if self._begin_pending or self._waiting:
            self._send(self.raw, None)  # psycopg sends each row alone: what waits goes first
        cursor = self.raw.cursor()
        try:
            cursor.executemany(psycopg_sql(sql), parameters)
        except psycopg.Error as error:
            raise described(error, self.location, saving=self._writing) from None
        return Rows(cursor)

    def announcements(self) -> int:
        """How many notifications (NOTIFY) arrived since the last call; reads only the socket.

        Never connects again: a new connection would not be listening.
        """
        if self.lost:
            raise unreachable(self.location, saving=False)
        try:
            arrived = sum(1 for _notify in self._raw.notifies(timeout=0))
        except psycopg.Error as error:
            raise described(error, self.location, saving=self._writing) from None
        if self._said_goodbye():  # a server going down is noticed at the first look
            raise unreachable(self.location, saving=False)
        while self._raw.pgconn.notifies() is not None:  # read along with the goodbye check
            arrived += 1
        return arrived

    @property
    def socket(self) -> int:
        """The server connection's socket, to wait on for notifications (select)."""
        return int(self._raw.pgconn.socket)

    @property
    def in_transaction(self) -> bool:
        return self._writing or self._raw.info.transaction_status in _IN_TRANSACTION

    def close(self) -> None:
        """Close the connection, also while another thread runs a statement on it.

        That happens when the app closes with a job still running. psycopg
        frees the connection at once, and a thread still inside a statement
        would then crash the whole program; so that statement is cancelled,
        and the close waits until it has ended (:data:`CLOSE_PATIENCE`). One
        that outlasts that (a server that does not answer) keeps its
        connection until the program ends, when the server sees it close.
        """
        self._closed = True
        raw = self._raw
        if not raw.lock.acquire(blocking=False):
            with suppress(psycopg.Error):
                raw.cancel_safe(timeout=CLOSE_PATIENCE)
            if not raw.lock.acquire(timeout=CLOSE_PATIENCE):
                return
        try:
            raw.close()
        finally:
            raw.lock.release()

    def begin_write(self) -> None:
        """Start a write transaction: ``BEGIN``, the writers' lock and the transaction's id
        go to the server with its first statement, in the same round trip.

        A connection lost while no transaction was open is made again first.
        The id is what :meth:`end_write` asks the server about when the COMMIT
        gets no answer.
        """
        try:
            _connected = self.raw
            self._prepare_frequent()
        except DatabaseUnreachable:  # the save asked for is not begun
            raise unreachable(self.location, saving=True) from None
        self._transaction = ""
        self._begin_pending = True
        self._writing = True

    def end_write(self, *, commit: bool) -> None:
        """COMMIT, or ROLLBACK if the transaction is still there to roll back.

        A COMMIT that gets no answer may or may not have been carried out by
        the server. Then the server is asked, once it answers again, what
        became of the transaction (``pg_xact_status``): committed, the save
        stands and nothing is said; not committed, nothing was saved and the
        operator is told so. Only a server that stays silent for
        :data:`IN_DOUBT_FOR` leaves the outcome unknown, and says so.
        """
        if not commit:
            self.forget_waiting()
        if self._begin_pending:  # nothing was sent: no transaction to end
            self._begin_pending = False
            self._writing = False
            return
        try:
            if commit:
                try:
                    self.execute("COMMIT")
                except DatabaseUnreachable:
                    outcome = self._outcome(self._transaction)
                    if outcome == "committed":
                        return
                    if outcome is None:
                        raise DatabaseUnreachable(
                            _(
                                "The database server {location} stopped answering while "
                                "saving; whether it was saved shows once the server answers "
                                "again."
                            ).format(location=self.location)
                        ) from None
                    raise DatabaseUnreachable(
                        _(
                            "The connection to the database server {location} broke while "
                            "saving; nothing was saved."
                        ).format(location=self.location)
                    ) from None
            elif not self.lost:
                with suppress(StorageError):  # the original error says more
                    self.execute("ROLLBACK")
        finally:
            self._writing = False

    def _outcome(self, transaction: str) -> str | None:
        """What became of a transaction whose COMMIT got no answer: "committed", "aborted"
        (also one the server never heard commit before it went down), or None when the
        server did not answer for :data:`IN_DOUBT_FOR`. The new connection serves on."""
        deadline = time.monotonic() + IN_DOUBT_FOR
        while True:
            status = self._ask_status(transaction)
            if status is not None:
                return status
            if time.monotonic() >= deadline:
                return None
            time.sleep(IN_DOUBT_PAUSE)

    def _ask_status(self, transaction: str) -> str | None:
        """The transaction's status from a new connection, which then serves on; None
        when the server does not answer yet or has not finished the transaction."""
        try:
            raw = open_raw(self._params, self.location)
        except StorageError:
            return None
        try:
            row = raw.execute("SELECT pg_xact_status(%s::xid8)", (transaction,)).fetchone()
        except psycopg.Error:
            raw.close()
            return None
        with suppress(psycopg.Error):
            self._raw.close()
        self._raw = raw
        self._forget_prepared()
        status = None if row is None or row[0] is None else str(row[0])
        return None if status == "in progress" else status


@contextmanager
def write(conn: Connection) -> Iterator[Connection]:
    """Run the block as one write transaction (storage.engine.write for PostgreSQL).

    As SQLite's (storage.database.write): commit at the end, roll back on an
    error; a write inside a write is a savepoint, so an error undoes just the
    inner block. Errors are StorageError already. A connection lost before the
    commit saved nothing (DatabaseUnreachable); lost during the COMMIT itself,
    the server is asked what became of the transaction (:meth:`PostgresConnection.end_write`).
    """
    if not isinstance(conn, PostgresConnection):
        raise TypeError(f"not a PostgreSQL connection: {conn!r}")
    if conn.in_transaction:
        with _savepoint(conn):
            yield conn
        return
    conn.begin_write()
    try:
        yield conn
        conn.end_write(commit=True)
    except BaseException:
        admin_log.rolled_back(conn)
        conn.end_write(commit=False)
        raise
    admin_log.committed(conn)  # the log lines of what this transaction did (lock events)


@contextmanager
def _savepoint(conn: PostgresConnection) -> Iterator[None]:
    """The inner part of a nested :func:`write` (savepoints of one name stack)."""
    conn.execute("SAVEPOINT nested_write")
    mark = admin_log.pending_mark(conn)
    try:
        yield
        conn.execute("RELEASE nested_write")
    except BaseException:
        admin_log.rolled_back_to(conn, mark)
        conn.forget_waiting()  # sent after the savepoint was made, so undone with it
        if not conn.lost:
            with suppress(StorageError):
                conn.execute("ROLLBACK TO nested_write")
                conn.execute("RELEASE nested_write")
        raise
