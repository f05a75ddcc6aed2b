"""How the operator's screens look, at 80×24 (a Linux console) and 120×40.

Deterministic: the fixed clinic of tests/clinic_fixtures.py, a clock stopped at
Thursday 2026-11-26 10:00 Moscow time, workers waited for and cursors frozen.
Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at
every changed SVG before committing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.clinic_fixtures import (
    DESK_NOW,
    MINUTE,
    Clock,
    Compare,
    DeskClinic,
    open_card,
    open_list,
    settle,
    shoot,
    wait_until,
)
from tui.app import RingroundApp
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.result_dialog import ResultDialog

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


def on_screen(app: RingroundApp, kind: type) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, kind)


@SIZES
def test_list_picker(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp], size: tuple[int, int]
) -> None:
    app = desk.app("alice", clock=Clock())
    apps.append(app)
    assert shoot(snap_compare, app, size)


@SIZES
def test_work_screen_with_a_row_locked_by_another(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp], size: tuple[int, int]
) -> None:
    desk.held_by_olga("smith")
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("down")  # onto olga's row

    assert shoot(snap_compare, app, size, steps)


@SIZES
def test_result_dialog(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp], size: tuple[int, int]
) -> None:
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks())
        await settle(pilot)
        await pilot.press("f")
        await wait_until(pilot, on_screen(app, ResultDialog))
        await pilot.press("1", *"Придёт", "space", *"к", "space", *"9:30")

    assert shoot(snap_compare, app, size, steps)


@SIZES
def test_lock_warning(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp], size: tuple[int, int]
) -> None:
    desk.held_by_olga("ivanova")
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, on_screen(app, NoticeDialog))

    assert shoot(snap_compare, app, size, steps)


@SIZES
def test_takeover_offer(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp], size: tuple[int, int]
) -> None:
    olga = desk.session("olga")
    desk.claim(olga, "ivanova")
    later = DESK_NOW + 16 * MINUTE
    desk.heartbeat(olga, later)  # stale, but olga is still working
    app = desk.app("alice", clock=Clock(later))
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, on_screen(app, ConfirmDialog))

    assert shoot(snap_compare, app, size, steps)


@SIZES
def test_client_card(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp], size: tuple[int, int]
) -> None:
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await open_card(pilot)

    assert shoot(snap_compare, app, size, steps)


async def call_back_dialog(pilot: Pilot[Any], desk: DeskClinic, tick: bool) -> None:
    """The result dialog of a call-back, its time written and "Anyone may call" as asked."""
    app = pilot.app
    assert isinstance(app, RingroundApp)
    await open_list(pilot)
    await pilot.press("c")
    await wait_until(pilot, lambda: desk.locks())
    await settle(pilot)
    await pilot.press("f")
    await wait_until(pilot, on_screen(app, ResultDialog))
    await pilot.press("5", *"after lunch", "tab", *"15:30", "tab")
    if tick:
        await pilot.press("space")


@pytest.mark.parametrize("tick", [False, True], ids=["clear", "ticked"])
def test_call_back_box_without_colour(
    snap_compare: Compare,
    desk: DeskClinic,
    apps: list[RingroundApp],
    tick: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NO_COLOR (and any terminal without colour): the box says [x] or [ ] in characters."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await call_back_dialog(pilot, desk, tick)

    assert shoot(snap_compare, app, (80, 24), steps)


def test_call_back_box_in_16_colours(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
) -> None:
    """A Linux console's 16 ANSI colours (Textual's ANSI theme): the box still says [x]."""
    app = desk.app("alice", clock=Clock())
    app.theme = "ansi-dark"
    app.ansi_color = True
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await call_back_dialog(pilot, desk, True)

    assert shoot(snap_compare, app, (80, 24), steps)
