"""B7 and B9 on screen: the supervisor screen (v) and the reports (p), supervisors only.

Keys used: v supervisor screen, p reports (list picker); u release, y/n, Escape
(supervisor screen); t/w/m period, o/l grouping (reports). On each engine.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import pytest
from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from storage.engine import write
from storage.rows import APPOINTMENT
from tests.clinic_fixtures import (
    DAY,
    DESK_NOW,
    MINUTE,
    DeskClinic,
    running,
    settle,
    text_of,
    wait_until,
)
from tests.supervisor_fixtures import (
    open_report,
    open_supervisor_screen,
    operators_at_work,
    record_calls,
    supervisor_app,
)
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.picker import ListPicker
from tui.report_screen import DayChart, ReportScreen, outcome_lines
from tui.supervisor_screen import SupervisorScreen


@pytest.fixture
def desk(engine_desk: DeskClinic) -> DeskClinic:
    """The supervisor's flows run on each engine in turn (tests/conftest.py: engine_desk)."""
    return engine_desk


def rows_of(table: DataTable[Any]) -> list[tuple[str, ...]]:
    return [
        tuple(
            cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(index)
        )
        for index in range(table.row_count)
    ]


async def test_supervisor_sees_who_works_on_what_and_releases_a_lock(desk: DeskClinic) -> None:
    sessions = operators_at_work(desk)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        screen = await open_supervisor_screen(pilot)
        online = rows_of(screen.query_one("#online", DataTable))
        assert [row[0] for row in online] == ["bob", "olga", "root"]  # carol's app died
        assert online[1] == ("olga", "clinic-srv pts/2", "09:00", "15 s ago", "1")
        held = rows_of(screen.query_one("#held", DataTable))
        assert held == [
            ("bob", "Anna Kowalski", "Hygiene recall, 6 mo…", "09:40", "20 min", "stale"),
            ("carol", "Anna Kowalski", "27.11 15:00 X-ray", "09:50", "10 min", "gone"),
            ("olga", "John Smith", "27.11 11:00 Check-up", "09:55", "5 min", "working"),
        ]
        assert text_of(screen.query_one("#supervisor-title")) == (
            "Supervisor · 3 online · 3 locks · held by 3 operators"
        )
        # olga's lock: the third line.
        await pilot.press("down", "down", "u")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
        )
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.question.startswith("Release the lock of olga on John Smith")
        await pilot.press("y")
        await wait_until(pilot, lambda: len(desk.locks()) == 2, "olga's lock to go")
        await wait_until(pilot, lambda: len(rows_of(screen.query_one("#held", DataTable))) == 2)
        assert text_of(screen.query_one("#supervisor-status")) == (
            "Released the lock of olga on John Smith."
        )
        assert [row[0] for row in rows_of(screen.query_one("#held", DataTable))] == ["bob", "carol"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker))
    assert ("olga",) not in [(lock[2],) for lock in desk.locks()]
    [(operator, session_id, kind, source_id, detail)] = desk.query(
        "SELECT operator, session_id, kind, source_id, detail FROM audit"
        " WHERE event = 'release-by-supervisor'"
    )
    assert (operator, session_id, kind, source_id) == (
        "root",
        app.session.id,
        APPOINTMENT,
        desk.appointments["smith"],
    )
    assert json.loads(detail) == {"holder": "olga", "holder_session": sessions["olga"].id}


async def test_without_locks_the_title_names_no_holders(desk: DeskClinic, language: str) -> None:
    """It said «0 блокировок · у 0 операторов» ("0 locks · held by 0 operators")."""
    app = supervisor_app(desk)
    async with running(app) as pilot:
        screen = await open_supervisor_screen(pilot)
        title = text_of(screen.query_one("#supervisor-title"))
    assert title == (
        "Supervisor · 1 online · 0 locks"
        if language == "en"
        else "Супервизор · 1 в сети · 0 блокировок"
    )


async def test_names_that_look_like_markup_are_shown_as_they_are(desk: DeskClinic) -> None:
    """An operator "[bold]Ева[/bold]" calling client "[red]Smith" is shown with the
    brackets, not in bold or red: names are data, never markup."""
    conn = desk.connect()
    try:
        with write(conn):
            conn.execute(
                "UPDATE clients SET name = '[red]Smith' WHERE id = ?", (desk.clients["smith"],)
            )
    finally:
        conn.close()
    eva = desk.session("[bold]Ева[/bold]", DESK_NOW - MINUTE)
    desk.claim(eva, "smith", DESK_NOW - MINUTE)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        screen = await open_supervisor_screen(pilot)
        shown = app.export_screenshot()
        assert "[bold]Ева…" in shown  # who is online, cut to fit like every long name
        assert "[red]Smith" in shown
        assert "[bold]Ев…" in shown  # the locks table's operator column, cut to fit
        assert screen.is_current


async def test_no_keeps_the_lock(desk: DeskClinic) -> None:
    operators_at_work(desk)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        await open_supervisor_screen(pilot)
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SupervisorScreen))
        await settle(pilot)
    assert len(desk.locks()) == 3
    assert desk.query("SELECT count(*) FROM audit WHERE event LIKE 'release%'") == [(0,)]


async def test_a_lock_that_changed_meanwhile_is_left_alone(desk: DeskClinic) -> None:
    olga = desk.session("olga")
    desk.claim(olga, "smith", DESK_NOW - 5 * MINUTE)
    desk.heartbeat(olga, DESK_NOW)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        await open_supervisor_screen(pilot)
        # olga finishes and claims the row again before the supervisor says yes.
        conn = desk.connect()
        try:
            with write(conn):
                conn.execute("DELETE FROM locks")
        finally:
            conn.close()
        desk.claim(olga, "smith", DESK_NOW)
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        screen = await wait_until(
            pilot, lambda: isinstance(app.screen, SupervisorScreen) and app.screen
        )
        await wait_until(
            pilot, lambda: "changed meanwhile" in text_of(screen.query_one("#supervisor-status"))
        )
    assert [lock[2] for lock in desk.locks()] == ["olga"]


async def test_the_keys_show_to_supervisors_only(desk: DeskClinic) -> None:
    app = supervisor_app(desk)
    async with running(app) as pilot:
        bindings = app.screen.active_bindings
        assert (bindings["v"].binding.action, bindings["v"].binding.show) == (
            "supervisor_screen",
            True,
        )
        assert (bindings["p"].binding.action, bindings["p"].binding.show) == ("report_screen", True)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ReportScreen))


async def test_an_operator_cannot_open_the_supervisor_screen_or_reports(desk: DeskClinic) -> None:
    operators_at_work(desk)
    app = desk.app("alice")
    async with running(app) as pilot:
        picker = app.screen
        assert isinstance(picker, ListPicker)
        bindings = picker.active_bindings
        assert not bindings["v"].binding.show and not bindings["p"].binding.show
        for key in ("v", "p"):
            await pilot.press(key)
            dialog = await wait_until(
                pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen
            )
            assert isinstance(dialog, NoticeDialog)
            assert dialog.message == (
                "The supervisor screen and the reports are for "
                "supervisors only; alice is not one in the policy."
            )
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is picker)
        # Pushed by other means, the screens still get nothing: storage checks the role.
        app.push_screen(SupervisorScreen())
        screen = await wait_until(
            pilot, lambda: isinstance(app.screen, SupervisorScreen) and app.screen
        )
        await settle(pilot)
        assert text_of(screen.query_one("#supervisor-status")).startswith(
            "Only a supervisor may see who is online"
        )
        assert screen.query_one("#held", DataTable).row_count == 0
        await pilot.press("u")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        app.pop_screen()
        app.push_screen(ReportScreen())
        report = await wait_until(
            pilot, lambda: isinstance(app.screen, ReportScreen) and app.screen
        )
        await settle(pilot)
        assert text_of(report.query_one("#report-status")) == ("Only a supervisor may see reports.")
        assert report.query_one("#report", DataTable).row_count == 0
    assert len(desk.locks()) == 3


async def test_report_numbers_per_operator_and_per_list(desk: DeskClinic) -> None:
    record_calls(desk)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        screen = await open_report(pilot)
        table = screen.query_one("#report", DataTable)
        assert text_of(screen.query_one("#report-title")) == (
            "Reports · per operator · today, 26 Nov"
        )
        # Today: alice confirmed and took a cancellation (both successes), bob left a message.
        assert [row[:5] for row in rows_of(table)] == [
            ("alice", "2", "2", "100%", "2.0"),
            ("bob", "1", "0", "0%", "1.0"),
            ("All", "3", "2", "67%", "1.5"),
        ]
        assert text_of(screen.query_one("#report-outcomes")) == (
            "alice: Confirmed 1 · Client cancels 1"
        )
        assert not screen.query_one("#report-chart").display  # one day: no chart by day

        await pilot.press("w")
        await wait_until(
            pilot,
            lambda: screen.report is not None and len(screen.report.days) == 7,
            "the week's report",
        )
        await settle(pilot)
        assert [row[:5] for row in rows_of(table)] == [
            ("alice", "5", "3", "60%", "1.7"),  # 5 calls in 3 active hours
            ("bob", "3", "0", "0%", "1.5"),
            ("olga", "1", "0", "0%", "1.0"),  # the fixture's call of 24.11
            ("All", "9", "3", "33%", "1.5"),
        ]
        bars = [row[5] for row in rows_of(table)]
        assert bars[0] == "█" * screen.bar_width and bars[3] == ""  # the biggest, the total
        assert len(bars[1]) < len(bars[0]) and len(bars[2]) < len(bars[1])
        assert screen.query_one("#report-chart").display
        assert text_of(screen.query_one("#report-chart-title")) == "Calls by day: 9 in all"
        await pilot.press("down")
        await wait_until(
            pilot,
            lambda: (
                text_of(screen.query_one("#report-outcomes"))
                == "bob: No answer 1 · Left a message 1 · Wrong number 1"
            ),
        )

        await pilot.press("l")
        await wait_until(
            pilot,
            lambda: screen.report is not None and screen.report.by == "list",
            "the report per list",
        )
        await settle(pilot)
        assert [row[:4] for row in rows_of(table)] == [
            ("Appointment confirmation", "5", "2", "40%"),
            ("Flu vaccination reminder", "1", "0", "0%"),
            ("Hygiene recall, 6 months", "1", "0", "0%"),
            ("Tasks: recall", "1", "1", "100%"),
            ("Tasks: reminder", "1", "0", "0%"),
            ("All", "9", "3", "33%"),
        ]
        await pilot.press("m")
        await wait_until(
            pilot,
            lambda: screen.report is not None and len(screen.report.days) == 30,
            "the month's report",
        )
        assert text_of(screen.query_one("#report-title")) == (
            "Reports · per work list · last 30 days, 28 Oct – 26 Nov"
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker))


async def test_every_cell_of_who_is_online_fits_its_column(desk: DeskClinic, language: str) -> None:
    """A fixed-width column crops: the heartbeat «15 с назад» showed as «15 с наза»."""
    operators_at_work(desk)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        screen = await open_supervisor_screen(pilot)
        online = screen.query_one("#online", DataTable)
        rows = rows_of(online)
        widths = [column.width for column in online.ordered_columns]
    assert rows
    for row in rows:
        assert all(cell_len(cell) <= width for cell, width in zip(row, widths, strict=True)), row


async def test_a_lock_left_for_days_fits_its_column(desk: DeskClinic, language: str) -> None:
    """A lock left by a crashed app for ten days showed as «245 ч 05 м» («245 h 05 m»)."""
    dave = desk.session("dave", DESK_NOW - 11 * DAY)
    desk.claim(dave, "smith", DESK_NOW - 10 * DAY - 5 * 60 * MINUTE)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        screen = await open_supervisor_screen(pilot)
        held = screen.query_one("#held", DataTable)
        rows = rows_of(held)
        widths = [column.width for column in held.ordered_columns]
    assert [row[4] for row in rows] == ["10 d 05 h" if language == "en" else "10 д 05 ч"]
    for row in rows:
        assert all(cell_len(cell) <= width for cell, width in zip(row, widths, strict=True)), row


async def test_every_heading_of_the_report_fits_its_column(desk: DeskClinic, language: str) -> None:
    """A fixed-width column crops its heading: «Звонки» showed as «Звонк»."""
    record_calls(desk)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        screen = await open_report(pilot)
        for key in ("o", "l"):  # per operator, per list
            await pilot.press(key)
            await settle(pilot)
            table = screen.query_one("#report", DataTable)
            for column in table.ordered_columns:
                assert cell_len(column.label.plain) <= column.width, column.label.plain


async def test_the_counts_over_the_day_bars_are_grouped(language: str) -> None:
    """A day of 1,200 calls read «1200» over its bar, ungrouped, in either language."""

    class ChartApp(App[None]):
        def compose(self) -> ComposeResult:
            chart = DayChart()
            chart.styles.height = 6
            yield chart

    first = date(2026, 11, 20)
    app = ChartApp()
    async with app.run_test(size=(80, 10)) as pilot:
        chart = app.query_one(DayChart)
        chart.show([1200, 5, 0, 7, 30, 2, 12], [first + timedelta(days=n) for n in range(7)])
        await pilot.pause()
        # Split at plain spaces only: the Russian group separator is a no-break space.
        numbers = [cell for cell in chart.render().plain.splitlines()[0].split(" ") if cell]
    assert numbers == ["1,200" if language == "en" else "1\u00a0200", "5", "7", "30", "2", "12"]


async def test_each_outcome_of_a_report_line_stays_on_one_line(
    desk: DeskClinic, language: str
) -> None:
    """The outcomes under the table wrapped at any space: in Russian at 80 columns
    «Перезвонить» ended one line and «позже 1» began the next, two outcomes to the eye.
    They break only between outcomes now."""
    record_calls(desk)
    app = supervisor_app(desk)
    async with running(app) as pilot:
        screen = await open_report(pilot)
        await pilot.press("w")
        await wait_until(
            pilot,
            lambda: screen.report is not None and len(screen.report.days) == 7,
            "the week's report",
        )
        await settle(pilot)
        await pilot.press("down", "down", "down")  # the week's total has all six outcomes
        await settle(pilot)
        panel = screen.query_one("#report-outcomes")
        lines = [strip.text.strip() for strip in panel.render_lines(panel.region.reset_offset)]
    assert screen.report is not None and screen.report.total is not None
    outcomes = [part for line in lines if line for part in line.split(" · ")]
    outcomes[0] = outcomes[0].split(": ", 1)[1]  # "Всего: Не отвечает 3"
    # Each outcome whole, its count ending it on the same line: no "Клиент" / "отменяет 1".
    assert all(re.fullmatch(r"[^·\s][^·]* \d+", outcome) for outcome in outcomes), lines
    occurred = [n for n in screen.report.total.outcomes.values() if n]
    assert len(outcomes) == len(occurred) == 6, lines


def test_outcomes_beyond_the_panel_end_in_an_ellipsis() -> None:
    """Two lines of 30 cells: what does not fit is marked "…", never cut off unmarked."""
    parts = ["Перезвонить позже 1", "Не отвечает 2", "Оставлено сообщение 3", "Занято 4"]
    lines = outcome_lines("Подтверждение записей", parts, 30, 2).plain.split("\n")
    assert lines == ["Подтверждение записей: Перезв…", "Не отвечает 2 · …"]
    assert all(cell_len(line) <= 30 for line in lines)
