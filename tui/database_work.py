"""Database work of the app: each job runs in a worker thread, its answer comes back to the screen.

The UI thread never touches the database. :meth:`Database.call` runs one job
on a connection lent for it (storage/connections.py), refuses to run on the
UI thread, and retries while another operator's save holds the database; it
also keeps track of
whether the database server answers (PostgreSQL): a job that finds it gone
and the next one that reaches it again are told to the app, which says so in
the screens' header (tui/database_line.py). :meth:`Database.work` is the
one way a screen, the app or the phone line has a job done: it starts a named
worker (:func:`in_worker`) and, back on the UI thread, calls ``done`` with the
job's result or ``failed`` with the refusal (an error that carries a sentence
for the operator: a :class:`RingroundError`). Any other exception is a bug: it ends
the worker and reaches the app's crash handler (``RingroundApp._handle_exception``),
never a "Not saved: …" line.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textual.dom import DOMNode
from textual.worker import Worker

from storage.connection import Connection
from storage.connections import Connections
from storage.database import DatabaseBusy, DatabaseUnreachable, LoginRefused, describe
from storage.engine import Engine
from storage.errors import RingroundError
from tui.i18n import _

T = TypeVar("T")
V = TypeVar("V")
BUSY_RETRY_FOR = 120.0  # seconds a save keeps trying while another program holds the database
BUSY_PAUSE = 0.5  # seconds between two tries


def deliver(node: DOMNode, callback: Callable[[V], object], value: V) -> None:
    """From a worker thread: ``callback(value)`` on the UI thread, while ``node`` is shown.

    A dialog closed or a screen left before its job ended has nothing to show;
    neither has an app that is leaving. Both are checked when the answer
    arrives, as a screen being taken down is still attached while its widgets
    go (the app's own shutdown takes its screens down the same way).
    """
    app = node.app

    def on_ui_thread() -> None:
        if not app.is_running:
            return
        if node is app or (node.is_attached and node.screen in app.screen_stack):
            callback(value)

    # The app exits (its return code set) or shuts down (no longer running): a callback
    # handed to its loop now might never run, and Python would warn of it on the terminal.
    if app.return_code is None and app.is_running:
        app.call_from_thread(on_ui_thread)


def in_worker(
    node: DOMNode,
    task: Callable[[], T],
    done: Callable[[T], object],
    failed: Callable[[RingroundError], object],
    *,
    group: str,
    exclusive: bool = True,
) -> Worker[None]:
    """Run ``task`` in a thread worker of ``node`` (group ``group``); answer on the UI thread.

    ``done(result)`` or ``failed(refusal)`` is called there, unless ``node``
    has left the screen meanwhile (see :func:`deliver`); a refusal is a
    :class:`RingroundError`, whose text is the sentence for the operator.
    ``exclusive`` cancels the group's earlier task first, so the answer shown
    is that of the latest. Any other exception is a bug and reaches the app's
    crash handler (the worker exits on error).
    """

    def run() -> None:
        try:
            result = task()
        except RingroundError as refusal:
            deliver(node, failed, refusal)
            return
        deliver(node, done, result)

    return node.run_worker(
        run, name=group, group=group, thread=True, exclusive=exclusive, exit_on_error=True
    )


class Database:
    """The shared clinic database as the app uses it: jobs on worker threads, connections lent.

    Made on the UI thread (by the app), which it then refuses to run jobs on.
    ``on_reach`` is told, on the worker thread that found out, when the
    database server stops answering (False: a job failed with
    DatabaseUnreachable), when it answers but refuses the login (False and
    the refusal's sentence: LoginRefused, which waiting does not mend), and
    when it lets a job through again (True); an SQLite file never stops answering.
    """

    def __init__(
        self,
        engine: Engine,
        db_path: str | Path,
        on_reach: Callable[[bool, str], object] | None = None,
    ) -> None:
        self.path = str(db_path)  # named in the sentences of database errors
        self.connections = Connections(engine)
        self.ui_thread = threading.get_ident()
        self.reachable = True
        self.refusal = ""  # why the server refuses the login, while it does
        self._on_reach = on_reach
        self._reach_guard = threading.Lock()

    def reached(self, reachable: bool, refusal: str = "") -> None:
        """Note whether the server let us through, and if not whether it refused the login
        (``refusal``, the sentence); ``on_reach`` hears of each change once."""
        with self._reach_guard:
            if (reachable, refusal) == (self.reachable, self.refusal):
                return
            self.reachable = reachable
            self.refusal = refusal
        if self._on_reach is not None:
            self._on_reach(reachable, refusal)

    def call(
        self, job: Callable[[Connection], T], on_busy: Callable[[str], None] | None = None
    ) -> T:
        """Run ``job`` on this thread's connection; keep retrying while the database is busy.

        Runs in a worker thread: on the UI thread it would freeze every key
        while another operator's save holds the file, so it refuses (a bug).
        ``on_busy`` is told "Database busy, retrying…" and then "" on this
        thread. StorageError subclasses leave with a sentence. A server that
        does not answer is not waited for (DatabaseUnreachable leaves at once:
        whoever asked says "nothing was saved" and keeps what was typed); its
        connection is made again by the next job.
        """
        if threading.get_ident() == self.ui_thread:
            raise AssertionError("a database job was started on the UI thread; use a worker")
        deadline = time.monotonic() + BUSY_RETRY_FOR
        while True:
            try:
                with self.connections.borrow() as conn:
                    result = job(conn)
            except DatabaseBusy:
                if time.monotonic() > deadline:
                    raise
                if on_busy is not None:
                    on_busy(_("Database busy, retrying…"))
                time.sleep(BUSY_PAUSE)
                continue
            except DatabaseUnreachable:
                self.reached(False)
                raise
            except LoginRefused as refusal:
                self.reached(False, str(refusal))
                raise
            except sqlite3.Error as error:
                raise describe(error, self.path) from None
            self.reached(True)
            if on_busy is not None:
                on_busy("")
            return result

    def work(
        self,
        node: DOMNode,
        job: Callable[[Connection], T],
        done: Callable[[T], object],
        failed: Callable[[RingroundError], object],
        *,
        group: str,
        exclusive: bool = True,
        on_busy: Callable[[str], object] | None = None,
    ) -> Worker[None]:
        """Run ``job`` in a worker of ``node`` (see :func:`in_worker`).

        ``on_busy`` is told on the UI thread while the database is busy.
        """

        def busy(message: str) -> None:
            if on_busy is not None:
                deliver(node, on_busy, message)

        return in_worker(
            node,
            lambda: self.call(job, busy if on_busy is not None else None),
            done,
            failed,
            group=group,
            exclusive=exclusive,
        )

    def close(self) -> None:
        """Close every thread's connection; only when no worker uses them any more."""
        self.connections.close_all()
