"""The list picker (C1): the work lists in the order of C1 with their counts.

Keys: Up/Down choose, Enter opens the list, r refreshes, q quits; for
supervisors v opens the supervisor screen and p the reports (tui/supervisor_keys.py).
"""

from __future__ import annotations

import threading

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import ScreenResume
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from storage.changes import CLIENT, LIST
from storage.connection import Connection
from storage.i18n import whole_number
from storage.rows import APPOINTMENT, ITEM
from storage.worklists import WorkList, WorkListSummary, summarize, work_lists
from tui.database_line import DatabaseLine
from tui.database_work import deliver, in_worker
from tui.desk import AtTheDesk
from tui.footer import Footer
from tui.formats import fit, task_kind_text
from tui.i18n import N_, _, ngettext
from tui.messages import DataChanged
from tui.safe_text import safe_text
from tui.supervisor_keys import SUPERVISOR_BINDINGS, SupervisorKeys

RECOUNT_EVERY = 3.0  # seconds: changes to a list's rows are gathered this long before a count


def list_title(work_list: WorkList) -> str:
    if work_list.kind == APPOINTMENT:
        return _("Appointment confirmation")
    if work_list.kind == ITEM:
        name = safe_text(work_list.name)  # a call list's name comes from the data (imports)
        return _("{name} (closed)").format(name=name) if work_list.closed else name
    return _("Tasks: {kind}").format(kind=task_kind_text(work_list.name))


def counts_text(summary: WorkListSummary, *, short: bool = False) -> str:
    """ "12 to call now · 3 later · 1 locked by others" (``short``: "12 now · 3 later · 1 locked").

    Rows nobody can call (do not call, no tries left) are in none of the counts;
    "later" and "locked" show only when there are such rows. A closed call list holds
    only the operator's own calls left open (storage.worklists): "1 call of yours left open".
    """
    if summary.work_list.closed:
        if short:
            held = ngettext("{count} of yours", "{count} of yours", summary.pending)
        else:
            held = ngettext(
                "{count} call of yours left open",
                "{count} calls of yours left open",
                summary.pending,
            )
        return held.format(count=whole_number(summary.pending))
    if short:
        parts = [ngettext("{count} now", "{count} now", summary.callable_now)]
        later = ngettext("{count} later", "{count} later", summary.later)
        locked = ngettext("{count} locked", "{count} locked", summary.locked_by_others)
    else:
        parts = [ngettext("{count} to call now", "{count} to call now", summary.callable_now)]
        later = ngettext("{count} later", "{count} later", summary.later)
        locked = ngettext(
            "{count} locked by others", "{count} locked by others", summary.locked_by_others
        )
    texts = [parts[0].format(count=whole_number(summary.callable_now))]
    if summary.later:
        texts.append(later.format(count=whole_number(summary.later)))
    if summary.locked_by_others:
        texts.append(locked.format(count=whole_number(summary.locked_by_others)))
    return " · ".join(texts)


TITLE_ROOM = 20  # columns kept for a list's name before the counts take their short form


def summary_line(work_list: WorkList, summary: WorkListSummary | None, width: int) -> Text:
    """The list's line; its counts once they are read (``…`` until then)."""
    title = list_title(work_list)
    counts = counts_text(summary) if summary is not None else "…"
    if summary is not None and width - cell_len(counts) - 4 < min(cell_len(title), TITLE_ROOM):
        counts = counts_text(summary, short=True)
    room = max(width - cell_len(counts) - 4, 10)
    title = fit(title, room)
    line = Text(title)
    line.pad_right(room - cell_len(title) + 2)
    line.append(counts, style="" if summary is not None and summary.callable_now else "dim")
    return line


class ListPicker(SupervisorKeys, AtTheDesk, Screen[None]):
    """See the module docstring for keys."""

    BINDINGS = [
        Binding("r", "refresh_lists", N_("Refresh")),
        Binding("q", "app.quit", N_("Quit")),
        *SUPERVISOR_BINDINGS,  # v and p, shown to supervisors only
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lists: list[WorkList] = []  # in the order of C1
        self.counts: dict[WorkList, WorkListSummary] = {}  # the lists counted so far
        self.shown_width = 0  # the width the lines were laid out for
        self.fresh = False  # showing the lists read at start, not yet resumed
        self.resumed = False  # resumed (made the current screen) at least once
        self.stale: set[WorkList] = set()  # lists whose rows changed since they were counted
        self.recount_timer: Timer | None = None
        self.load_guard = threading.Lock()

    def compose(self) -> ComposeResult:
        desk = self.desk
        yield Static(
            Text(_("Mass calling — {operator}").format(operator=safe_text(desk.operator))),
            id="picker-title",
        )
        yield DatabaseLine()
        if desk.notice:
            yield Static(Text(safe_text(desk.notice)), id="picker-notice")
        yield OptionList(id="lists")
        yield Static("", id="picker-status")
        yield Footer()

    def on_mount(self) -> None:
        desk = self.desk
        if desk.first_lists is not None:  # read before start: painted in the first frame
            self.show(desk.first_lists, {})
            desk.first_lists = None
            self.fresh = True
            self.desk.after_first_paint(self.load)  # the counts read whole lists

    def on_screen_resume(self, event: ScreenResume) -> None:
        if not self.resumed:
            # The first resume follows the mount at once: the styles computed then are
            # current, and Textual need not compute every one again before the first frame
            # (docs/performance.md, "The first frame is drawn once, whole").
            self.resumed = True
            event.refresh_styles = False
        if self.fresh:  # the lists read at start are on screen: no second reading now
            self.fresh = False
            return
        if self.desk.notice:  # read: back from the first list, the room goes to the lists
            self.desk.notice = ""
            self.query_one("#picker-notice", Static).remove()
        self.load()  # also the first load when nothing was read at start

    @property
    def summaries(self) -> list[WorkListSummary]:
        """The lists with their counts, once every one is counted ([] until then)."""
        if any(work_list not in self.counts for work_list in self.lists):
            return []
        return [self.counts[work_list] for work_list in self.lists]

    def action_refresh_lists(self) -> None:
        self.load()

    @on(DataChanged)
    def data_changed(self, event: DataChanged) -> None:
        """Count again only the lists whose rows changed, at most every RECOUNT_EVERY seconds.

        A list's count reads the whole list, so a busy clinic's stream of
        changes is gathered first; commits that change no row (heartbeats) cost
        nothing.
        """
        changes = event.changes
        if changes.nothing:
            return
        if not changes.complete:
            self.load()
            return
        for change in changes.changes:
            affected = [
                w
                for w in self.lists
                if w.kind == change.kind and (change.kind != ITEM or w.list_id == change.list_id)
            ]
            if change.kind in (CLIENT, LIST) or (
                change.kind == ITEM and not affected and change.list_id is not None
            ):
                self.load()  # a list may come or go, or any list's rows changed
                return
            self.stale.update(affected)
        if self.stale and self.recount_timer is None:
            self.recount_timer = self.set_timer(RECOUNT_EVERY, self.recount)

    def recount(self) -> None:
        self.recount_timer = None
        stale, self.stale = self.stale, set()
        self.load(frozenset(stale))

    def load(self, only: frozenset[WorkList] | None = None) -> None:
        """Read the lists and count them (``only``: count just these again)."""
        desk = self.desk

        def job(conn: Connection) -> tuple[list[WorkList], list[WorkListSummary]]:
            if only is None:
                summaries = work_lists(conn, desk.policy, desk.session, desk.now())
                return [s.work_list for s in summaries], summaries
            return self.lists, [
                summarize(conn, desk.policy, desk.session, work_list, desk.now())
                for work_list in only
            ]

        def read() -> None:
            with self.load_guard:  # readings are shown in the order they were made
                lists, summaries = desk.database.call(
                    job, on_busy=lambda message: deliver(self, self.show_status, message)
                )
                deliver(self, lambda found: self.counted(*found, only is None), (lists, summaries))

        in_worker(
            self,
            read,
            lambda _shown: None,
            lambda error: self.show_status(str(error)),
            group="lists",
            exclusive=False,
        )

    def counted(self, lists: list[WorkList], summaries: list[WorkListSummary], whole: bool) -> None:
        counts = {} if whole else dict(self.counts)
        counts.update((s.work_list, s) for s in summaries)
        listed = [w for w in lists if w not in counts or counts[w].listed]
        self.show(listed, counts)

    def show_status(self, message: str) -> None:
        status = self.query_one("#picker-status", Static)
        if str(status.content) != message:  # the same line again writes nothing
            status.update(Text(safe_text(message, keep_newlines=True)))

    def show(self, lists: list[WorkList], counts: dict[WorkList, WorkListSummary]) -> None:
        options = self.query_one("#lists", OptionList)
        # Before the first layout the list has no size yet: the screen's width less its gutter.
        inner = options.size.width or self.app.size.width - options.styles.gutter.width
        width = max(inner - 2, 40)
        if lists == self.lists and counts == self.counts and width == self.shown_width:
            return  # nothing to repaint
        highlighted = options.highlighted
        self.lists, self.counts = lists, counts
        self.shown_width = width
        options.clear_options()
        options.add_options([Option(summary_line(w, counts.get(w), width)) for w in lists])
        if lists:
            options.highlighted = min(highlighted or 0, len(lists) - 1)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        from tui.work_screen import WorkScreen

        work_list = self.lists[event.option_index]
        self.app.push_screen(WorkScreen(work_list, list_title(work_list)))
