"""The supervisor screen (B7): who is online and what each operator holds, with release.

Opened with v on the list picker, by supervisors only (storage.supervision
refuses anyone else, whatever the screen offers). The upper table lists the
running sessions (operator, host and terminal, since when, last heartbeat,
rows held); the lower one every lock (operator, client, what the row is
about, since when, for how long, and its state: working, stale — held longer
than the policy's stale_after by someone still working — or gone, the
owner's app no longer running).

Keys: Up/Down choose a lock; u releases it (after y/n; audited); r refreshes;
Escape goes back to the list picker.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from storage.connection import Connection
from storage.errors import RingroundError
from storage.i18n import whole_number
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM
from storage.supervision import HeldLock, OnlineSession, Overview, overview, release_held_lock
from tui.database_line import DatabaseLine
from tui.desk import AtTheDesk
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.footer import Footer
from tui.formats import fit, local, moment_text, task_kind_text, when
from tui.i18n import N_, _, ngettext
from tui.messages import DataChanged, FollowsEveryCommit
from tui.safe_text import safe_text
from tui.steady import SteadyText

Cells = tuple[tuple[str | Text, ...], ...]
LOCK_FIXED = 9 + 5 + 10 + 7  # operator, since, for, state


def duration_text(seconds: int) -> str:
    """How long, briefly: "40 s", "12 min", "2 h 05 min", "10 d 05 h".

    In days past a day: a lock a crashed app left days ago read "245 h 05 m", its
    unit cut off by the column (10 wide).
    """
    seconds = max(seconds, 0)
    if seconds < 60:
        return _("{count} s").format(count=seconds)
    if seconds < 3600:
        return _("{count} min").format(count=seconds // 60)
    if seconds < 86400:
        return _("{hours} h {minutes:02d} min").format(
            hours=seconds // 3600, minutes=seconds % 3600 // 60
        )
    return _("{days} d {hours:02d} h").format(
        days=whole_number(seconds // 86400), hours=seconds % 86400 // 3600
    )


ONLINE_OPERATOR_WIDTH = 10  # the online table's "Operator" column
HOST_WIDTH = 21  # the online table's "Host and terminal" column


def lock_widths(total: int) -> tuple[int, int]:
    """Cells for the client and the row columns of the locks table; the rest are fixed."""
    spare = max(total - LOCK_FIXED - 2 * 6 - 2, 20)
    client = spare * 2 // 5
    return client, spare - client


def lock_about(lock: HeldLock, policy: Policy, now: int) -> str:
    """What the locked row is about: the appointment's time and service, the list, the task."""
    if lock.key.kind == APPOINTMENT:
        return f"{when(lock.starts_at, policy, now)} {safe_text(lock.subject)}".strip()
    if lock.key.kind == ITEM:
        return safe_text(lock.list_name)
    kind = task_kind_text(lock.list_name)
    return f"{kind}: {safe_text(lock.subject)}" if lock.subject else kind


@dataclass(frozen=True)
class Shown:
    """What the two tables show, to repaint only when it changes."""

    sessions: Cells
    locks: Cells


class SupervisorScreen(FollowsEveryCommit, AtTheDesk, Screen[None]):
    """See the module docstring for keys."""

    BINDINGS = [
        Binding("u", "release", N_("Release lock")),
        Binding("r", "refresh_overview", N_("Refresh")),
        Binding("escape", "back", N_("Back")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.overview: Overview | None = None
        self.shown: Shown | None = None
        self.note = ""  # the outcome of the last release, kept in the status line
        self.client_width, self.row_width = lock_widths(80)

    def compose(self) -> ComposeResult:
        yield SteadyText(id="supervisor-title")
        yield DatabaseLine()
        yield Static(Text(_("Online")), classes="section-title")
        online: DataTable[str | Text] = DataTable(
            id="online", cursor_type="none", zebra_stripes=False
        )
        online.can_focus = False
        yield online
        yield Static(Text(_("Locks — u releases the chosen one")), classes="section-title")
        yield DataTable(id="held", cursor_type="row")
        yield SteadyText(id="supervisor-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#supervisor-title", SteadyText).show(_("Supervisor"))
        online = self.query_one("#online", DataTable)
        online.add_column(_("Operator"), width=ONLINE_OPERATOR_WIDTH)
        online.add_column(_("Host and terminal"), width=HOST_WIDTH)
        online.add_column(_("Since"), width=11)
        online.add_column(_("Heartbeat"), width=12)  # «59 мин назад»: alive_for is at most 1h
        online.add_column(_("Rows"), width=4)
        held = self.query_one("#held", DataTable)
        self.client_width, self.row_width = lock_widths(self.app.size.width)
        held.add_column(_("Operator"), width=9)
        held.add_column(_("Client"), width=self.client_width)
        held.add_column(_("Row"), width=self.row_width)
        held.add_column(_("Since"), width=5)
        held.add_column(_("For"), width=10)
        held.add_column(_("State"), width=7)
        held.focus()
        self.load()

    # --- reading ------------------------------------------------------------------

    @on(DataChanged)
    def action_refresh_overview(self) -> None:
        self.load()

    def load(self) -> None:
        desk = self.desk

        def job(conn: Connection) -> Overview:
            return overview(conn, desk.policy, desk.session, desk.now())

        self.on_database(job, self.show, lambda error: self.say(str(error)), group="overview")

    def say(self, message: str) -> None:
        self.query_one("#supervisor-status", SteadyText).show(Text(message, style="bold"))

    def show(self, seen: Overview) -> None:
        self.overview = seen
        desk = self.desk
        now = desk.now()
        holding = len({lock.operator for lock in seen.locks})
        parts = [
            _("Supervisor"),
            ngettext("{count} online", "{count} online", len(seen.sessions)).format(
                count=len(seen.sessions)
            ),
            ngettext("{count} lock", "{count} locks", len(seen.locks)).format(
                count=len(seen.locks)
            ),
        ]
        if holding:  # not "held by 0 operators"
            parts.append(
                ngettext("held by {count} operator", "held by {count} operators", holding).format(
                    count=holding
                )
            )
        self.query_one("#supervisor-title", SteadyText).show(" · ".join(parts))
        shown = Shown(
            tuple(self.session_cells(s, now) for s in seen.sessions),
            tuple(self.lock_cells(lock, now) for lock in seen.locks),
        )
        if shown == self.shown:
            return  # nothing to repaint
        previous = self.shown
        self.shown = shown
        if previous is None or previous.sessions != shown.sessions:
            online = self.query_one("#online", DataTable)
            online.clear()
            for cells in shown.sessions:
                online.add_row(*cells)
        if previous is None or previous.locks != shown.locks:
            held = self.query_one("#held", DataTable)
            row = held.cursor_row
            held.clear()
            for lock, cells in zip(seen.locks, shown.locks, strict=True):
                held.add_row(*cells, key=str(lock.key))
            if seen.locks:
                held.move_cursor(row=min(row, len(seen.locks) - 1))
        self.say(self.note or ("" if seen.locks else _("Nobody holds a row now.")))

    def session_cells(self, session: OnlineSession, now: int) -> tuple[str | Text, ...]:
        policy = self.desk.policy
        terminal = session.tty.removeprefix("/dev/")
        place = f"{safe_text(session.host)} {safe_text(terminal)}".strip()
        return (  # data as Text: a table takes a plain string as markup
            Text(fit(safe_text(session.operator), ONLINE_OPERATOR_WIDTH)),
            Text(fit(place, HOST_WIDTH)),
            when(session.started_at, policy, now),
            _("{time} ago").format(time=duration_text(now - session.heartbeat_at)),
            str(session.locks) if session.locks else "",
        )

    def lock_cells(self, lock: HeldLock, now: int) -> tuple[str | Text, ...]:
        policy = self.desk.policy
        since = local(lock.since, policy)
        today = local(now, policy).date() == since.date()
        if not lock.alive:
            state = Text(_("gone"), style="dim")
        elif lock.stale:
            state = Text(_("stale"), style="bold")  # over stale_after, still working (C10)
        else:
            state = Text(_("working"))
        return (
            Text(fit(safe_text(lock.operator), 9)),
            Text(fit(safe_text(lock.client), self.client_width)),
            Text(fit(lock_about(lock, policy, now), self.row_width)),
            since.strftime("%H:%M" if today else "%d.%m"),
            duration_text(now - lock.since),
            state,
        )

    # --- release ------------------------------------------------------------------

    def chosen_lock(self) -> HeldLock | None:
        held = self.query_one("#held", DataTable)
        if self.overview is None or not self.overview.locks or held.row_count == 0:
            return None
        return self.overview.locks[min(held.cursor_row, len(self.overview.locks) - 1)]

    def action_release(self) -> None:
        lock = self.chosen_lock()
        if lock is None:
            self.say(_("There is no lock to release."))
            return
        desk = self.desk
        policy, now = desk.policy, desk.now()
        question = _(
            "Release the lock of {operator} on {client} ({about}), held since {since}? "
            "Nothing is recorded for the call; the row is free for everyone."
        ).format(
            operator=safe_text(lock.operator),
            client=safe_text(lock.client),
            about=lock_about(lock, policy, now),
            since=moment_text(lock.since, policy, now),
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.release(lock)

        self.app.push_screen(ConfirmDialog(question, title=_("Release lock")), answered)

    def release(self, lock: HeldLock) -> None:
        desk = self.desk
        self.on_database(
            lambda conn: release_held_lock(conn, desk.session, lock, desk.now()),
            lambda released: self.released(lock, released),
            self.refused,
            group="release",
        )

    def refused(self, error: RingroundError) -> None:
        message = str(error)
        self.note = message
        self.say(message)
        self.app.push_screen(NoticeDialog(message, title=_("Release lock")))

    def released(self, lock: HeldLock, released: bool) -> None:
        if released:
            self.note = _("Released the lock of {operator} on {client}.").format(
                operator=safe_text(lock.operator), client=safe_text(lock.client)
            )
        else:
            self.note = _("That lock has changed meanwhile; nothing was released. Look again.")
        self.say(self.note)
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()
