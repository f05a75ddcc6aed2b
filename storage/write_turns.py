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

A writer that finds the turn taken waits in ``flock`` itself, so the kernel
wakes it when the turn is let go: one wake-up per hand-off. (Waiting in a
thread of its own and being told by it cost two more wake-ups and a
hand-over of the interpreter's lock per write, docs/performance.md.) A
``flock`` wait has no time limit of its own, so one watchdog thread per
process (:class:`_Watchdog`, asleep while no wait is due) ends a wait that
outlasts the busy timeout (another process stopped in the middle of a
write): it sends that thread alone :data:`KICK`, a signal whose handler does
nothing, which makes its ``flock`` return, and the writer gives up with
DatabaseBusy, like a busy database. That wait calls ``flock`` through the
C library: Python's own ``fcntl.flock`` would wait again after a signal
(PEP 475). A signal is sent only to a thread that is registered as
waiting, and a registered thread does nothing but wait, so no other system
call of the writer (SQLite's among them) is ever interrupted. The handler is
set when this module is first imported, by the main thread (Python lets only
that thread set one); a program that first imports it from another thread
(none of ringround's) has its writers ask for the turn again every few
milliseconds instead, up to the busy timeout.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

# The signal that ends a wait which outlasted the busy timeout (its handler does nothing).
KICK = int(signal.SIGRTMAX) - 2
_KICK_AGAIN = 0.01  # seconds after which a kicked thread still waiting is kicked again
_POLL_AT_MOST = 0.005  # seconds between looks, when no KICK handler could be set
INFINITY = float("inf")


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
        if self._fd < 0:
            self._fd = _open_folder(self.folder)
        fd = self._fd
        if fd < 0:
            yield  # no folder to queue on: the database's write lock alone decides
            return
        if not _take(fd, wait_for):
            raise NoTurn
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


def _take_now(fd: int) -> bool:
    """Take the turn on ``fd`` if it is free; False if another writer holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        pass  # the file system does not queue writers: go on without a turn
    return True


def _take(fd: int, wait_for: float) -> bool:
    """Take the turn on ``fd``; False after ``wait_for`` seconds (then nothing is held)."""
    if _take_now(fd):
        return True
    if _kick_handled:
        return _watchdog.wait(fd, wait_for)
    return _poll(fd, wait_for)


class _Wait:
    """One thread waiting in ``flock``, as the watchdog sees it."""

    def __init__(self, deadline: float) -> None:
        self.thread = threading.get_ident()
        self.deadline = deadline
        self.kicked = False


class _Watchdog:
    """Ends the ``flock`` waits of this process that outlast their time (see above)."""

    def __init__(self) -> None:
        self._guard = threading.Condition(threading.Lock())
        self._waits: set[_Wait] = set()
        self._asleep_until = INFINITY  # when the watchdog looks next
        self._thread: threading.Thread | None = None

    def wait(self, fd: int, wait_for: float) -> bool:
        """Wait for the turn in ``flock``; False if the watchdog ended the wait first."""
        waiting = _Wait(time.monotonic() + wait_for)
        with self._guard:
            self._waits.add(waiting)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ringround-write-turn", daemon=True
                )
                self._thread.start()
            elif waiting.deadline < self._asleep_until:
                self._guard.notify()
        flock = _c_flock()
        try:
            # Another error than EINTR counts as the turn taken, as in _take.
            while flock(fd, fcntl.LOCK_EX) == errno.EINTR:
                # A KICK, or another signal: the main thread runs its handler here (Ctrl-C
                # raises KeyboardInterrupt); the wait goes on unless the watchdog ended it.
                with self._guard:
                    if waiting.kicked:
                        return False
            return True
        finally:
            with self._guard:
                self._waits.discard(waiting)

    def _run(self) -> None:
        with self._guard:
            while True:
                now = time.monotonic()
                for waiting in self._waits:
                    if waiting.deadline <= now:
                        # Sent again until the thread has left: one that was kicked just
                        # before it entered flock would otherwise wait on.
                        waiting.kicked = True
                        waiting.deadline = now + _KICK_AGAIN
                        with suppress(OSError):  # a thread gone already: nothing to end
                            signal.pthread_kill(waiting.thread, KICK)
                self._asleep_until = min((w.deadline for w in self._waits), default=INFINITY)
                self._guard.wait(self._asleep_until - now if self._waits else None)

    def forget(self) -> None:
        """In a child after fork: the parent's watchdog thread and waits are not here."""
        self._guard = threading.Condition(threading.Lock())
        self._waits = set()
        self._asleep_until = INFINITY
        self._thread = None


@functools.cache
def _c_flock() -> Callable[[int, int], int]:
    """``flock`` through the C library: returns 0 when done, else the errno (EINTR after a
    signal). Made at the first wait: loading ctypes would slow every program's start."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def flock(fd: int, operation: int) -> int:
        return 0 if libc.flock(fd, operation) == 0 else ctypes.get_errno()

    return flock


def _poll(fd: int, wait_for: float) -> bool:
    """Ask for the turn again and again (no KICK handler could be set), up to ``wait_for``."""
    deadline = time.monotonic() + wait_for
    pause = 0.0001
    while not _take_now(fd):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(pause * 2, _POLL_AT_MOST)
    return True


def _ignore(_signal: int, _frame: FrameType | None) -> None:
    """KICK's handler: the signal is sent only to end a ``flock`` wait."""


def _handle_kick() -> bool:
    """Set KICK's handler, if this is the main thread; whether KICK may be sent."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(KICK, _ignore)
    return True


_kick_handled = _handle_kick()
_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_watchdog.forget)
