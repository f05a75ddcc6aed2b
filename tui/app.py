"""The ringround app: one operator's session on the shared clinic database.

The app is the screens' desk (tui/desk.py): they see it only through that
interface. The UI thread never touches the database: every database job runs
in a worker thread (tui/database_work.py). The database is reached through its
engine (storage/engine.py): connections, the clock (:meth:`RingroundApp.now`)
and the watch on commits. Changes committed by anyone are noticed each second
(for SQLite ``PRAGMA data_version``, for PostgreSQL the notifications that
arrived), read from the change feed (storage.changes) and announced to the
screens with :class:`DataChanged`, which re-read only what changed. A commit
that changed nothing shown (a heartbeat) is announced only to a screen that
follows every commit (tui/messages.py): so an idle app's UI thread sleeps
through the other operators' heartbeats.

A database server that stops answering (PostgreSQL: down, restarting, the
network) is noticed by the watch or by the first job that fails; every
screen's header says so (tui/database_line.py) until a job or the watch
reaches it again, each second; then the operator is told once and every
screen reads again what it shows. Nothing in between is half-saved: a write
that did not reach its commit saved nothing, and the dialog that asked for it
says so and keeps what was typed. An SQLite file deleted, renamed or replaced
while the app runs is noticed by the watch the same way (storage.database.DatabaseGone):
the header names the file until it is back, and every save is refused with
that sentence, as SQLite would go on saving into the file nobody else reads.

What the list picker does not need for its first paint is imported where it
is first used: the calls' module (storage.open_calls, for lost calls and
quitting), the lock protocol (storage.locks, the sweep), the work screen and
the dialogs that follow it (docs/performance.md, "Start-up").
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sqlite3
import sys
import termios
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text
from textual import events, work
from textual.app import App
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import Input
from textual.worker import WorkerFailed

from storage.admin_log import log_crash, log_event
from storage.changes import Changes, latest
from storage.connection import Connection
from storage.database import (
    DatabaseGone,
    DatabaseUnreachable,
    LoginRefused,
    StorageError,
    describe,
)
from storage.engine import open_engine
from storage.errors import RingroundError
from storage.policy import Policy
from storage.rows import RowKey
from storage.sessions import Session, end_session, heartbeat, start_session
from storage.worklists import WorkList, all_work_lists
from tui.database_line import DatabaseLine
from tui.database_work import Database, deliver
from tui.desk import Desk
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.footer import KEYS, key_list
from tui.formats import moment_text
from tui.i18n import _, choose_language, ngettext, set_language
from tui.keyboard_layout import latin_key
from tui.messages import DataChanged, FollowsEveryCommit, KeepsDrafts, in_sight
from tui.picker import ListPicker
from tui.safe_text import safe_text

POLL_EVERY = 1.0  # at most these seconds between looks for other operators' changes (C3)
QUICKEST_POLL = 0.25  # at least these seconds between two looks, however often others commit


@dataclass(frozen=True)
class SessionStart:
    """A session the app starts itself, after its first paint (see :func:`run_app`).

    ``start`` runs in a worker thread; a StorageError from it ends the app, and
    :func:`run_app` then says the sentence.
    """

    operator: str
    supervisor: bool
    start: Callable[[], Session]


def lost_text(call: LostCall, policy: Policy, now: int, operator: str) -> str:
    """A sentence telling ``operator`` who ended their call, and when."""
    values = {
        "client": safe_text(call.client),
        "operator": safe_text(call.by),
        "time": moment_text(call.at, policy, now),
    }
    if call.event == "takeover" and call.by == operator:
        return _(
            "Your call with {client} was taken over in your other window at {time}; "
            "nothing was saved here."
        ).format(**values)
    if call.event == "takeover":
        return _("{operator} took over your call with {client} at {time}.").format(**values)
    if call.event == "release-by-supervisor":
        return _("Supervisor {operator} released your call with {client} at {time}.").format(
            **values
        )
    return _("Your lock on {client} was removed at {time} as stale.").format(**values)


def open_calls_question(calls: list[OpenCall], leaving: str) -> str:
    """Ask whether to abort the open calls before ``leaving`` (a short phrase)."""
    names = ", ".join(safe_text(call.client) for call in calls)
    return ngettext(
        "You have an open call with {clients}. Abort it (nothing is recorded) and {leaving}?",
        "You have open calls with {clients}. Abort them (nothing is recorded) and {leaving}?",
        len(calls),
    ).format(clients=names, leaving=leaving)


def cannot_save(error: RingroundError) -> bool:
    """Whether nothing can be saved for now: the database server is away or refuses the login,
    or the database file is gone. The header says so (tui/database_line.py); the error need
    not be repeated."""
    return isinstance(error, DatabaseUnreachable | DatabaseGone | LoginRefused)


class RingroundApp(App[None]):
    """The operator's app, the desk of its screens: ListPicker, WorkScreen and their dialogs."""

    CSS_PATH = "app.tcss"
    TITLE = "ringround"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [KEYS]  # h: the screen's keys, for those a narrow footer leaves out

    def __init__(
        self,
        db_path: str | Path,
        policy: Policy,
        session: Session | SessionStart,
        *,
        clock: Callable[[], int] | None = None,
        poll_every: float = POLL_EVERY,
        lists: list[WorkList] | None = None,
        notice: str = "",
        terminal: int | None = None,
    ) -> None:
        super().__init__()
        self.terminal = terminal  # the terminal's descriptor, watched for a hang-up
        # The work lists read before start, so that the list picker's first paint shows them
        # (their counts follow).
        self.first_lists = lists
        # Said on the list picker until the operator first opens a list (the demo's summary).
        self.notice = notice
        self.policy = policy
        self.operator = session.operator
        self.supervisor = session.supervisor
        self._session: Session | None = None
        self._session_ready = threading.Event()
        self._start: SessionStart | None = None
        self.start_failure: StorageError | None = None  # why the session could not start
        if isinstance(session, Session):
            self._session = session
            self._session_ready.set()
        else:
            self._start = session
        self.engine = open_engine(db_path)
        self.clock = clock or self.engine.now  # tests give a fake clock
        self.poll_every = poll_every
        self.database = Database(self.engine, db_path, on_reach=self.reach_changed)
        # The header's line while the database server does not answer or the database file is
        # gone (tui/database_line.py).
        self.database_trouble = ""
        self.file_gone = False  # the watch found the database file gone (its thread alone)
        self.watcher = self.engine.watch()
        self.busy_message = ""
        self.phone: PhoneLine | None = None  # the PBX line, when telephony is on
        self.audit_seen: int | None = None  # lost calls are looked for after this audit entry
        self.leaving = False  # a question about open calls is on screen
        # That question, with what it asks about: asked again when one of its calls is lost.
        self.leave_question: tuple[ConfirmDialog, str, Callable[[], object]] | None = None
        self.closing = threading.Event()  # set when the database is closed: the poll stops
        # What waits for the list picker's first paint; None once it is on the screen.
        self._after_paint: list[Callable[[], object]] | None = []

    def now(self) -> int:
        return self.clock()

    def after_first_paint(self, then: Callable[[], object]) -> None:
        """Run ``then`` once the list picker is first on the screen (at once if it was).

        Work started before would compete with the first paint for the
        interpreter: the session's start (which reads every page of an SQLite
        file) and the lists' counts.
        """
        if self._after_paint is None:
            then()
        else:
            self._after_paint.append(then)

    def _display(self, screen: Screen[object], renderable: RenderableType | None) -> None:
        """Textual's writing of a screen update; the picker's first frame lets the waiters go.

        Textual calls this also when nothing is written: ``renderable`` is None
        before the first layout, and an update inside a batch (a recompose) is
        left for the next. Textual is pinned exactly (pyproject.toml) for these
        private names; tests/tui/test_first_paint.py checks that the waiters run
        only once the picker's title has been drawn. The first frame also ends
        the garbage collector's pause of the program's loading (cli/launch.py).
        """
        written = renderable is not None and not self._batch_count
        super()._display(screen, renderable)
        if written and self._after_paint is not None and isinstance(screen, ListPicker):
            if not gc.isenabled():  # paused while the program loaded (cli/launch.py)
                gc.freeze()  # what was loaded lives as long as the app: later rounds skip it
                gc.enable()
            waiting, self._after_paint = self._after_paint, None
            for then in waiting:
                self.call_next(then)

    @property
    def session(self) -> Session:
        """This app's session; waits until it has started (the first moments, in workers).

        Screens use :attr:`operator` and :attr:`supervisor` where they only need those.
        """
        self._session_ready.wait()
        if self._session is None:
            assert self.start_failure is not None
            raise self.start_failure
        return self._session

    @property
    def session_started(self) -> Session | None:
        return self._session

    @work(thread=True, group="session", exit_on_error=False)
    def start_session(self) -> None:
        assert self._start is not None
        try:
            self._session = self._start.start()
        except StorageError as error:
            self.start_failure = error
            self.call_from_thread(self.exit, return_code=error.exit_code)
        finally:
            self._session_ready.set()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Textual's notification, with the message shown literally and safely (tui/safe_text.py).

        Notices quote names, numbers, the phone exchange's words and policy keys
        such as ``[telephony]``, so they are never read as markup: ``markup`` is
        ignored, since a screen's or widget's ``notify`` passes ``markup=True``
        unless told otherwise.
        """
        super().notify(
            safe_text(message, keep_newlines=True),
            title=safe_text(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    async def on_event(self, event: events.Event) -> None:
        """A paste reaches the focused field with its control characters made visible, and
        a letter of the Russian layout acts as its key outside a text field.

        Text pasted into the comment, the filter or the client card is echoed
        on this terminal and may be saved for everyone: it gets what stored
        text gets (tui/safe_text.py). Every field of the app is one line, and a
        field keeps only the first line of a paste: the lines join with a space
        instead (line ends as LF, CR LF, or CR as PuTTY pastes them).
        """
        if (
            isinstance(event, events.Key)
            and not event.is_forwarded
            and not isinstance(self.focused, Input)  # a text field takes Russian letters
        ):
            event = latin_key(event) or event  # tui/keyboard_layout.py
        if isinstance(event, events.Paste) and not event.is_forwarded:
            lines = event.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            event.text = safe_text(" ".join(line for line in lines if line.strip()))
        await super().on_event(event)

    def _handle_exception(self, error: Exception) -> None:
        """A bug: the traceback goes to the administrator's log, one sentence to the operator.

        Textual would print a traceback with local variables (patients' data
        among them) on the operator's terminal; RINGROUND_DEBUG=1 keeps it.
        """
        if isinstance(error, WorkerFailed):  # a bug in a worker: log what the worker raised
            error = error.error if isinstance(error.error, Exception) else error
        row = None
        with suppress(Exception):  # the screen may be half-built: the row is a bonus
            current = getattr(self.screen, "current_key", None)
            row = current() if callable(current) else None
        started = self.session_started
        log_crash(error, operator=self.operator, session=started.id if started else None, row=row)
        super()._handle_exception(error)
        if not os.environ.get("RINGROUND_DEBUG"):
            # Textual is pinned exactly (pyproject.toml); tests/tui/test_admin_log.py checks this.
            self._exit_renderables[:] = [
                Text(
                    _(
                        "ringround stopped because of an unexpected error; the details went to the "
                        "administrator's log. What you saved is kept, and a call you were on stays "
                        "yours: start ringround again to go on."
                    )
                )
            ]

    def get_driver_class(self) -> type[Driver]:
        """On Linux, Textual's driver with its input thread's errors handed to the app."""
        from textual.drivers.linux_driver import LinuxDriver

        from tui.terminal_driver import TerminalDriver

        driver = super().get_driver_class()
        return TerminalDriver if driver is LinuxDriver else driver

    def get_default_screen(self) -> Screen[None]:
        """The list picker is the app's first screen, the one under every other.

        As Textual's default screen it is made and drawn as the app starts; a
        screen pushed from on_mount would be drawn once inside Textual's start-up
        batch, for nothing, and again after it (docs/performance.md, "Start-up").
        """
        return ListPicker()

    def on_mount(self) -> None:
        self.after_first_paint(self.start_work)
        self.set_interval(self.policy.heartbeat_every, self.beat)
        threading.Thread(target=self.keep_watch, name="ringround-watch", daemon=True).start()
        self.set_interval(max(self.policy.stale_after // 4, 5), self.sweep)
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(number, self.exit)
        if self.policy.telephony.enabled:
            from tui.phone_line import PhoneLine  # the exchange's code, for clinics that use one

            self.phone = PhoneLine(
                self,
                self.database,
                self.policy,
                self.operator,
                lambda: self.session_started,
                self.now,
            )
            self.phone.start()  # builds the backend and connects in the background

    # --- quitting with an open call (asks first) -----------------------------

    async def action_quit(self) -> None:
        """q, ctrl+q, ctrl+c: quit, asking first while a call of this session is open."""
        self.leave(_("quit"), self.exit)

    def action_show_keys(self) -> None:
        """h: every key of the screen with its word (a dialog's keys are in its hint)."""
        if not isinstance(self.screen, ModalScreen):
            self.push_screen(NoticeDialog(key_list(self.screen), title=_("Keys")))

    def action_help_quit(self) -> None:
        self.leave(_("quit"), self.exit)  # ctrl+c quits as operators expect (Textual hints)

    def leave(self, leaving: str, then: Callable[[], object]) -> None:
        """Run ``then`` at once, or after aborting this session's open calls if the operator
        says y; n keeps everything as it is. ``leaving`` completes "Abort it and …?"."""
        if self.leaving:
            return
        self.leaving = True
        from storage.open_calls import open_calls  # the calls' module: loaded after start

        def not_read(error: RingroundError) -> None:
            if cannot_save(error) or not self.database.reachable:
                # Nothing can be aborted while the server is away: leave as a crash would
                # (a call stays this operator's, found "yours from earlier" next time, C9).
                self.leaving = False
                then()
            else:
                self._not_left(error, then)

        self.database.work(
            self,
            lambda conn: open_calls(conn, self.session),
            lambda calls: self._ask_to_leave(calls, leaving, then),
            not_read,
            group="leave",
        )

    def _ask_to_leave(
        self, calls: list[OpenCall], leaving: str, then: Callable[[], object]
    ) -> None:
        if not calls:
            self.leaving = False
            then()
            return

        def answered(yes: bool | None) -> None:
            self.leave_question = None
            if not yes:
                self.leaving = False
                return
            from storage.open_calls import abort_open_calls

            self.database.work(
                self,
                lambda conn: abort_open_calls(conn, self.session, self.now()),
                lambda released: self._left(released, then),
                lambda error: self._not_left(error, then),
                group="leave",
            )

        question = ConfirmDialog(
            open_calls_question(calls, leaving),
            title=ngettext("Open call", "Open calls", len(calls)),
            hint=ngettext(
                "y — abort the call and {leaving}, n — stay",
                "y — abort the calls and {leaving}, n — stay",
                len(calls),
            ).format(leaving=leaving),
        )
        self.leave_question = (question, leaving, then)
        self.push_screen(question, answered)

    def ask_to_leave_again(self) -> None:
        """A call the open-calls question names was lost: that question is out of date.

        It goes without an answer, and leaving starts over: asked about the calls still
        open, or done at once when none is (the operator asked to leave; only the call
        held them back).
        """
        if self.leave_question is None or self.leave_question[0] is not self.screen:
            return
        _question, leaving, then = self.leave_question
        self.leave_question = None
        self.pop_screen()  # unanswered: its callback is dropped, not called
        self.leaving = False
        self.leave(leaving, then)

    def _left(self, released: list[RowKey], then: Callable[[], object]) -> None:
        self.leaving = False
        if self.phone is not None:
            for key in released:
                self.phone.forget(key)
        then()

    def _not_left(self, error: RingroundError, then: Callable[[], object]) -> None:
        self.leaving = False
        if cannot_save(error):  # nothing can be aborted: leave as a crash would (C9)
            then()
            return
        self.push_screen(NoticeDialog(str(error), title=_("Database problem")))

    async def on_unmount(self) -> None:
        if self.phone is not None:
            await self.phone.close()  # log off the exchange

    def terminal_hung_up(self) -> bool:
        """Whether the app's terminal has hung up (looked at by :meth:`keep_watch`, each second).

        A dropped SSH link normally brings SIGHUP. When it does not reach this
        process (a login wrapper that ignores it and keeps waiting, a program
        started in the background), the terminal's input has simply ended:
        reads return nothing, the screen is never seen again, and the session
        would stay alive for ever. A hung-up terminal refuses tcgetattr.
        """
        if self.terminal is None:
            return False
        try:
            termios.tcgetattr(self.terminal)
        except (termios.error, OSError):
            return True
        return False

    # --- the app's own database work (worker threads) ------------------------------

    def start_work(self) -> None:
        """After the first paint: the session's start, and where the audit trail stood."""
        self.run_worker(
            self.note_audit_start, thread=True, group="audit-start", exit_on_error=False
        )
        if self._start is not None:
            self.start_session()

    def note_audit_start(self) -> None:
        """Lost calls are those ended after the app started (see :meth:`calls_lost`)."""
        from storage.open_calls import last_audit_id  # the calls' module: loaded after start

        with suppress(StorageError):
            self.audit_seen = self.database.call(last_audit_id)

    def beat(self) -> None:
        def job(conn: Connection) -> None:
            self.engine.resync(conn)  # a database server's clock is read again (storage/engine.py)
            heartbeat(conn, self.session, self.now())

        def failed(error: RingroundError) -> None:
            if not cannot_save(error):  # the header says that already
                self.notify(str(error), severity="error")

        self.database.work(
            self,
            job,
            lambda _beaten: None,
            failed,
            group="heartbeat",
        )

    @work(thread=True, group="sweep", exclusive=True, exit_on_error=False)
    def sweep(self) -> None:
        # On failure the next activation runs the same checks anyway (C12).
        from storage.locks import remove_stale_locks  # the lock protocol: loaded after start

        with suppress(StorageError):
            self.database.call(
                lambda conn: remove_stale_locks(conn, self.policy, self.session, self.now())
            )

    def keep_watch(self) -> None:
        """Look for others' changes and at the terminal, on a thread of its own: as soon as
        the watch says a commit may have been announced (PostgreSQL's notifications) and
        at the latest every poll_every seconds (SQLite announces nothing).

        One thread for the app's life rather than a Textual worker or timer a second:
        when nobody committed and the terminal is there, a look is one PRAGMA (or no
        query at all) and one tcgetattr, and the UI thread is not woken. A hung-up
        terminal ends the app (:meth:`terminal_hung_up`). Looks are at least
        QUICKEST_POLL apart, so a stream of commits is read in batches.
        """
        last = 0.0
        while not self.closing.is_set():
            self.watcher.wait(self.poll_every)
            pause = last + QUICKEST_POLL - time.monotonic()
            if self.closing.wait(max(pause, 0.0)):
                return
            last = time.monotonic()
            try:
                if self.terminal_hung_up():
                    self.call_from_thread(self.exit)
                    return
                self.poll()
            except (RuntimeError, CancelledError):  # the app has stopped: call_from_thread refuses
                return

    def poll(self) -> None:
        try:
            changes = self.watcher.changes()
        except DatabaseUnreachable:
            self.database.reached(False)  # the watch connects again at the next look
            return
        except LoginRefused as refusal:
            self.database.reached(False, str(refusal))  # and tries again at the next look
            return
        except DatabaseGone as gone:
            self.file_changed(str(gone))
            return
        except StorageError:
            return  # the next look reports what changed meanwhile
        if self.file_gone:
            self.file_changed("")  # the administrator put the file back
        if not self.database.reachable:
            # Lost by a job or by the watch: the header says so until the server answers a
            # reading again (which tells reach_changed); meanwhile one reading a second.
            with suppress(StorageError):
                self.database.call(latest)
        if changes is None:
            return
        lost: list[LostCall] = []
        seen = self.audit_seen
        if seen is not None and not changes.nothing:  # a call of ours ends with a row change
            from storage.open_calls import lost_calls

            with suppress(StorageError):
                lost, self.audit_seen = self.database.call(
                    lambda conn: lost_calls(conn, self.session, seen)
                )
        if lost:
            deliver(self, self.calls_lost, lost)
        if changes.nothing and not any(
            isinstance(screen, FollowsEveryCommit) for screen in in_sight(self.screen_stack)
        ):
            return  # a heartbeat, say: no screen in sight shows what it changed
        deliver(self, self.announce_change, changes)

    def calls_lost(self, lost: list[LostCall]) -> None:
        """Tell the operator at once that a colleague or a supervisor ended their call.

        A result dialog open on that row keeps what was typed (ResultDialog.lock_lost),
        and so does one closed with Escape (KeepsDrafts).
        """
        self.ask_to_leave_again()
        for call in lost:
            if self.phone is not None:
                self.phone.forget(call.key)
            text = lost_text(call, self.policy, self.now(), self.operator)
            screen = self.screen
            # Imported here: the result dialog and its widgets are not needed to start.
            from tui.result_dialog import ResultDialog

            if isinstance(screen, ResultDialog) and screen.row_key == call.key:
                screen.lock_lost(text)
            elif not any(
                isinstance(keeper, KeepsDrafts) and keeper.draft_lost(call.key, text)
                for keeper in self.screen_stack
            ):
                self.push_screen(NoticeDialog(text, title=_("Your call was taken")))

    def announce_change(self, changes: Changes) -> None:
        """Tell the screens the operator can see (tui/messages.py).

        (Any message to a hidden screen would make Textual flush its pending
        updates as a repaint of the whole top screen: kilobytes over SSH at every
        commit.)
        """
        for screen in in_sight(self.screen_stack):
            screen.post_message(DataChanged(changes))

    def file_changed(self, gone: str) -> None:
        """From the watch thread: the database file is gone (``gone`` says so), or back ("").

        Told once each way: the header of every screen, and the administrator's log.
        """
        if self.file_gone == bool(gone):
            return
        self.file_gone = bool(gone)
        started = self.session_started
        log_event(
            logging.ERROR if gone else logging.INFO,
            "database-file-gone" if gone else "database-file-back",
            operator=self.operator,
            session=started.id if started else None,
        )
        deliver(self, self.show_trouble, gone)

    def show_trouble(self, trouble: str) -> None:
        """The header line of every screen: ``trouble``, or none (tui/database_line.py)."""
        self.database_trouble = trouble
        for screen in self.screen_stack:
            for line in screen.query(DatabaseLine):
                line.show(trouble)

    def reach_changed(self, reachable: bool, refusal: str) -> None:
        """From a worker thread: the database server stopped answering, refuses the login
        (``refusal`` says why), or lets the app through again."""
        started = self.session_started
        event = "database-back" if reachable else "database-unreachable"
        log_event(
            logging.INFO if reachable else logging.ERROR,
            "database-login-refused" if refusal else event,
            operator=self.operator,
            session=started.id if started else None,
            **({"reason": refusal} if refusal else {}),
        )
        if self.return_code is None and not self.closing.is_set():
            with suppress(RuntimeError, CancelledError):  # the app has stopped meanwhile
                self.call_from_thread(self.show_reach, reachable, refusal)

    def show_reach(self, reachable: bool, refusal: str) -> None:
        """The header of every screen, a notice when the server is back, and a fresh reading.

        A refused login is named (the sentence of check): waiting will not mend it.
        """
        self.show_trouble(
            "" if reachable else refusal or _("Database server not answering — reconnecting…")
        )
        if reachable:
            self.notify(
                _("The database server answers again; the screen is read afresh."),
                title=_("Database server back"),
            )
            # Commits made meanwhile may not have been announced: read everything again.
            self.announce_change(Changes(0, 0, frozenset(), False))

    def close_database(self) -> None:
        self.closing.set()
        self.watcher.close()
        self.database.close()


if TYPE_CHECKING:
    from storage.open_calls import LostCall, OpenCall
    from tui.phone_line import PhoneLine

    _DESK: type[Desk] = RingroundApp  # the app is what its screens take it for (tui/desk.py)


def run_app(
    db_path: str, policy: Policy, operator: str, supervisor: bool, *, notice: str = ""
) -> int:
    """Start the app for ``operator``; returns the process exit code.

    ``notice`` is shown on the list picker until the operator opens a list.

    The database is opened and the names of the work lists read before the
    screen is taken over, so a file that is not a database is reported as one
    sentence on the terminal and the first screen already shows the lists.
    What grows with the database runs after the first paint, in a worker:
    the integrity check (``PRAGMA quick_check`` reads every page: seconds at a
    million rows), which must pass before anything is written, then the session
    start; and the lists' counts. A damaged file found then ends the app with
    the same sentence, nothing written.
    """
    set_language(choose_language(policy))
    engine = open_engine(db_path)
    conn = engine.connect(shared=True)  # the start runs in a worker

    def start() -> Session:
        # The clients' module is loaded here, after the first paint, as only the start uses it.
        from storage.clients import rekey_phones

        engine.check_integrity(conn)  # a damaged file is refused before the first write
        try:
            rekey_phones(conn, policy.phones)  # after a change of the policy's [phones] rules
            return start_session(conn, operator, engine.now(), supervisor=supervisor)
        except sqlite3.Error as error:
            raise describe(error, db_path) from None

    try:
        try:
            lists = all_work_lists(conn, policy)
        except sqlite3.Error as error:
            raise describe(error, db_path) from None
        app = RingroundApp(
            db_path,
            policy,
            SessionStart(operator, supervisor, start),
            lists=lists,
            notice=notice,
            terminal=sys.__stdin__.fileno() if sys.__stdin__ else None,
        )
        try:
            app.run()
        finally:
            app.close_database()
            session = app.session_started
            if session is not None:
                # A clean exit, SIGTERM, SIGHUP or a hung-up terminal ends the session; its
                # locks stay (C9) and then follow the rules for a session that is gone.
                end_session(conn, session, engine.now())
        if app.start_failure is not None:
            raise app.start_failure
    finally:
        conn.close()
    return 0 if app.return_code in (None, 0) else int(app.return_code)
