"""Small terminals keep the essential keys and whole times (README, "Using it").

At 60×20 and in Russian at 80×24 every key the footer shows has its word: the
call keys and Escape always; refresh, summary, card, requests and filter are
left out first (in that order) and "h Keys" lists them. The rows' Due column is
never cut in the middle of a time.
"""

from __future__ import annotations

from functools import partial

import pytest
from textual.widget import Widget
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from storage.clients import save_phones
from storage.engine import write
from storage.rows import APPOINTMENT, RowKey
from tests.clinic_fixtures import (
    DeskClinic,
    at,
    open_list,
    running,
    settle,
    text_of,
    wait_until,
)
from tests.stored_clinic import release_held
from tui.client_card import ClientCard
from tui.dialogs import NoticeDialog
from tui.result_dialog import ResultDialog
from tui.row_table import RowTable, columns

ALL_KEYS = ["c", "f", "a", "r", "k", "s", "o", "/", "esc"]


def footer(screen: object) -> list[tuple[str, str, int]]:
    from tui.work_screen import WorkScreen

    assert isinstance(screen, WorkScreen)
    return [(key.key_display, key.description, key.region.right) for key in screen.query(FooterKey)]


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
async def test_every_key_in_the_footer_has_its_word_and_h_lists_the_rest(
    desk: DeskClinic, language: str, size: tuple[int, int]
) -> None:
    """The footer showed the least needed keys as bare letters (Russian at 80 columns:
    "r", "s"), and an operator could not tell what they do. Each key shown has its word;
    the keys left out are in "h Keys", and h lists them all with their words."""
    app = desk.app("alice")
    async with running(app, size=size) as pilot:
        screen = await open_list(pilot)
        keys = footer(screen)
        await pilot.press("h")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen, "the keys"
        )
        listed = text_of(dialog.query_one("#notice-message")).splitlines()
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "the work screen again")
    assert all(words for _key, words, _right in keys), keys  # never a bare letter
    assert all(right <= size[0] for _key, _words, right in keys)
    shown = [key for key, _words, _right in keys]
    for key in ("c", "f", "a", "esc"):
        assert key in shown  # the call keys and Escape always
    assert [line.split()[0] for line in listed] == ALL_KEYS
    assert all(len(line.split()) >= 2 for line in listed)  # each key with its word
    left_out = [key for key in ALL_KEYS if key not in shown]
    assert (shown[-1] == "h") == bool(left_out)  # "h Keys" when some are left out
    if language == "en" and size == (80, 24):
        assert shown == ALL_KEYS  # English fits whole at 80 columns


@pytest.mark.parametrize("width", range(55, 130))  # 55: lock, name, phone and due, at least
def test_the_due_column_is_never_cut(width: int) -> None:
    layout = columns(width)
    due = next(column for column in layout if column.key == "due")
    assert due.width == len(">27.11 10:30")  # a call-back on another day, with its mark
    assert sum(column.width + 1 for column in layout) <= width


async def test_rows_at_60_columns_show_whole_times(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app, size=(60, 20)) as pilot:
        screen = await open_list(pilot)
        table = screen.query_one(RowTable)
        lines = [strip.text for strip in table.render_lines(table.region.reset_offset)]
    assert lines[0].rstrip().endswith("27.11 09:30")


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
async def test_a_call_back_on_another_day_shows_its_whole_time(
    desk: DeskClinic, size: tuple[int, int]
) -> None:
    """A call-back on another day (">27.11 15:30", 12 characters) was cut to ">27.11 15:3"."""
    app = desk.app("alice")
    async with running(app, size=size) as pilot:
        screen = await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks(), "the call to start")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog")
        await pilot.press("5", "tab", *"27.11 15:30", "enter")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        table = screen.query_one(RowTable)
        line = await wait_until(
            pilot,
            lambda: next(
                (
                    strip.text
                    for strip in table.render_lines(table.region.reset_offset)
                    if ">27.11" in strip.text
                ),
                None,
            ),
            "the row called back later",
        )
    assert ">27.11 15:30" in line


def in_sight(widget: Widget) -> bool:
    """The whole widget is on the screen, not cut off below its dialog's edge."""
    geometry = widget.screen.find_widget(widget)
    return geometry.region.area > 0 and geometry.visible_region == geometry.region


@pytest.mark.parametrize("size", [(60, 15), (60, 20), (80, 24)], ids=["60x15", "60x20", "80x24"])
async def test_the_result_dialog_keeps_the_field_and_its_message_in_sight(
    desk: DeskClinic, size: tuple[int, int]
) -> None:
    """Eight outcomes, the comment and the call-back time filled a short terminal: the
    time field and the message under it ("write the call-back time") were cut off, and
    Enter seemed to do nothing. The dialog scrolls to what has the focus and to its message."""
    app = desk.app("alice")
    async with running(app, size=size) as pilot:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks(), "the call to start")
        await pilot.press("f")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the dialog"
        )
        # It opens at its top: whose call this is stays in sight.
        await settle(pilot)
        assert in_sight(dialog.query_one(".dialog-title"))
        await pilot.press("5", *"at work", "enter")
        callback = dialog.query_one("#callback", Input)
        await wait_until(pilot, lambda: callback.has_focus, "the call-back field")
        message = dialog.query_one("#result-message")
        await wait_until(pilot, lambda: in_sight(callback) and in_sight(message), "both in sight")
        await pilot.press("shift+tab")  # back to the comment, higher up
        comment = dialog.query_one("#comment", Input)
        await wait_until(pilot, lambda: comment.has_focus and in_sight(comment), "the comment")


async def test_the_result_dialog_brings_a_lost_call_into_sight_at_60x15(desk: DeskClinic) -> None:
    """With the comment focused, the sentence about the released call (and that Enter keeps
    the comment as a note) is below the edge: it is scrolled into sight when it comes."""
    app = desk.app("alice")
    async with running(app, size=(60, 15)) as pilot:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks(), "the call to start")
        await pilot.press("f")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the dialog"
        )
        await pilot.press("2", *"занято")
        conn = desk.connect()
        try:
            key = RowKey(APPOINTMENT, desk.appointments["ivanova"])
            release_held(conn, desk.session("root", supervisor=True), key, at(26, 10, 1))
        finally:
            conn.close()
        await pilot.press("enter")
        message = dialog.query_one("#result-message")
        await wait_until(pilot, lambda: "Enter saves it" in text_of(message), "the lost call")
        await wait_until(pilot, lambda: in_sight(message), "the message in sight")


async def test_the_client_card_keeps_every_field_in_sight_at_60x15(desk: DeskClinic) -> None:
    """The card is 23 lines: at 60x15 the notes and the do-not-call box were out of reach."""
    app = desk.app("alice")
    async with running(app, size=(60, 15)) as pilot:
        await open_list(pilot)
        await pilot.press("k")
        card = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ClientCard) and app.screen.client and app.screen,
            "the card",
        )
        assert isinstance(card, ClientCard)
        await settle(pilot)
        assert in_sight(card.query_one("#card-identity"))  # whose card it is

        def focused_in_sight(widget: Widget) -> bool:
            return widget.has_focus and in_sight(widget)

        for field in ("#card-phones", "#card-email", "#card-notes", "#card-dnc"):
            widget = card.query_one(field)
            await wait_until(pilot, partial(focused_in_sight, widget), field)
            await pilot.press("tab")


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)], ids=["60x20", "80x24", "120x40"])
async def test_a_phone_written_with_brackets_keeps_every_digit_in_the_list(
    desk: DeskClinic, size: tuple[int, int]
) -> None:
    """Russian clinic systems write numbers as "+7 (916) 123-45-67", 18 characters: the
    Phone column (17) showed "+7 (916) 123-45-6", a number with a digit missing."""
    conn = desk.connect()
    try:
        with write(conn):
            save_phones(conn, desk.policy.phones, desk.clients["ivanova"], ["+7 (916) 123-45-67"])
    finally:
        conn.close()
    app = desk.app("alice")
    async with running(app, size=size) as pilot:
        screen = await open_list(pilot)
        table = screen.query_one(RowTable)
        first = table.render_lines(table.region.reset_offset)[0].text
    assert "+7(916)123-45-67" in first, first


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)], ids=["60x20", "80x24", "120x40"])
async def test_a_name_cut_by_its_column_ends_in_an_ellipsis(
    desk: DeskClinic, size: tuple[int, int]
) -> None:
    """A name of 22 cells in the Client column (13 to 20) showed as "Иванова Мария
    Петров", a name that looks whole: a cut cell ends in "…"."""
    app = desk.app("alice")
    async with running(app, size=size) as pilot:
        screen = await open_list(pilot)
        table = screen.query_one(RowTable)
        first = table.render_lines(table.region.reset_offset)[0].text
    client = next(column for column in columns(size[0]) if column.key == "client")
    assert "Иванова Мария Петровна"[: client.width - 1] + "…" in first, first
