"""C1: the list picker lists the work lists in the order of C1 with counts; Enter opens one."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from storage.engine import write
from tests.clinic_fixtures import (
    DESK_NOW,
    FIRST_ROW,
    TOMORROW,
    DeskClinic,
    option_texts,
    running,
    settle,
    text_of,
    wait_until,
)
from tui.i18n import set_language
from tui.picker import ListPicker
from tui.row_table import RowTable
from tui.work_screen import WorkScreen


async def test_lists_in_spec_order_with_counts(desk: DeskClinic) -> None:
    bob = desk.session("bob")
    desk.claim(bob, "smith")
    app = desk.app("alice")
    async with running(app):
        assert isinstance(app.screen, ListPicker)
        # Sidorov (do not call) is in none of the counts; Smith is bob's.
        assert option_texts(app.screen) == [
            "Appointment confirmation 3 to call now · 1 locked by others",
            "Flu vaccination reminder 1 to call now",
            "Hygiene recall, 6 months 2 to call now",
            "Tasks: recall 1 to call now",
            "Tasks: reminder 1 to call now",
            "Tasks: follow-up 0 to call now",
        ]
        assert "alice" in text_of(app.screen.query_one("#picker-title"))


def call_back_later(desk: DeskClinic, appointment: str) -> None:
    """A call-back promised for this afternoon: the row is not callable before then."""
    conn = desk.connect()
    try:
        with write(conn):
            conn.execute(
                "INSERT INTO call_rows (kind, source_id, client_id, callback_at)"
                " SELECT 'appointment', id, client_id, ? FROM appointments WHERE id = ?",
                (DESK_NOW + 5 * 60 * 60, desk.appointments[appointment]),
            )
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Appointment confirmation 2 to call now · 1 later · 1 locked by others"),
        ("ru", "Подтверждение записей 2 звонка сейчас · 1 позже · 1 занят другими"),
    ],
)
async def test_counts_tell_now_later_and_locked_apart(
    desk: DeskClinic, language: str, expected: str
) -> None:
    desk.held_by_olga("smith")
    call_back_later(desk, "kowalski")
    set_language(language)
    try:
        app = desk.app("alice")
        async with running(app):
            assert isinstance(app.screen, ListPicker)
            assert option_texts(app.screen)[0] == expected
    finally:
        set_language("en")


async def test_counts_take_a_short_form_at_60_columns(desk: DeskClinic) -> None:
    desk.held_by_olga("smith")
    call_back_later(desk, "kowalski")
    set_language("ru")
    try:
        app = desk.app("alice")
        async with running(app, size=(60, 20)):
            assert isinstance(app.screen, ListPicker)
            assert option_texts(app.screen)[0] == (
                "Подтверждение записей 2 сейчас · 1 позже · 1 занят"
            )
    finally:
        set_language("en")


async def test_enter_opens_the_list_and_activates_its_first_row(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        await pilot.press("enter")
        screen = await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, WorkScreen)
                and app.screen.activation is not None
                and app.screen
            ),
            "the work screen with an active row",
        )
        assert isinstance(screen, WorkScreen)
        table = screen.query_one(RowTable)
        assert list(table.ids) == [desk.appointments[name] for name in TOMORROW]
        assert table.cursor == 0
        assert screen.activation is not None
        assert screen.activation.state.key.source_id == desk.appointments[FIRST_ROW]
        assert text_of(screen.query_one("#work-title")) == "Appointment confirmation · 5 rows"
        assert text_of(screen.query_one("#pane")).startswith("Иванова Мария Петровна, 42 y.")
        assert text_of(screen.query_one("#state")) == "Free — c to start the call"


async def test_a_call_list_opens_with_its_items_and_escape_goes_back(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkScreen)
        assert screen.work_list.list_id == desk.call_lists["Hygiene recall, 6 months"]
        assert text_of(screen.query_one("#work-title")) == "Hygiene recall, 6 months · 2 rows"
        assert text_of(screen.query_one("#pane")).startswith("Петров Сергей Иванович")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ListPicker)
        assert app.screen.query_one("#lists", OptionList).highlighted == 2
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
