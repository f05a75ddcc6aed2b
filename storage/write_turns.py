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

Each connection has its own place in the queue (:class:`Turn`): a descriptor
of the folder, opened at its first write and kept until the connection
closes, locked for each write and unlocked after it. ``flock`` locks belong
to the open descriptor, so two connections of one process (two threads)
queue like two processes, and the folder's path is resolved once.

One thread may write two databases of one folder at once (``ringround copy``
holds the source still while it fills the target beside it): a thread that
already holds the folder's turn goes on without taking it again, since it
would otherwise wait for itself.

A ``flock`` wait cannot time out by itself, so a writer that finds the turn
taken waits in a thread of its own (:class:`_Waiter`; idle ones are kept and
used again, since starting a thread for every wait cost more processor time
than the write at 16 writers). A writer that does not get its turn within the
busy timeout (another process stopped in the middle of a write) gives up with
DatabaseBusy, like a busy database, and leaves its descriptor to the waiting
thread, which lets the turn go as soon as it gets it.
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


class Turn:
    """One connection's place in the queue of its database's writers."""

    def __init__(self, database: str) -> None:
        self.folder = os.path.dirname(os.path.realpath(database)) or "."
        self._fd = -1  # the folder, opened at the first write

    @contextmanager
    def held(self, wait_for: float) -> Iterator[None]:
        """Hold the turn for the block; NoTurn after ``wait_for`` seconds."""
        if self.folder in _held.folders:
            yield  # this thread's turn already (another database of the folder)
            return
        fd = self._fd if self._fd >= 0 else _open_folder(self.folder)
        if fd < 0:
            yield  # no folder to queue on: the database's write lock alone decides
            return
        self._fd = -1  # while it waits, the descriptor may pass to a waiting thread
        if not _take(fd, wait_for):
            raise NoTurn
        self._fd = fd
        _held.folders.add(self.folder)
        try:
            yield
        finally:
            _held.folders.discard(self.folder)
            with suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)  # lets the turn go

    def close(self) -> None:
        """Close the descriptor (the connection is closing); no turn is held then."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()  # a connection dropped without closing it


def _open_folder(folder: str) -> int:
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return -1


def _take(fd: int, wait_for: float) -> bool:
    """Take the turn on ``fd``; False after ``wait_for``, ``fd`` then left to a waiting thread.

    Interrupted while waiting (Ctrl-C), ``fd`` is closed or left to the waiting
    thread too: either way it is no longer the caller's.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    except OSError:
        return True  # the file system does not queue writers: go on without a turn
    try:
        waiter = _idle.pop()
    except IndexError:
        waiter = _Waiter()
    return waiter.wait(fd, wait_for)


class _Waiter:
    """A thread that waits in the kernel for the turn of one writer at a time.

    The writer hands it the descriptor and waits for ``granted`` as long as it
    may; a writer that gave up leaves the descriptor to the thread, which
    closes it (letting the turn go) once the turn came. Either way the thread
    then waits for the next writer among the idle ones.
    """

    def __init__(self) -> None:
        self._asked = threading.Lock()  # released: a descriptor to wait on
        self._asked.acquire()
        self._granted = threading.Lock()  # released: the turn is taken
        self._granted.acquire()
        self._guard = threading.Lock()
        self._fd = -1
        self._given_up = False
        threading.Thread(target=self._run, name="ringround-write-turn", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._asked.acquire()
            with suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            with self._guard:
                if self._given_up:
                    os.close(self._fd)  # nobody waits for this turn any more
                else:
                    self._granted.release()
            _idle.append(self)

    def wait(self, fd: int, wait_for: float) -> bool:
        self._fd = fd
        self._given_up = False
        self._asked.release()
        try:
            if self._granted.acquire(timeout=wait_for):
                return True
        except BaseException:
            self._give_up(fd, close_if_granted=True)
            raise
        return not self._give_up(fd, close_if_granted=False)

    def _give_up(self, fd: int, *, close_if_granted: bool) -> bool:
        """Stop waiting; False if the turn came meanwhile (then closed, if asked, to let it go)."""
        with self._guard:
            if self._granted.acquire(blocking=False):
                if close_if_granted:
                    os.close(fd)
                return False
            self._given_up = True
            return True


_idle: list[_Waiter] = []  # waiting threads with nothing to wait for
os.register_at_fork(after_in_child=_idle.clear)  # a child has none of its parent's threads
