"""What an operator does in the app, step by step, for Pilot tests of the fault suite."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.clinic_fixtures import settle, wait_until
from tui.picker import ListPicker
from tui.result_dialog import ResultDialog
from tui.row_table import RowTable
from tui.work_screen import WorkScreen


async def open_first_list(pilot: Pilot[Any]) -> WorkScreen:
    """Enter on the list picker's first list (appointment confirmation); wait for its first row."""
    app = pilot.app
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, ListPicker) and app.screen.summaries,
        "the list picker's counts",
    )
    await pilot.press("enter")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, WorkScreen) and app.screen.activation is not None,
        "the first row's activation",
    )
    await settle(pilot)
    assert isinstance(app.screen, WorkScreen)
    return app.screen


def holds_active_row(screen: WorkScreen, source_id: int | None) -> bool:
    activation = screen.activation
    lock = activation.state.lock if activation else None
    return (
        activation is not None
        and activation.state.key.source_id == source_id
        and lock is not None
        and lock.mine
    )


async def claim_active_row(pilot: Pilot[Any], screen: WorkScreen) -> int:
    """Press c and wait until the pane shows the row as this session's call."""
    source_id = screen.query_one(RowTable).current_id
    assert source_id is not None
    await pilot.press("c")
    await wait_until(pilot, lambda: holds_active_row(screen, source_id), "the claim")
    return source_id


async def open_result_dialog(pilot: Pilot[Any], outcome: str, comment: str) -> ResultDialog:
    """Press f, pick the outcome by its digit and type the comment (not saved yet)."""
    app = pilot.app
    await pilot.press("f")
    await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog")
    await pilot.press(outcome, *comment)
    assert isinstance(app.screen, ResultDialog)
    return app.screen


async def save_outcome(pilot: Pilot[Any], screen: WorkScreen, comment: str) -> int:
    """Claim the active row and confirm it (outcome 1) with a comment; returns its source id."""
    source_id = await claim_active_row(pilot, screen)
    await open_result_dialog(pilot, "1", comment)
    await pilot.press("enter")
    await wait_until(pilot, lambda: pilot.app.screen is screen, "the save")
    await settle(pilot)
    return source_id
