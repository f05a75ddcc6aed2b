"""The work screen: the client pane above the rows of one work list.

Keys: arrows activate a row (C12 checks run each time); c start call; 1…9 PBX
call to that number and m PBX/manual mode (telephony on, tui/phone_calls.py); f finish
processing (result dialog); a abort processing; r refresh; k client card;
s client summary; o current requests; / filter; Escape back to the list picker
(asking first while a call is open); h lists them all (tui/footer.py).

The state line under the pane always tells the active row's true state (its
lock, or why it cannot be called); it is read again every few seconds while
shown, so a colleague's app that died shows as "session gone" without moving.
Hints and refusals come as dialogs, results of the operator's own actions as
short notices: neither overwrites the state line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from storage.changes import CLIENT, LIST
from storage.clients import appointments, get_client, row_history
from storage.connection import Connection
from storage.errors import NotAllowed, RingroundError
from storage.families import FamilyFinished, family_rows, finish_family
from storage.i18n import whole_number
from storage.list_order import ListOrder, OrderView
from storage.locks import (
    Claim,
    Finished,
    Lock,
    LockLost,
    Moved,
    Refusal,
    RowState,
    abort_call,
    claim_row,
    finish_call,
    inspect_row,
    saved_finish,
)
from storage.open_calls import save_note
from storage.policy import Policy
from storage.row_details import WorkRow, load_rows
from storage.rows import APPOINTMENT, TASK, RowKey
from storage.shown import in_quotes
from storage.sources import read_source, read_subject
from storage.worklists import (
    BLOCKED,
    CALLBACK_DUE,
    LATER,
    WorkList,
    end_of_today,
    first_rows,
    row_order,
)
from tui.client_card import ClientCard
from tui.client_history import ClientDialog, requests_text, summary_text
from tui.client_pane import Activation, ClientPane, outcome_label, state_text
from tui.database_line import DatabaseLine
from tui.database_work import deliver, in_worker
from tui.desk import AtTheDesk
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.footer import Footer
from tui.formats import (
    clock_text,
    duration_text,
    local,
    lock_place,
    lock_state,
    moment_text,
    refusal_text,
    when,
)
from tui.i18n import N_, _, ngettext
from tui.messages import DataChanged, in_sight
from tui.phone_calls import PHONE_BINDINGS, PhoneActions
from tui.result_dialog import CallEnded, Draft, ResultChoice, ResultDialog
from tui.row_table import RowTable, header_line
from tui.safe_text import safe_text
from tui.same_phone import saved_note, skipped_text
from tui.steady import SteadyText

T = TypeVar("T")
HISTORY_LINES = 2
RECHECK_EVERY = 2.0  # seconds between readings of the shown row's state (liveness, times)
FIRST_PAGE = 100  # rows painted before the whole order of a big list is read
DUE_CHECK_MAX = 3600  # seconds: timers far ahead are set again, so a changed clock is seen


def records_changed_text(key: RowKey) -> str:
    """What a saved call whose source the clinic's records closed meanwhile left alone."""
    if key.kind == APPOINTMENT:
        return _(
            "The appointment was changed in the clinic's records during the call and was "
            "left as the records say; your call was recorded."
        )
    if key.kind == TASK:
        return _(
            "The task was marked done in the clinic's records during the call and was "
            "left as the records say; your call was recorded."
        )
    return _(
        "The call list was closed or this client marked called during the call; the list "
        "was left as it is, and your call was recorded."
    )


def moved_text(moved: Moved, policy: Policy, now: int) -> str:
    """Why a call on an appointment the clinic moved during it was not saved, and what now."""
    time, doctor = moment_text(moved.starts_at, policy, now), safe_text(moved.doctor)
    if moved.doctor == moved.shown_doctor:
        return _(
            "Not saved: the appointment was moved to {time} during the call; call again "
            "with the new time."
        ).format(time=time)
    if moved.starts_at == moved.shown_at:
        return _(
            "Not saved: during the call the appointment's doctor was changed to {doctor}; "
            "call again with the new doctor."
        ).format(doctor=doctor)
    return _(
        "Not saved: the appointment was moved to {time} with {doctor} during the call; "
        "call again with the new time and doctor."
    ).format(time=time, doctor=doctor)


class WorkScreen(PhoneActions, AtTheDesk, Screen[None]):
    """See the module docstring for keys."""

    BINDINGS = [
        # Descriptions are msgids, translated by tui.footer.Footer when it draws them.
        Binding("c", "start_call", N_("Call")),
        *PHONE_BINDINGS,  # 1-9 and m, shown only with telephony on (tui/phone_calls.py)
        Binding("f", "finish", N_("Finish")),
        Binding("a", "abort", N_("Abort")),
        Binding("r", "refresh_rows", N_("Refresh")),
        Binding("k", "card", N_("Card")),
        Binding("s", "summary", N_("Summary")),
        Binding("o", "requests", N_("Requests")),
        Binding("slash", "filter", N_("Filter")),
        Binding("escape", "back", N_("Back")),
    ]
    # Keys the footer leaves out (to "h Keys") when it is too narrow for all (Russian,
    # 60 columns, telephony on), the least needed first: refresh happens by itself every
    # second; the summary, card and requests are looked at less often than the filter is
    # used. The call keys (c, 1-9, m, f, a) and Escape stay (only Russian at 60 columns
    # with telephony on has no room for Escape: it is under h then, and works as ever).
    FOOTER_SPARE = ("refresh_rows", "summary", "card", "requests", "filter")

    def __init__(self, work_list: WorkList, title: str) -> None:
        super().__init__()
        self.work_list = work_list
        self.list_title = title
        self.activation: Activation | None = None
        self.filter_text = ""
        self.busy = ""
        self.order: ListOrder | None = None  # the list's order, kept by worker threads
        self.order_guard = threading.Lock()
        self.due_timer: Timer | None = None
        self.read_until = 2**62  # the order was read for the day ending then
        self.partial = False  # showing only the first page while the whole order is read
        self.activations = 0  # readings of the active row asked for (the newest is shown)
        # The active row whose dead, stale lock one of its readings removed, and whose it was.
        self.stale_removed: tuple[RowKey, str] | None = None
        self.drafts: dict[Claim, Draft] = {}  # result dialogs closed with Escape, per call

    def compose(self) -> ComposeResult:
        yield SteadyText(id="work-title")
        yield DatabaseLine()
        yield ClientPane(id="pane")
        yield SteadyText(id="state")
        yield SteadyText(id="row-header")
        yield RowTable(self.describe_row, id="rows")
        yield Input(
            placeholder=_("Filter: name, phone or subject; Enter keeps, Escape clears"), id="filter"
        )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(RowTable).focus()
        self.recheck_timer = self.set_interval(RECHECK_EVERY, self.recheck)
        self.rechecking = True  # nothing shown yet: see plan_recheck
        self.reload()
        self.set_interval(self.desk.policy.heartbeat_every, self.look_again)

    def in_sight(self) -> bool:
        """This screen is on top, or only dialogs are above it."""
        return self in in_sight(self.app.screen_stack)

    def recheck(self) -> None:
        """Read the shown row's state again: a holder's session may have gone meanwhile,
        a lock may have turned stale, a row may have become callable.

        Only the lock state is read (one small reading: this runs every RECHECK_EVERY
        seconds on every idle desk); the client, history and same-phone rows are read
        again only when that state changed. Times shown are brought up to date.
        """
        table = self.query_one(RowTable)
        if table.current_id is None or not self.in_sight() or not self.ages():
            return
        if any(worker.group == "activate" and not worker.is_finished for worker in self.workers):
            return  # a reading is on its way already
        self.read_state(table.current_id, self.activations)

    def plan_recheck(self) -> None:
        """Run :meth:`recheck` only while the shown row's state ages (:meth:`ages`): an
        operator on a free row, which only a write changes, is not woken every
        RECHECK_EVERY seconds for nothing."""
        if self.ages() == self.rechecking:
            return
        self.rechecking = not self.rechecking
        if self.rechecking:
            self.recheck_timer.reset()  # the next recheck RECHECK_EVERY from now
        else:
            self.recheck_timer.pause()

    def ages(self) -> bool:
        """Whether the shown row's state can change with time alone: it has a lock (its
        holder's session and its age) or waits until a moment. A free row changes only
        with a write, which the change feed brings."""
        activation = self.activation
        if activation is None:
            return True
        state = activation.state
        return state.lock is not None or (
            state.refusal is not None and state.refusal.until is not None
        )

    def read_state(self, source_id: int, ticket: int) -> None:
        desk = self.desk
        key = RowKey(self.work_list.kind, source_id)
        self.in_worker(
            lambda conn: inspect_row(conn, desk.policy, desk.session, key, desk.now()),
            lambda state: self.state_read(state, ticket),
            lambda error: self.show_state(str(error)),
            group="activate",
            exclusive=False,
        )

    def state_read(self, state: RowState, ticket: int) -> None:
        self.keep_removal(state)  # the full reading this one asks for finds the row free
        activation = self.activation
        if ticket != self.activations or activation is None or activation.state.key != state.key:
            return  # the operator has moved on, or a full reading is on its way
        if state != activation.state:
            self.activate(state.key.source_id)
            return
        self.show_activation(activation)  # the same state: only the times shown move on

    # --- database work ----------------------------------------------------------

    def in_worker(
        self,
        job: Callable[[Connection], T],
        done: Callable[[T], object],
        failed: Callable[[RingroundError], object],
        *,
        group: str,
        exclusive: bool = True,
    ) -> None:
        """Run a database job in a worker, showing the busy state in the title meanwhile."""
        self.on_database(
            job, done, failed, group=group, exclusive=exclusive, on_busy=self.show_busy
        )

    def in_thread(self, job: Callable[[Connection], T]) -> T:
        """Run a database job from a worker thread, showing the busy state meanwhile."""
        return self.desk.database.call(
            job, on_busy=lambda message: deliver(self, self.show_busy, message)
        )

    def show_busy(self, message: str) -> None:
        self.busy = message
        self.show_title()

    def report(self, error: RingroundError) -> None:
        """Show a database problem as a dialog."""
        self.app.push_screen(NoticeDialog(str(error), title=_("Database problem")))

    def reload(self, saved: int | None = None) -> None:
        """Read the list's order again; ``saved`` is the row whose result was just saved.

        When the list opens, its first page is read and painted first
        (worklists.first_rows): the whole order of a million rows takes a
        second or more, and the cursor keeps its row when it arrives.
        """
        desk = self.desk

        def read() -> None:
            with self.order_guard:  # one reading of the order at a time, shown in turn
                if self.order is None and not self.filter_text:
                    first = self.in_thread(
                        lambda conn: first_rows(
                            conn, desk.policy, desk.session, self.work_list, desk.now(), FIRST_PAGE
                        )
                    )
                    if len(first) == FIRST_PAGE:  # else the whole list is small: read it
                        deliver(
                            self, lambda ids: self.show_ids(ids, None, True), OrderView.read(first)
                        )
                order = self.in_thread(
                    lambda conn: ListOrder(
                        row_order(
                            conn,
                            desk.policy,
                            desk.session,
                            self.work_list,
                            desk.now(),
                            self.filter_text,
                        )
                    )
                )
                self.order = order
                self.read_until = end_of_today(desk.policy, desk.now())
                deliver(self, lambda ids: self.show_ids(ids, saved), order.view)

        in_worker(self, read, lambda _shown: None, self.report, group="ids", exclusive=False)

    def follow(
        self, rows: frozenset[int], clients: frozenset[int] = frozenset(), saved: int | None = None
    ) -> None:
        """Read again only the rows that changed (storage.changes) and move them into place."""
        desk = self.desk

        def read() -> None:
            with self.order_guard:
                if self.order is None:
                    return  # the first reading of the order is still to come and sees them
                order = self.order
                entries = self.in_thread(
                    lambda conn: list(
                        row_order(
                            conn,
                            desk.policy,
                            desk.session,
                            self.work_list,
                            desk.now(),
                            self.filter_text,
                            only=rows,
                            clients=clients,
                        )
                    )
                )
                changed = rows | {entry[0] for entry in entries}
                # A new view sharing all but the changed rows' chunks (no copy of the list).
                ids = order.view if order.update(changed, entries) else None
                deliver(self, lambda ids: self.rows_changed(ids, changed, saved), ids)

        in_worker(
            self,
            read,
            lambda _shown: None,
            lambda error: self.show_state(str(error)),
            group="ids",
            exclusive=False,
        )

    def rows_changed(
        self, ids: OrderView | None, changed: frozenset[int], saved: int | None
    ) -> None:
        table = self.query_one(RowTable)
        if ids is not None:
            self.show_ids(ids, saved)
        table.forget(changed)  # those on screen are read again
        self.plan_due_rows()
        if table.current_id in changed:
            self.activate(table.current_id)

    def show_ids(self, ids: OrderView, saved: int | None = None, first: bool = False) -> None:
        """Show the list's order (``first``: only its first page, the rest is being read)."""
        table = self.query_one(RowTable)
        self.partial = first
        # After the operator's own save the cursor goes on to the next row
        # rather than following the saved row to its new place; any other
        # change leaves the cursor on its row.
        table.set_ids(ids, keep_position=saved is not None and table.current_id == saved)
        self.plan_due_rows()
        self.show_title()
        if not ids:
            self.activation = None
            self.plan_recheck()
            desk = self.desk
            self.query_one(ClientPane).show_activation(None, desk.policy, desk.now())
            if self.filter_text:
                self.show_state(
                    _("Nothing on this list matches the filter '{text}'.").format(
                        text=in_quotes(self.filter_text)
                    )
                )
            else:
                self.show_state(_("Nothing left to call on this list."))

    @on(RowTable.RowsWanted)
    def want_rows(self, event: RowTable.RowsWanted) -> None:
        self.load_rows(event.ids)

    def load_rows(self, ids: list[int]) -> None:
        desk = self.desk
        self.in_worker(
            lambda conn: load_rows(
                conn, desk.policy, desk.session, self.work_list, ids, desk.now()
            ),
            self.query_one(RowTable).add_rows,
            lambda error: self.show_state(str(error)),
            group="rows",
            exclusive=False,
        )

    @on(RowTable.CursorMoved)
    def cursor_moved(self, event: RowTable.CursorMoved) -> None:
        if event.source_id is not None:
            self.activate(event.source_id)

    def activate(self, source_id: int) -> None:
        """C12: inspect the row (stale-lock rules), then read the client for the pane.

        Only the newest reading is shown: one begun earlier (before a claim, say)
        that happens to end later must not put an older state in the pane.
        """
        self.activations += 1
        self.read_activation(source_id, self.activations)

    def read_activation(self, source_id: int, ticket: int) -> None:
        desk = self.desk
        key = RowKey(self.work_list.kind, source_id)

        def job(conn: Connection) -> Activation:
            now = desk.now()
            state = inspect_row(conn, desk.policy, desk.session, key, now)
            source = read_source(conn, desk.policy, key)
            if source is None:
                return Activation(state, None, [], [])
            # "Next" is what is still to come: not a visit already begun today, and not
            # the appointment this call confirms (shown on its own line).
            upcoming = [
                a
                for a in appointments(conn, source.client_id, after=now, limit=3)
                if not (key.kind == APPOINTMENT and a.id == key.source_id)
            ]
            return Activation(
                state,
                get_client(conn, source.client_id),
                upcoming[:2],
                row_history(conn, key, limit=HISTORY_LINES),
                tuple(family_rows(conn, desk.policy, desk.session, source.client_id, now)),
                read_subject(conn, key),
            )

        self.in_worker(
            job,
            lambda activation: self.newest_activation(activation, ticket),
            lambda error: self.show_state(str(error)),
            group="activate",
            exclusive=False,
        )

    def newest_activation(self, activation: Activation, ticket: int) -> None:
        removed = self.keep_removal(activation.state)
        if ticket == self.activations:
            self.show_activation(activation)
        elif removed and self.activation is not None:
            # A newer reading (the removal's own change-feed announcement, say) was
            # shown first, without the note: the row's state line says it now.
            self.show_activation(self.activation)

    def keep_removal(self, state: RowState) -> bool:
        """Whether a reading of the row under the cursor removed a gone operator's stale
        lock (C11); if so, the state line says whose until the operator moves on, whichever
        reading of the row is shown meanwhile (:meth:`show_activation`)."""
        if (
            not state.removed_stale_lock
            or self.query_one(RowTable).current_id != state.key.source_id
        ):
            return False
        self.stale_removed = (state.key, state.removed_stale_lock)
        return True

    def show_activation(self, activation: Activation) -> None:
        table = self.query_one(RowTable)
        if table.current_id != activation.state.key.source_id:
            return  # the operator has moved on meanwhile
        removed = self.stale_removed
        if removed is not None and removed[0] != activation.state.key:
            self.stale_removed = removed = None  # the operator moved on
        state = activation.state
        if removed is not None and state.lock is None and not state.removed_stale_lock:
            # Read again (the removal itself came back through the change feed, maybe
            # before the reading that removed it was shown): the state line keeps saying
            # whose stale lock went until the operator moves on.
            activation = replace(activation, state=replace(state, removed_stale_lock=removed[1]))
        self.activation = activation
        self.plan_recheck()
        desk = self.desk
        self.query_one(ClientPane).show_activation(activation, desk.policy, desk.now())
        self.show_state(
            self.phone_state(activation) or state_text(activation.state, desk.policy, desk.now())
        )
        table.release_paint()  # cursor and pane go out in one screen update

    def show_state(self, message: str) -> None:
        """The state line: the active row's state (or why it could not be read)."""
        self.query_one("#state", SteadyText).show(Text(message, style="bold"))

    def show_title(self) -> None:
        table = self.query_one(RowTable)
        count = ngettext("{count} row", "{count} rows", len(table.ids)).format(
            count=whole_number(len(table.ids))
        )
        if self.partial:
            count = _("counting rows…")
        parts = [self.list_title, count]
        if self.filter_text:
            parts.append(_("filter: {text}").format(text=self.filter_text))
        if self.busy:
            parts.append(self.busy)
        parts.extend(self.phone_title())
        self.query_one("#work-title", SteadyText).show(" · ".join(parts))
        self.query_one("#row-header", SteadyText).show(
            header_line(table.size.width or self.size.width)
        )

    def on_resize(self) -> None:
        self.show_title()

    @on(DataChanged)
    def data_changed(self, event: DataChanged) -> None:
        """Someone (maybe this operator) committed: follow what changed in this list (C3).

        A commit that changed nothing shown here (a heartbeat, another list)
        costs nothing; a few changed rows cost a reading of those rows.
        """
        changes = event.changes
        if changes.nothing:
            return
        work_list = self.work_list
        if not changes.complete or any(
            c.kind == LIST and c.ref == work_list.list_id for c in changes.changes
        ):
            self.refresh_all()
            return
        rows = frozenset(
            c.ref
            for c in changes.changes
            if c.kind == work_list.kind and (c.list_id is None or c.list_id == work_list.list_id)
        )
        clients = frozenset(c.ref for c in changes.changes if c.kind == CLIENT)
        if rows or clients:
            self.follow(rows, clients)

    def refresh_all(self, saved: int | None = None) -> None:
        """Read the order, the visible rows and the active row again (the r key)."""
        table = self.query_one(RowTable)
        table.invalidate()
        self.reload(saved)
        if table.current_id is not None:
            self.activate(table.current_id)

    def refresh_row(self, key: RowKey, saved: int | None = None) -> None:
        """This operator's own claim, abort or save: the row shows its new state at once.

        (Other rows it changed, e.g. of a family, follow with the next change poll.)
        """
        self.follow(frozenset({key.source_id}), saved=saved)
        self.activate(key.source_id)

    def plan_due_rows(self) -> None:
        """Wake up when the first waiting row becomes callable, to move it up (time alone)."""
        if self.due_timer is not None:
            self.due_timer.stop()
            self.due_timer = None
        due = self.waiting_rows().next_due()
        if due is not None:
            delay = max(due - self.desk.now(), 0) + 1
            self.due_timer = self.set_timer(min(delay, DUE_CHECK_MAX), self.rows_come_due)

    def waiting_rows(self) -> OrderView:
        """The order shown, to find the rows waiting for their time (none on a first page)."""
        return OrderView.read(()) if self.partial else self.query_one(RowTable).ids

    def rows_come_due(self) -> None:
        self.due_timer = None
        due = self.waiting_rows().due_by(self.desk.now())
        if due:
            self.follow(frozenset(due))
        else:
            self.plan_due_rows()

    def look_again(self) -> None:
        """Read the rows on screen again now and then: times shown and colleagues' sessions
        age without any write (costs the rows on screen, not the list; repaints only what
        changed; the active row has its own :meth:`recheck`).
        A new day changes which appointments and tasks are listed: all is read again."""
        if self.desk.now() >= self.read_until:
            self.refresh_all()
            return
        self.query_one(RowTable).invalidate()

    # --- rows as text -------------------------------------------------------------

    def describe_row(self, row: WorkRow) -> Mapping[str, str]:
        desk = self.desk
        policy, now = desk.policy, desk.now()
        if row.group == LATER:
            due = ">" + when(row.callable_from, policy, now)
        elif row.group == CALLBACK_DUE:
            due = "!" + when(row.callback_at, policy, now)
        elif row.group == BLOCKED:
            due = _("do not call") if row.do_not_call else _("no tries left")
        else:
            due = when(row.due, policy, now)
        lock = ""
        if row.lock_operator:
            lock = _("you") if row.lock_mine else row.lock_operator
        return {
            "lock": lock,
            "client": row.client,
            "phone": row.phone,
            "subject": row.subject,
            "due": due,
            "attempts": str(row.attempts) if row.attempts else "",
            "result": outcome_label(policy, row.last_outcome),
        }

    # --- actions ------------------------------------------------------------------

    def current_key(self) -> RowKey | None:
        source_id = self.query_one(RowTable).current_id
        return None if source_id is None else RowKey(self.work_list.kind, source_id)

    def refuse(self, message: str, title: str = "") -> None:
        """Show a refusal or hint as a dialog; the state line keeps the row's state."""
        self.app.push_screen(NoticeDialog(message, title=title or _("Cannot call now")))

    def tell(self, message: str, title: str = "") -> None:
        """A short notice of what the operator's own action did (it fades by itself)."""
        self.notify(message, title=title)

    def action_start_call(self) -> None:
        if not self.pbx_refuses_start_call():
            self.start_call()

    def start_call(self) -> None:
        """Claim the active row (C4), asking first outside calling hours."""
        key = self.current_key()
        if key is None:
            return
        desk = self.desk
        now = desk.now()
        if not desk.policy.hours.contains(local(now, desk.policy)):
            question = _("It is {time}, outside calling hours ({hours}). Call anyway?").format(
                time=clock_text(local(now, desk.policy)), hours=desk.policy.hours
            )

            def answered(yes: bool | None) -> None:
                if yes:
                    self.claim(key, None)

            self.app.push_screen(ConfirmDialog(question, title=_("Calling hours")), answered)
            return
        self.claim(key, None)

    def claim(self, key: RowKey, take_over: Lock | None) -> None:
        desk = self.desk
        self.in_worker(
            lambda conn: claim_row(
                conn, desk.policy, desk.session, key, desk.now(), take_over=take_over
            ),
            lambda result: self.claimed(key, result),
            self.report,
            group="claim",
        )

    def claimed(self, key: RowKey, result: Claim | Refusal) -> None:
        desk = self.desk
        if isinstance(result, Claim):
            self.refresh_row(key)
            self.claim_won(key)  # a number key's PBX call starts now
            return
        lock = result.lock
        if result.reason == "locked" and lock is not None and lock.offers_takeover:
            question = _(
                "{operator} has held this row since {since}, over {duration}, and is "
                "still working. Remove the lock and call?"
            ).format(
                operator=safe_text(lock.operator),
                since=moment_text(lock.since, desk.policy, desk.now()),
                duration=duration_text(desk.policy.stale_after),
            )

            def answered(yes: bool | None) -> None:
                if yes:
                    self.claim(key, lock)

            self.app.push_screen(ConfirmDialog(question, title=_("Stale lock")), answered)
            return
        if result.reason == "locked" and lock is not None and lock.mine_elsewhere:
            self.ask_to_move(key, lock)
            return
        title = _("Locked") if result.reason == "locked" else ""
        self.refuse(self.refusal_sentence(key, result), title)
        self.activate(key.source_id)

    def refusal_sentence(self, key: RowKey, refusal: Refusal) -> str:
        """Why c was refused; for a row this operator holds, also what they can still do
        (a row they hold stays on their list until the call is finished or aborted)."""
        desk = self.desk
        activation = self.activation
        lock = activation.state.lock if activation and activation.state.key == key else None
        if refusal.reason == "closed" and lock is not None and lock.mine:
            return _("This row needs no call any more; f still saves what came of yours.")
        if refusal.reason == "closed" and lock is not None and lock.mine_elsewhere:
            return _(
                "This row needs no call any more; finish or abort it in your other window, "
                "or, if that window was closed, abort it here with a at most {duration} later."
            ).format(duration=duration_text(desk.policy.alive_for))
        if refusal.reason == "closed" and lock is not None and lock.mine_earlier:
            return _(
                "This row needs no call any more; a gives back the lock your earlier "
                "session left on it."
            )
        return refusal_text(refusal, desk.policy, desk.now())

    def ask_to_move(self, key: RowKey, lock: Lock) -> None:
        """The operator's own call in their other window, which may be open still: move it
        here only on a yes."""
        desk = self.desk
        question = _(
            "This call is held by another window of yours (since {since}, on {place}): it is "
            "still open there, or that window was closed without saving it. Take it over "
            "here? Whatever that window has not saved yet is lost."
        ).format(since=moment_text(lock.since, desk.policy, desk.now()), place=lock_place(lock))

        def answered(yes: bool | None) -> None:
            if yes:
                self.claim(key, lock)
            else:
                self.activate(key.source_id)

        self.app.push_screen(
            ConfirmDialog(question, title=_("Your call in another window")), answered
        )

    def my_claim(self) -> Claim | None:
        """The Claim for the active row if this session holds its lock."""
        activation = self.activation
        if activation is None or activation.client is None:
            return None
        lock = activation.state.lock
        if lock is None or not lock.mine:
            return None
        return Claim(
            activation.state.key, activation.client.id, lock.session_id, lock.epoch, lock.since
        )

    def action_finish(self) -> None:
        claim = self.my_claim()
        activation = self.activation
        if claim is None or activation is None or activation.client is None:
            lock = activation.state.lock if activation else None
            if lock is not None and lock.mine_earlier:
                self.refuse(
                    _(
                        "This row is locked by you from an earlier session: c takes it "
                        "over, a aborts."
                    ),
                    _("Finish processing"),
                )
            elif lock is not None and lock.mine_elsewhere:
                self.refuse(
                    _(
                        "This call is held by another window of yours (still open, or "
                        "closed without saving): finish it there, or take it over here with c."
                    ),
                    _("Finish processing"),
                )
            elif lock is not None:  # someone else's: say whose, not "start the call"
                desk = self.desk
                self.refuse(lock_state(lock, desk.policy, desk.now()), _("Finish processing"))
            else:
                self.refuse(_("Start the call first (c)."), _("Finish processing"))
            return
        desk = self.desk
        facts = self.call_facts(claim.key)  # a PBX call: its number and what the PBX heard

        family = activation.family  # same phone (B6): settled too if the operator ticks it

        def save(choice: ResultChoice, busy: Callable[[str], None]) -> Finished:
            finish = (
                partial(finish_family, family=[row.key for row in family])
                if choice.family
                else finish_call
            )  # the family in the same transaction

            def job(conn: Connection) -> Finished:
                try:
                    return finish(
                        conn,
                        desk.policy,
                        desk.session,
                        claim,
                        choice.outcome,
                        choice.comment,
                        desk.now(),
                        callback_at=choice.callback_at,
                        callback_anyone=choice.callback_anyone,
                        mode=facts.mode,
                        number=facts.number,
                    )
                except LockLost:
                    # A try after a save whose answer the database server never sent
                    # (it went away during the COMMIT): saved then, not lost.
                    saved = saved_finish(conn, claim)
                    if saved is None:
                        raise
                    return saved

            finished = desk.database.call(job, on_busy=busy)
            if finished.moved is not None:  # only the lock was released: the row is free
                deliver(self, self.call_released, claim.key)  # the exchange stops following
                raise CallEnded(moved_text(finished.moved, desk.policy, desk.now()))
            return finished

        def done(finished: Finished | None) -> None:
            # A save that lands while the app is closing (SIGHUP, SIGTERM) is in the
            # database already; this screen's widgets may be gone: nothing to show.
            if finished is None and self.is_attached:
                self.refresh_all()  # a lost call: show the row's new state and any note
            if finished is not None and self.is_attached:
                note = _("Saved.") if not finished.closed else _("Saved; the row is done.")
                if isinstance(finished, FamilyFinished) and (finished.settled or finished.skipped):
                    note += " " + saved_note(finished)
                    if finished.skipped:
                        self.app.push_screen(
                            NoticeDialog(
                                skipped_text(finished, family, desk.policy, desk.now()),
                                title=_("Same phone"),
                            )
                        )
                self.tell(note)
                if finished.records_changed:
                    self.app.push_screen(
                        NoticeDialog(records_changed_text(claim.key), title=_("Finish processing"))
                    )
                self.call_released(claim.key)
                self.refresh_row(claim.key, saved=claim.key.source_id)

        def keep(comment: str) -> None:  # the call was lost: the comment becomes a note
            desk.database.call(
                lambda conn: save_note(conn, desk.session, claim.key, comment, desk.now())
            )

        def keep_draft(draft: Draft) -> None:  # Escape: for the next f on this call
            self.drafts[claim] = draft

        self.app.push_screen(
            ResultDialog(
                activation.client.name,
                desk.policy,
                desk.now,
                save,
                preselect=facts.preselect,
                family=len(family),
                row_key=claim.key,
                keep=keep,
                draft=self.drafts.pop(claim, None),
                keep_draft=keep_draft,
            ),
            done,
        )

    def action_abort(self) -> None:
        activation = self.activation
        lock = activation.state.lock if activation else None
        if lock is not None and lock.mine_elsewhere:
            self.refuse(
                _(
                    "This call is held by another window of yours (still open, or closed "
                    "without saving); finish or abort it there, or take it over here with c."
                ),
                _("Abort processing"),
            )
            return
        if activation is None or lock is None or not (lock.mine or lock.mine_earlier):
            self.refuse(_("There is no call of yours on this row to abort."), _("Abort processing"))
            return
        self.abort(activation.state.key)

    def abort(self, key: RowKey) -> None:
        desk = self.desk

        def failed(error: RingroundError) -> None:
            if isinstance(error, NotAllowed):
                self.refuse(str(error))
            else:
                self.report(error)

        self.in_worker(
            lambda conn: abort_call(conn, desk.policy, desk.session, key, desk.now()),
            lambda _released: self.aborted(key),
            failed,
            group="abort",
        )

    def draft_lost(self, key: RowKey, told: str) -> bool:
        """KeepsDrafts: a comment written for the lost call (its dialog closed with Escape)
        was never saved: ask whether to keep it as a note on the row, as the open dialog
        would (ResultDialog.lock_lost)."""
        lost = [draft for claim, draft in self.drafts.items() if claim.key == key]
        self.drafts = {claim: d for claim, d in self.drafts.items() if claim.key != key}
        comment = next((draft.comment.strip() for draft in lost if draft.comment.strip()), "")
        if not comment:
            return False
        question = _(
            "{told} What you wrote was not saved: '{comment}'. Keep it as a note on the row?"
        ).format(told=told, comment=in_quotes(comment))

        def answered(yes: bool | None) -> None:
            if yes:
                self.keep_note(key, comment)

        self.app.push_screen(ConfirmDialog(question, title=_("Your call was taken")), answered)
        return True

    def keep_note(self, key: RowKey, comment: str) -> None:
        desk = self.desk

        def kept(_saved: None) -> None:
            self.tell(_("Your comment was saved as a note on the row."))
            self.refresh_row(key)

        self.in_worker(
            lambda conn: save_note(conn, desk.session, key, comment, desk.now()),
            kept,
            self.report,
            group="note",
        )

    def aborted(self, key: RowKey) -> None:
        self.drafts = {claim: d for claim, d in self.drafts.items() if claim.key != key}
        self.tell(_("Processing aborted; nothing was recorded."))
        self.call_released(key)
        self.refresh_row(key)

    def action_refresh_rows(self) -> None:
        self.refresh_all()

    def action_card(self) -> None:
        if self.activation is not None and self.activation.client is not None:
            self.app.push_screen(ClientCard(self.activation.client.id))

    def action_summary(self) -> None:
        if self.activation is not None and self.activation.client is not None:
            self.app.push_screen(
                ClientDialog(self.activation.client.id, _("Client summary"), summary_text)
            )

    def action_requests(self) -> None:
        if self.activation is not None and self.activation.client is not None:
            self.app.push_screen(
                ClientDialog(self.activation.client.id, _("Current requests"), requests_text)
            )

    # --- filter -------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.reload()

    @on(Input.Submitted, "#filter")
    def filter_kept(self) -> None:
        self.query_one(RowTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display and box.has_focus:
            box.value = ""
            box.display = False
            self.query_one(RowTable).focus()
            return
        self.desk.leave(_("go back to the lists"), self.app.pop_screen)
