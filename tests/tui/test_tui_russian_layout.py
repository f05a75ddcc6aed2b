"""The app's letter keys also work with the Russian keyboard layout on.

An operator writes comments in Russian, so after Enter the keyboard is still in
the Russian layout: the key marked c then types «с», y types «н». Outside a text
field those letters act as the keys they share with the Latin layout; inside
one (the comment, the filter, the card) they are typed as they are.
"""

from __future__ import annotations

from textual.widgets import Input

from tests.clinic_fixtures import DeskClinic, open_list, running, settle, wait_until
from tui.dialogs import ConfirmDialog
from tui.picker import ListPicker
from tui.result_dialog import ResultDialog
from tui.work_screen import WorkScreen


async def test_the_call_keys_work_in_the_russian_layout(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press("с")  # the key marked c
        await wait_until(pilot, lambda: desk.locks(), "the call to start")
        await pilot.press("а")  # f
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the dialog"
        )
        assert isinstance(dialog, ResultDialog)
        await pilot.press("2", *"сам перезвонит")  # typed in the comment as written
        assert dialog.query_one("#comment", Input).value == "сам перезвонит"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await pilot.press("ф")  # a: abort
        await wait_until(pilot, lambda: not desk.locks(), "the abort")


async def test_the_filter_and_the_questions_work_in_the_russian_layout(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press(".")  # the key marked / types a full stop in the Russian layout
        box = screen.query_one("#filter", Input)
        await wait_until(pilot, lambda: box.has_focus, "the filter")
        await pilot.press(*"Иванова")
        assert box.value == "Иванова"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("с")
        await wait_until(pilot, lambda: desk.locks(), "the call to start")
        await pilot.press("escape")  # back to the lists with a call open: a question
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("т")  # n: stay
        await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "staying")
        assert desk.locks()
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("н")  # y: abort the call and go back
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker), "the lists")
        assert not desk.locks()
