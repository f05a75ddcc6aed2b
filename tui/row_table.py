"""The rows of a work list, drawn line by line so that 100,000 rows cost no more than 20.

Only the ordered source ids are kept for the whole list: the view of the list's
order that the screen's worker thread keeps up to date (storage/list_order.py),
shared with it rather than copied, and replaced by a new view with each change
that moves a row; the details of the rows on screen are asked for with
:class:`RowTable.RowsWanted` and arrive through :meth:`RowTable.add_rows`, and
only those near the screen are kept (at most :data:`KEEP_ROWS`), so paging
through a million rows costs no more memory than one page. Moving the cursor
repaints two lines; a scroll repaints each line only up to its last cell that
looks different, and of the scrollbar only the lines its thumb leaves and
enters (tests/tui/test_partial_repaints.py holds the screen to a full repaint).

Keys: Up/Down move the cursor, PageUp/PageDown a page, Home/End to the ends.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from math import ceil

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from storage.list_order import OrderView
from storage.row_details import WorkRow
from storage.worklists import BLOCKED, CALLBACK_DUE, LATER
from tui.formats import fit, phone_in_column
from tui.i18n import _
from tui.safe_text import safe_text

PAGE_MARGIN = 40  # rows loaded beyond the screen, so scrolling rarely waits
KEEP_ROWS = 1000  # details kept at most; those farthest from the screen are dropped first
PAINT_HOLD = 0.03  # seconds a cursor move waits at most for the owner's answer


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int


def columns(total: int) -> list[Column]:
    """Column widths for a terminal width: nothing is cut in the middle of a time.

    Narrow terminals first narrow the client's name and the last result, then
    drop the last result and the tries; wide ones get the subject as well.
    """
    shown = [
        Column("lock", _("Lock"), 9),
        Column("client", _("Client"), 13),
        Column("phone", _("Phone"), 17),
        Column("due", _("Due"), 12),  # ">27.11 10:30": a call-back on another day
        Column("attempts", _("Tries"), 5),
        Column("result", _("Last result"), 9),
    ]
    for optional in ("result", "attempts"):
        if sum(c.width + 1 for c in shown) <= total:
            break
        shown = [c for c in shown if c.key != optional]
    spare = total - sum(c.width + 1 for c in shown)
    for key, widest in (("client", 20), ("result", 13)):
        for index, column in enumerate(shown):
            if column.key == key and spare > 0:
                grow = min(spare, widest - column.width)
                shown[index] = Column(key, column.title, column.width + grow)
                spare -= grow
    if spare >= 8:
        shown.insert(3, Column("subject", _("Subject"), spare - 1))
    elif spare > 0:
        shown[1] = Column("client", shown[1].title, shown[1].width + spare)
    return shown


def _cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """A strip as its cells: each cell's text and style (a wide character's second cell is "")."""
    cells: list[tuple[str, Style | None]] = []
    for segment in strip:
        for char in segment.text:
            cells.append((char, segment.style))
            cells.extend(("", segment.style) for _ in range(cell_len(char) - 1))
    return cells


def _changed_end(before: Strip, after: Strip, width: int) -> int:
    """Where the cells of ``after`` within ``width`` stop looking different from ``before``
    (0: none does)."""
    old, new = _cells(before), _cells(after)
    end = 0
    for x in range(width):
        if x >= len(old) or x >= len(new) or old[x] != new[x]:
            end = x + 1
    while end < min(len(new), width) and new[end][0] == "":
        end += 1  # a wide character is written whole
    return end


def _thumb(bar: ScrollBar) -> tuple[int, int] | None:
    """Where a vertical scrollbar's thumb starts and ends, in eighths of a line, as Textual
    draws it (textual.scrollbar.ScrollBarRender.render_bar); None when it draws none."""
    size, virtual, window = bar.size.height, bar.window_virtual_size, bar.window_size
    if not (window and size and virtual) or window >= virtual or size == virtual:
        return None
    thumb = max(1, window / (virtual / size))
    top = int((size - thumb) * (bar.position / (virtual - window)) * 8)
    return max(0, top), max(0, top + ceil(thumb * 8))


def header_line(total: int) -> str:
    return " ".join(set_cell_size(fit(c.title, c.width), c.width) for c in columns(total))


class RowTable(ScrollView, can_focus=True):
    """A work list's rows; see the module docstring for keys."""

    BINDINGS = [
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "jump(0)", show=False),
        Binding("end", "jump(-1)", show=False),
    ]
    COMPONENT_CLASSES = {
        "row-table--cursor",
        "row-table--later",
        "row-table--callback",
        "row-table--others",
        "row-table--mine",
        "row-table--header",
    }
    DEFAULT_CSS = """
    RowTable { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    RowTable > .row-table--cursor { text-style: reverse bold; }
    RowTable > .row-table--later { text-style: dim; }
    RowTable > .row-table--callback { text-style: bold; color: $warning; }
    RowTable > .row-table--others { color: $error; }
    RowTable > .row-table--mine { color: $success; text-style: bold; }
    """

    class CursorMoved(Message):
        """The operator moved to another row (or the list changed under the cursor)."""

        def __init__(self, source_id: int | None) -> None:
            super().__init__()
            self.source_id = source_id

    class RowsWanted(Message):
        """Rows on screen whose details are not loaded yet."""

        def __init__(self, ids: list[int]) -> None:
            super().__init__()
            self.ids = ids

    def __init__(
        self, describe_row: Callable[[WorkRow], Mapping[str, str]], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.describe_row = describe_row
        self.ids = OrderView.read(())
        self.rows: dict[int, WorkRow] = {}
        self.cursor = 0
        self._asked: set[int] = set()
        self._held: AbstractContextManager[None] | None = None  # see _hold_paint
        self._painted: dict[int, Strip] = {}  # line on screen -> what was painted there last
        self._ends: dict[int, int] = {}  # line -> where the part of it to repaint next ends

    # --- data -----------------------------------------------------------------

    @property
    def current_id(self) -> int | None:
        return self.ids[self.cursor] if 0 <= self.cursor < len(self.ids) else None

    def set_ids(self, ids: OrderView, *, keep_position: bool = False) -> None:
        """A new order of the list.

        The cursor stays on its row while that row is still listed, so that
        other operators' work does not move it; with ``keep_position`` (after
        the operator's own save) it stays at the same place, on the next row.
        An order made from the one shown by a change (storage/list_order.py)
        costs the rows it changed, not the list: the cursor's row is found by
        its sort key, and the details of the rows loaded stay (the changed
        rows are forgotten by the owner, :meth:`forget`).
        """
        if ids is self.ids:
            return
        changed = ids.base == self.ids.version
        if not changed and ids.same_rows(self.ids):
            self.ids = ids  # read again (a refresh), and nothing moved: nothing to draw
            return
        found = None
        if not keep_position and 0 <= self.cursor < len(self.ids):
            found = ids.find_row(self.ids, self.cursor)
        if not changed:
            self._asked.clear()  # a fresh reading of the whole list
        self.ids = ids
        self._set_length(len(ids), repaint_all=not changed)
        old_cursor = self.cursor
        self.cursor = max(0, found if found is not None else min(old_cursor, len(ids) - 1))
        scrolled = self._scroll_to_cursor()  # a scroll repaints what it changes
        if not changed:
            self.refresh()
        elif not scrolled:  # rows that moved off screen repaint nothing
            for y in range(self.size.height):
                self._repaint_line(y)
        self._want_visible()
        if found is None:
            self.post_message(self.CursorMoved(self.current_id))

    def add_rows(self, rows: dict[int, WorkRow]) -> None:
        changed = {k: v for k, v in rows.items() if self.rows.get(k) != v}
        if not changed:
            return  # nothing new: write nothing to the terminal
        self.rows.update(changed)
        for index in self._visible_indexes():
            if self.ids[index] in changed:
                self._repaint(index)  # rows loaded off screen cost nothing
        if len(self.rows) > KEEP_ROWS:
            self._drop_far_rows()

    def _drop_far_rows(self) -> None:
        """Keep only the details of the rows around the screen (what scrolling back needs)."""
        top = int(self.scroll_offset.y)
        start = max(0, top - PAGE_MARGIN)
        near = set(self.ids[start : top + self.size.height + PAGE_MARGIN])
        self.rows = {k: v for k, v in self.rows.items() if k in near}
        self._asked &= near

    def forget(self, ids: Collection[int]) -> None:
        """These rows changed: those on screen are asked for again (and repainted if they
        look different); the others are read when they come into view."""
        self._asked.difference_update(ids)
        self._want_visible()

    def _repaint(self, index: int) -> None:
        """Repaint what changed of one row's line on screen (see :meth:`_repaint_line`)."""
        self._repaint_line(index - int(self.scroll_offset.y))

    def _repaint_line(self, y: int) -> None:
        """Repaint line ``y`` up to its last cell that will look different.

        A line's cells are compared with the line last painted there, so a
        scroll leaves alone the blank columns at the end of lines that stay
        blank: Textual writes whole segments of a line, so :meth:`render_line`
        cuts the line where the repainted part ends (``_ends``). A line not
        painted yet is repainted whole, the scrollbar beside it left alone
        (Widget.refresh_line marks the scrollbar's cell too).
        """
        width = self.scrollable_content_region.width
        before = self._painted.get(y)
        if before is None:
            end = width
        else:
            end = _changed_end(before, self._line(int(self.scroll_offset.y) + y), width)
        if not end:
            return
        end = max(end, self._ends.get(y, 0))  # two repaints before one paint: both
        self._ends[y] = end
        self.refresh(Region(0, y, end, 1))

    def _visible_indexes(self) -> range:
        top = int(self.scroll_offset.y)
        return range(top, min(top + self.size.height, len(self.ids)))

    def invalidate(self) -> None:
        """Forget loaded details (the data changed); ask again for what is on screen."""
        self._asked.clear()
        self._want_visible()

    def _want_visible(self) -> None:
        if not self.ids:
            return
        top = int(self.scroll_offset.y)
        start = max(0, top - PAGE_MARGIN)
        end = min(len(self.ids), top + self.size.height + PAGE_MARGIN)
        wanted = [i for i in self.ids[start:end] if i not in self._asked]
        if wanted:
            self._asked.update(wanted)
            self.post_message(self.RowsWanted(wanted))

    # --- movement ---------------------------------------------------------------

    def _scroll_to_cursor(self) -> bool:
        """Bring the cursor into view; True if the rows scrolled.

        Jump scrolling: a cursor leaving the view lands in its middle, so the
        next half page of moves repaints two lines each instead of every line.
        """
        top, height = int(self.scroll_offset.y), max(self.size.height, 1)
        if top <= self.cursor < top + height:
            return False
        self.scroll_to(y=max(0, self.cursor - height // 2), animate=False, immediate=True)
        return int(self.scroll_offset.y) != top

    def move_to(self, index: int) -> None:
        if not self.ids:
            return
        index = max(0, min(index, len(self.ids) - 1))
        if index == self.cursor:
            return
        old, self.cursor = self.cursor, index
        self._hold_paint()
        if not self._scroll_to_cursor():  # a scroll repaints every line anyway
            visible = self._visible_indexes()
            for line in (old, index):
                if line in visible:  # a line outside would repaint the widgets around
                    self._repaint(line)
        self.post_message(self.CursorMoved(self.current_id))

    def _hold_paint(self) -> None:
        """Hold screen updates until the owner has answered the move (:meth:`release_paint`).

        The answer to CursorMoved (the client pane) comes a few milliseconds
        later; painted together, cursor and pane take one screen update instead
        of two, and so one frame (Textual paints at most every 1/60 s, and its
        second frame after a pause comes one to two frame times late) and one
        write to the terminal. Released after PAINT_HOLD at the latest.
        """
        if self._held is None:
            self._held = self.app.batch_update()
            self._held.__enter__()
            self.app.set_timer(PAINT_HOLD, self.release_paint)  # the app's: runs on any screen

    def release_paint(self) -> None:
        """Let the screen paint what changed since the cursor moved."""
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(None, None, None)
            self.screen.check_idle()  # the screen schedules its update when idle

    def action_move(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(self.size.height - 1, 1))

    def action_jump(self, where: int) -> None:
        self.move_to(0 if where == 0 else len(self.ids) - 1)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # ScrollView's own repaints every line and the whole scrollbar; here only
        # what will look different.
        if self.show_vertical_scrollbar:
            self._move_thumb(new_value)
        if round(old_value) != round(new_value):
            for y in range(self.size.height):
                self._repaint_line(y)
        self._want_visible()

    def _set_length(self, length: int, *, repaint_all: bool) -> None:
        """The list has ``length`` rows now.

        Textual repaints every line and the scrollbar when the virtual size
        changes; a change of a few rows off screen (a row leaving the list)
        repaints only the scrollbar's lines its thumb leaves and enters, while
        the scrollbar stays shown or hidden (else Textual lays the table out again).
        """
        size = Size(self.size.width, length)
        height = self.scrollable_content_region.height
        shown = self.show_vertical_scrollbar
        if repaint_all or not self.size.height or shown != (length > height):
            self.virtual_size = size
            return
        self.set_reactive(RowTable.virtual_size, size)
        if shown:
            self._move_thumb(self.scroll_offset.y, length)
        self.scroll_y = self.validate_scroll_y(self.scroll_y)  # the end may have come nearer

    def _move_thumb(self, position: float, length: int | None = None) -> None:
        """Move the scrollbar's thumb (to ``position``; for a list of ``length`` rows),
        repainting only the lines from where it was to where it goes (their mouse
        actions change too: above the thumb scrolls up)."""
        bar = self.vertical_scrollbar
        before = _thumb(bar)
        bar.set_reactive(ScrollBar.position, bar.validate_position(position))
        if length is not None:
            bar.set_reactive(ScrollBar.window_virtual_size, length)
        after = _thumb(bar)
        if before == after:
            return
        if before is None or after is None:
            bar.refresh()
            return
        first = min(before[0], after[0]) // 8
        last = -(-max(before[1], after[1]) // 8)  # the line holding the last eighth, included
        bar.refresh(Region(0, first, bar.size.width, last - first))

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.ids))
        self._want_visible()

    def on_click(self, event: object) -> None:
        offset = getattr(event, "y", None)
        if isinstance(offset, int):
            self.move_to(int(self.scroll_offset.y) + offset)

    # --- drawing ----------------------------------------------------------------

    def _row_style(self, row: WorkRow | None, index: int) -> Style:
        style = self.rich_style
        if row is not None:
            if row.group in (LATER, BLOCKED):
                style += self.get_component_rich_style("row-table--later", partial=True)
            elif row.group == CALLBACK_DUE:
                style += self.get_component_rich_style("row-table--callback", partial=True)
        if index == self.cursor and self.has_focus_within:
            style += self.get_component_rich_style("row-table--cursor", partial=True)
        elif index == self.cursor:
            style += Style(reverse=True)
        return style

    def render_line(self, y: int) -> Strip:
        strip = self._line(int(self.scroll_offset.y) + y)
        self._painted[y] = strip
        end = self._ends.pop(y, None)
        if end is None or end >= strip.cell_length:
            return strip
        # A segment ending where the repainted part ends: Textual then writes only
        # that part (splitting a segment changes no cell).
        return Strip.join(strip.divide([end, strip.cell_length]))

    def _line(self, index: int) -> Strip:
        width = self.size.width
        if index >= len(self.ids):
            return Strip.blank(width, self.rich_style)
        row = self.rows.get(self.ids[index])
        style = self._row_style(row, index)
        layout = columns(width)
        cells = self.describe_row(row) if row is not None else {"client": "…"}
        segments: list[Segment] = []
        for column in layout:
            text = safe_text(cells.get(column.key, ""))
            # A cut name or result ends in "…"; a number first loses its spaces.
            text = (phone_in_column if column.key == "phone" else fit)(text, column.width)
            cell_style = style
            if column.key == "lock" and row is not None and row.lock_operator:
                part = "row-table--mine" if row.lock_mine else "row-table--others"
                cell_style = style + self.get_component_rich_style(part, partial=True)
            segments.append(Segment(set_cell_size(text, column.width), cell_style))
            segments.append(Segment(" ", style))
        strip = Strip(segments, sum(cell_len(s.text) for s in segments))
        # One escape sequence per style rather than per cell: half the bytes per line.
        return strip.adjust_cell_length(width, style).simplify()
