"""How the supervisor screen, the reports and the same-phone line look, at 80×24 and 120×40.

Deterministic: the fixed clinic of tests/clinic_fixtures.py with the operators,
calls and host names of tests/supervisor_fixtures.py, a clock stopped at
Thursday 2026-11-26 10:00 Moscow time, workers waited for and cursors frozen.
Update with ``pytest tests/tui/test_snapshots_supervisor.py --snapshot-update``
and look at every changed SVG before committing it.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.clinic_fixtures import (
    Clock,
    Compare,
    DeskClinic,
    open_list,
    settle,
    shoot,
    wait_until,
)
from tests.supervisor_fixtures import open_report, operators_at_work, record_calls, supervisor_app
from tests.tui.test_tui_same_phone import add_family
from tui.app import RingroundApp
from tui.result_dialog import ResultDialog
from tui.supervisor_screen import SupervisorScreen

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@SIZES
def test_supervisor_screen(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp], size: tuple[int, int]
) -> None:
    operators_at_work(desk)
    app = supervisor_app(desk)
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("v")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, SupervisorScreen) and app.screen.overview is not None,
        )
        await settle(pilot)
        await pilot.press("down")  # the cursor on carol's lock (gone)

    assert shoot(snap_compare, app, size, steps)


@SIZES
def test_report_per_operator_last_7_days(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp], size: tuple[int, int]
) -> None:
    record_calls(desk)
    app = supervisor_app(desk)
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        screen = await open_report(pilot)
        await pilot.press("w")
        await wait_until(pilot, lambda: screen.report is not None and len(screen.report.days) == 7)

    assert shoot(snap_compare, app, size, steps)


def test_report_per_list_today(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
) -> None:
    record_calls(desk)
    app = supervisor_app(desk)
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        screen = await open_report(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: screen.report is not None and screen.report.by == "list")

    assert shoot(snap_compare, app, (80, 24), steps)


def test_same_phone_line_and_box(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
) -> None:
    add_family(desk)
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks())
        await settle(pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog))
        await pilot.press("1", *"Вся", "space", *"семья", "tab", "space")

    assert shoot(snap_compare, app, (80, 24), steps)


def test_same_phone_line_in_the_pane(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
) -> None:
    add_family(desk)
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)

    assert shoot(snap_compare, app, (80, 24), steps)
