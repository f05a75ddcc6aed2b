"""What the terminal shows after many small repaints is what a full repaint would show.

The row table repaints a line only up to its last cell that looks different
(tui/row_table.py) and the client pane only the cells that changed
(tui/steady.py). A mistake there leaves old characters or colours on the
operator's screen, which the app itself never notices. So the app's bytes are
kept (tests/terminal_capture.py) and replayed into a terminal emulator (pyte)
while the operator walks a long list down and up across several scrolls, and
the screen built from those small updates is compared, cell by cell, with a
full repaint of the same moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pyte
from textual.pilot import Pilot
from textual.widget import Widget

from storage.database import open_database
from storage.engine import write
from storage.locks import Claim, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from tests.clinic_fixtures import DESK_NOW, Clock, DeskClinic, settle, wait_until
from tests.terminal_capture import TerminalCapture
from tui.app import RingroundApp
from tui.picker import ListPicker
from tui.row_table import RowTable
from tui.work_screen import WorkScreen

ROWS = 300
SIZE = (80, 24)
SURNAMES = ("Иванова", "Li", "Смирнов", "O'Neil", "Кузнецова-Рябинина", "Ng")

Cell = tuple[str, str, str, bool, bool]


def shown(written: list[str]) -> list[list[Cell]]:
    """The screen a terminal of SIZE shows after these writes (a blank's colour is not seen)."""
    screen = pyte.Screen(*SIZE)
    pyte.Stream(screen).feed("".join(written))
    return [
        [
            (
                cell.data,
                "" if cell.data == " " and not cell.reverse else cell.fg,
                cell.bg,
                cell.bold,
                cell.reverse,
            )
            for cell in (screen.buffer[y][x] for x in range(SIZE[0]))
        ]
        for y in range(SIZE[1])
    ]


def long_list(folder: Path) -> DeskClinic:
    desk = DeskClinic(str(folder / "clinic.db"), default_policy())
    conn = open_database(desk.location, create=True)
    try:
        with write(conn):
            conn.executemany(
                "INSERT INTO clients (id, name) VALUES (?, ?)",
                [(n, f"{SURNAMES[n % len(SURNAMES)]} {'Я' * (n % 7)}{n}") for n in range(1, ROWS)],
            )
            conn.executemany(
                "INSERT INTO phones (client_id, position, number, digits) VALUES (?, 1, ?, ?)",
                [(n, f"+7 900 {n:03d}-{n % 97:02d}", f"7900{n:03d}") for n in range(1, ROWS, 3)],
            )
            conn.execute(
                "INSERT INTO call_lists (id, name, created_at, created_by)"
                " VALUES (1, 'Recall', ?, 'root')",
                (DESK_NOW,),
            )
            conn.executemany(
                "INSERT INTO call_list_items (list_id, client_id) VALUES (1, ?)",
                [(n,) for n in range(1, ROWS)],
            )
    finally:
        conn.close()
    return desk


@asynccontextmanager
async def work_list_written(
    desk: DeskClinic, **options: Any
) -> AsyncIterator[tuple[RingroundApp, Pilot[None], list[str]]]:
    """alice's app at SIZE with the long list open; ``written``: every byte it wrote."""
    app = desk.app("alice", clock=Clock(), **options)
    app.driver_class = TerminalCapture
    written: list[str] = []
    app.written = written  # type: ignore[attr-defined]
    async with app.run_test(size=SIZE, headless=False) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker), "the list picker")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "the work list")
        await settle(pilot)
        yield app, pilot, written
    app.close_database()


async def repainted_in_full(
    app: RingroundApp, pilot: Pilot[None], written: list[str]
) -> tuple[list[list[Cell]], list[list[Cell]]]:
    """(the screen as the small updates left it, the screen after a full repaint)."""
    await pilot.pause(0.1)
    walked = shown(written)
    mark = len(written)
    for widget in app.screen.walk_children(Widget):
        widget.refresh()  # each widget draws itself anew, none from its kept lines
        if widget.show_vertical_scrollbar:
            widget.vertical_scrollbar.refresh()
    app.screen.refresh()
    await pilot.pause(0.1)
    assert len(written) > mark, "the full repaint wrote nothing"
    return walked, shown(written[mark:])


def same_screen(walked: list[list[Cell]], repainted: list[list[Cell]]) -> None:
    for y, (line, truth) in enumerate(zip(walked, repainted, strict=True)):
        assert line == truth, (
            f"line {y + 1} differs from a full repaint:\n"
            f"  shown:   {''.join(cell[0] for cell in line)!r}\n"
            f"  repaint: {''.join(cell[0] for cell in truth)!r}"
        )


async def test_small_repaints_leave_the_screen_as_a_full_repaint_would(tmp_path: Path) -> None:
    async with work_list_written(long_list(tmp_path)) as (app, pilot, written):
        for keys in (["down"] * 45, ["pagedown"] * 3, ["up"] * 30, ["pageup"], ["down"] * 3):
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
        walked, repainted = await repainted_in_full(app, pilot, written)
    assert any("Recall" in "".join(cell[0] for cell in line) for line in walked)
    same_screen(walked, repainted)


async def test_following_colleagues_changes_repaints_only_what_moved_on_screen(
    tmp_path: Path,
) -> None:
    """Rows leaving the list above, below and on the screen, and a row moving down to
    the waiting rows: the cursor keeps its row, the screen is what a full repaint
    shows, and a row leaving far below the screen rewrites no line of the table."""
    desk = long_list(tmp_path)
    bob = desk.session("bob")

    def finish(source_id: int, outcome: str) -> None:
        conn = desk.connect()
        try:
            claim = claim_row(conn, desk.policy, bob, RowKey(ITEM, source_id), DESK_NOW)
            assert isinstance(claim, Claim), claim
            finish_call(conn, desk.policy, bob, claim, outcome, "", DESK_NOW + 30)
        finally:
            conn.close()

    def followed(source_id: int, outcome: str) -> bool:
        """The row left the list, or went down to the rows waiting for their time."""
        if outcome == "confirmed":
            return source_id not in table.ids
        return table.ids.index(source_id) > top + 200

    async with work_list_written(desk, poll_every=0.1) as (app, pilot, written):
        for key in ["pagedown"] * 4 + ["down"] * 3:
            await pilot.press(key)
            await settle(pilot)
        table = app.screen.query_one(RowTable)
        top = int(table.scroll_offset.y)
        mine = table.current_id
        steps = [
            (table.ids[len(table.ids) - 20], "confirmed"),  # far below the screen
            (table.ids[top - 30], "confirmed"),  # above it: the rows shown move up
            (table.ids[top + 2], "no-answer"),  # on it: waits for its retry at the end
        ]
        for number, (source_id, outcome) in enumerate(steps):
            before = shown(written)
            mark = len(written)
            finish(source_id, outcome)
            await wait_until(pilot, partial(followed, source_id, outcome), "the change")
            await settle(pilot)
            assert table.current_id == mine
            if number == 0:  # the title's count changes; no line of the table is written
                client = "".join(cell[0] for cell in before[12][10:24]).strip()
                assert client and client in "".join(written[:mark])
                assert client not in "".join(written[mark:])
        walked, repainted = await repainted_in_full(app, pilot, written)
    same_screen(walked, repainted)


async def test_a_refresh_that_finds_nothing_changed_draws_no_line_of_the_table(
    tmp_path: Path,
) -> None:
    """``r`` reads the whole list again; when no row moved, the table is not drawn again
    (no bytes for an operator who refreshes out of habit)."""
    async with work_list_written(long_list(tmp_path)) as (app, pilot, written):
        screen = app.screen
        assert isinstance(screen, WorkScreen)
        table = screen.query_one(RowTable)
        await wait_until(pilot, lambda: not screen.partial, "the whole list")
        await settle(pilot)
        order = table.ids
        before = shown(written)
        mark = len(written)
        await pilot.press("r")
        await wait_until(pilot, lambda: table.ids is not order, "the list read again")
        await settle(pilot)
        assert list(table.ids) == list(order)  # nothing moved
    client = "".join(cell[0] for cell in before[12][10:24]).strip()
    assert client and client in "".join(written[:mark])
    assert client not in "".join(written[mark:])
