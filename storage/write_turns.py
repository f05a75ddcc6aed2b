"""Writers of one SQLite database wait for their turn asleep, in the kernel's queue.

SQLite lets one writer at a time hold the write lock, and a writer that finds
it taken can only try again later: its own busy handler sleeps ever longer
(unfair: a writer that waited long sleeps longest, and can wait seconds while
newcomers win), and trying again every fraction of a millisecond is fair but
keeps every waiting process awake, which at 16 writers costs the machine more
than the writes themselves (docs/performance.md). So ringround's writers first
take a turn: an exclusive ``flock`` on the database's folder, held until
their transaction has committed or rolled back. Waiting for a ``flock``
costs no processor time, and the kernel wakes the waiters when it is free.
``BEGIN IMMEDIATE`` then normally finds the write lock free at once; it still
decides (other programs, such as the sqlite3 shell, do not take turns).

The folder, not a file beside the database: it needs no new file with the
right owner and mode, every operator who may use the database may open it,
and SQLite never locks it. A turn is only an order of arrival; the database's
own write lock keeps the protocol safe without it, so when the folder cannot
be opened, the writer goes on without a turn.

One thread may write two databases of one folder at once (``ringround copy``
holds the source still while it fills the target beside it): a thread that
already holds the folder's turn goes on without taking it again, since it
would otherwise wait for itself.

A ``flock`` wait cannot time out by itself; a writer that does not get its
turn within the busy timeout (another process stopped in the middle of a
write) gives up with DatabaseBusy, like a busy database, and leaves a thread
behind that lets the turn go as soon as it gets it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class NoTurn(Exception):
    """The turn did not come within the time allowed."""


class _Held(threading.local):
    """The folders whose turn this thread holds."""

    def __init__(self) -> None:
        self.folders: set[str] = set()


_held = _Held()


@contextmanager
def turn(database: str, wait_for: float) -> Iterator[None]:
    """Hold this process's turn to write ``database`` for the block; NoTurn after ``wait_for``."""
    folder = os.path.dirname(os.path.realpath(database)) or "."
    if folder in _held.folders:
        yield  # this thread's turn already (another database of the folder)
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        yield  # no folder to queue on: the database's write lock alone decides
        return
    try:
        _take(fd, wait_for)
    except NoTurn:
        raise  # the descriptor belongs to the thread still waiting; it closes it
    except BaseException:
        os.close(fd)
        raise
    _held.folders.add(folder)
    try:
        yield
    finally:
        _held.folders.discard(folder)
        os.close(fd)  # closing lets the turn go


def _take(fd: int, wait_for: float) -> None:
    """Take the turn on ``fd``, or raise NoTurn and leave ``fd`` to a thread that closes it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    except OSError:
        return  # the file system does not queue writers: go on without a turn
    waiting = _Waiting(fd)
    threading.Thread(target=waiting.run, name="ringround-write-turn", daemon=True).start()
    if not waiting.granted(wait_for):
        raise NoTurn


class _Waiting:
    """A blocking ``flock`` in a thread of its own, so that the writer can stop waiting."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.got = threading.Event()
        self.given_up = False

    def run(self) -> None:
        with suppress(OSError):
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        with self.lock:
            if not self.given_up:
                self.got.set()
                return
        os.close(self.fd)  # nobody waits for this turn any more

    def granted(self, wait_for: float) -> bool:
        if self.got.wait(wait_for):
            return True
        with self.lock:
            if self.got.is_set():
                return True
            self.given_up = True
            return False
