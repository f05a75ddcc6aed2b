"""The administrator's log: what went wrong or was overridden, one line per event.

Logged: PBX errors and failed PBX calls, lock removals and takeovers, refused
logins and crashes (:func:`log_event`, :func:`log_crash`). Each line is the
event's name followed by ``key=value`` fields, always ``operator``,
``session`` and ``row`` (``-`` when there is none)::

    lock-takeover operator=anna session=12 row=appointment:5 holder=boris since=...

The policy's ``[log]`` chooses where the lines go (:func:`configure`): the
system log (journald or rsyslog, through its socket ``/dev/log``), a file
rotated by size that every operator's process appends to, or nowhere. The
messages are for the administrator and stay in English, whatever language
the operators see.

Lock events are logged only once their transaction has committed:
``storage.audit.audit`` hands them to :func:`after_commit`, and
``storage.database.write`` sends them on commit or drops them on rollback.

Text from the data may hold anything an operator, an import file or the phone
exchange put there: a line break would forge a second log line, an escape
sequence would repaint the admin's terminal. :func:`field` is the one escaping
for log lines and for command output built from data.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import logging.handlers
import os
import traceback
import unicodedata
from dataclasses import dataclass

from storage.connection import Connection

LOGGER = logging.getLogger("ringround")
LOGGER.addHandler(logging.NullHandler())  # never Python's last-resort output on stderr
LOGGER.propagate = False
LOGGER.setLevel(logging.INFO)

SYSLOG = "syslog"
FILE = "file"
OFF = "off"
TARGETS = (SYSLOG, FILE, OFF)

_QUOTE_WHEN = frozenset(' ="')


def _escaped(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char == '"':
        return '\\"'
    # Cc: control characters (line breaks, ESC); Cf: invisible format characters such
    # as right-to-left overrides; Zl/Zp: Unicode's own line and paragraph separators.
    if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def field(value: object) -> str:
    """``value`` as one printable token: control characters escaped, quoted if it has spaces.

    ``None`` is ``-``; a text with a space, ``=`` or ``"`` (or an empty one) is
    put in double quotes, so ``key=value`` lines split unambiguously.
    """
    if value is None:
        return "-"
    text = str(value)
    escaped = "".join(_escaped(char) for char in text)
    if not text or any(char in _QUOTE_WHEN for char in text):
        return f'"{escaped}"'
    return escaped


def line(
    event: str, operator: str | None, session: int | None, row: object, **fields: object
) -> str:
    """One log line: the event, then operator, session, row and the other fields."""
    pairs = {"operator": operator, "session": session, "row": row, **fields}
    return " ".join([field(event), *(f"{key}={field(value)}" for key, value in pairs.items())])


def log_event(
    level: int,
    event: str,
    *,
    operator: str | None,
    session: int | None,
    row: object = None,
    **fields: object,
) -> None:
    """Write one line now (``level``: logging.ERROR, WARNING or INFO)."""
    LOGGER.log(level, line(event, operator, session, row, **fields))


def log_crash(
    error: BaseException, *, operator: str | None, session: int | None, row: object = None
) -> None:
    """An unexpected error, with its traceback (escaped into the one line)."""
    trace = "".join(traceback.format_exception(error)).rstrip("\n")
    log_event(
        logging.CRITICAL,
        "crash",
        operator=operator,
        session=session,
        row=row,
        error=f"{type(error).__name__}: {error}",
        traceback=trace,
    )


def log_refused_login(operator: str | None, reason: str, **fields: object) -> None:
    """Someone was not let in: --operator refused, no terminal, no access to the database.

    ``operator`` is the login name; ``reason`` a few English words.
    """
    log_event(
        logging.WARNING, "login-refused", operator=operator, session=None, reason=reason, **fields
    )


# -- lines that wait for their transaction ---------------------------------------------------

# id(connection) -> lines of its open transaction. A connection is used by one thread at a
# time, and its entry is removed when the transaction ends.
_pending: dict[int, list[tuple[int, str]]] = {}


def after_commit(
    conn: Connection,
    level: int,
    event: str,
    *,
    operator: str | None,
    session: int | None,
    row: object = None,
    **fields: object,
) -> None:
    """Log this line if and when the connection's open transaction commits."""
    _pending.setdefault(id(conn), []).append((level, line(event, operator, session, row, **fields)))


def pending_mark(conn: Connection) -> int:
    """Where a savepoint starts (see :func:`rolled_back_to`)."""
    return len(_pending.get(id(conn), ()))


def rolled_back_to(conn: Connection, mark: int) -> None:
    """A savepoint was rolled back: forget the lines written since ``mark``."""
    del _pending.get(id(conn), [])[mark:]


def committed(conn: Connection) -> None:
    for level, text in _pending.pop(id(conn), []):
        LOGGER.log(level, text)


def rolled_back(conn: Connection) -> None:
    _pending.pop(id(conn), None)


# -- where the lines go ---------------------------------------------------------------------


@dataclass(frozen=True)
class LogTarget:
    """The policy's [log] table."""

    to: str  # SYSLOG, FILE or OFF
    syslog_socket: str
    file: str
    max_mb: int  # rotate the file when it reaches this size
    keep: int  # rotated files kept: ringround.log.1 … .keep


class _Quiet(logging.Handler):
    """A log that cannot be written must never disturb the operator's screen."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


class _SystemLog(_Quiet, logging.handlers.SysLogHandler):
    pass


class _SharedLogFile(_Quiet, logging.handlers.RotatingFileHandler):
    """A size-rotated file that the processes of several operators append to at once.

    Each line is written under an exclusive lock on the log's folder, after
    reopening the file if another process has rotated it meanwhile, so one
    process rotates at a time and no process writes on into a rotated file.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            folder = os.open(os.path.dirname(self.baseFilename), os.O_RDONLY)
        except OSError:
            self.handleError(record)
            return
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            self._follow_rotation()
            super().emit(record)
        except OSError:
            self.handleError(record)
        finally:
            os.close(folder)  # drops the lock

    def _follow_rotation(self) -> None:
        if self.stream is None:
            return
        try:
            now = os.stat(self.baseFilename)
            mine = os.fstat(self.stream.fileno())
            moved = (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino)
        except FileNotFoundError:
            moved = True
        if moved:
            self.stream.close()
            self.stream = self._open()

    def _open(self) -> io.TextIOWrapper:
        stream = super()._open()
        # Every operator's process appends: the file is for the operators' group (the
        # umask may have left it for its maker alone).
        with contextlib.suppress(OSError):  # not ours to change: made by another operator
            os.fchmod(stream.fileno(), 0o660)
        return stream


_FILE_FORMAT = logging.Formatter(
    "%(asctime)s ringround[%(process)d]: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z"
)


def configure(target: LogTarget) -> None:
    """Send the lines where the policy says.

    Nothing is opened yet: the file when the first line comes, the system
    log's socket on every line until it answers. A log that cannot be written
    loses its lines quietly; ``ringround check`` reports it.
    """
    for old in list(LOGGER.handlers):
        if not isinstance(old, logging.NullHandler):
            LOGGER.removeHandler(old)
            old.close()
    handler: logging.Handler
    if target.to == SYSLOG:
        handler = _SystemLog(
            address=target.syslog_socket, facility=logging.handlers.SysLogHandler.LOG_USER
        )
        handler.ident = f"ringround[{os.getpid()}]: "
        handler.setFormatter(logging.Formatter("%(message)s"))
    elif target.to == FILE:
        handler = _SharedLogFile(
            target.file,
            maxBytes=target.max_mb * 1024 * 1024,
            backupCount=target.keep,
            encoding="utf-8",
            delay=True,
        )
        handler.setFormatter(_FILE_FORMAT)
    else:
        return
    LOGGER.addHandler(handler)
