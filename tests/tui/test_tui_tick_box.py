"""Every checkbox shows its state in characters, not only in colour (README, "Using it")."""

from __future__ import annotations

import pytest

from tests.clinic_fixtures import DeskClinic, open_card, open_list, running, wait_until
from tests.tui.test_snapshots import call_back_dialog
from tui.result_dialog import ResultDialog
from tui.tick_box import TickBox


def drawn(box: TickBox) -> str:
    """What the box writes on the screen, characters only (no colour)."""
    return "".join(strip.text for strip in box.render_lines(box.region.reset_offset))


async def test_the_call_back_box_says_x_or_nothing(
    desk: DeskClinic, language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = desk.app("alice")
    async with running(app) as pilot:
        await call_back_dialog(pilot, desk, tick=False)
        dialog = app.screen
        assert isinstance(dialog, ResultDialog)
        box = dialog.query_one("#anyone", TickBox)
        label = "Anyone may call" if language == "en" else "Может звонить любой"
        await wait_until(pilot, lambda: "[ ] " + label in drawn(box), "the clear box")
        await pilot.press("space")
        await wait_until(pilot, lambda: "[x] " + label in drawn(box), "the ticked box")
        assert box.value
        await pilot.press("space")
        await wait_until(pilot, lambda: "[ ] " + label in drawn(box), "the clear box again")


async def test_the_do_not_call_box_of_the_card_says_x(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        await open_list(pilot)
        card = await open_card(pilot)
        box = card.query_one("#card-dnc", TickBox)
        await wait_until(pilot, lambda: "[ ] Do not call" in drawn(box), "the clear box")
        box.value = True
        await wait_until(pilot, lambda: "[x] Do not call" in drawn(box), "the ticked box")
