"""How the operator's screens look in Russian at 80×24 (B10: the layout holds).

The same fixed clinic and stopped clock as tests/tui/test_snapshots.py, with the
language switched to Russian for the test (and back to English afterwards).
Footer keys use the short labels («Звонок», «Завершить», …); the full ones
(«Завершить обработку», «Заблокировано: …») show in titles and
state lines. Update with ``pytest tests/tui/test_snapshots_ru.py --snapshot-update``
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
from tests.tui.test_snapshots import on_screen
from tests.tui.test_tui_same_phone import add_family
from tui.app import RingroundApp
from tui.dialogs import NoticeDialog
from tui.result_dialog import ResultDialog
from tui.supervisor_screen import SupervisorScreen

SIZE = (80, 24)


pytestmark = pytest.mark.usefixtures("russian")


def test_list_picker_ru(snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]) -> None:
    desk.held_by_olga("smith")  # «1 занят другими»
    app = desk.app("alice", clock=Clock())
    apps.append(app)
    assert shoot(snap_compare, app, SIZE)


def test_work_screen_ru(snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]) -> None:
    desk.held_by_olga("smith")
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("down")  # onto olga's row: «Заблокировано: olga, с 09:55 — в сети»

    assert shoot(snap_compare, app, SIZE, steps)


def test_keys_of_the_work_screen_ru(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
) -> None:
    """h: every key with its word, those the footer left out («r», «k») among them."""
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("h")
        await wait_until(pilot, on_screen(app, NoticeDialog))

    assert shoot(snap_compare, app, SIZE, steps)


def test_result_dialog_ru(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
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
        await pilot.press("5")  # «Перезвонить позже»: the call-back time row shows too

    assert shoot(snap_compare, app, SIZE, steps)


def test_lock_warning_ru(snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]) -> None:
    desk.held_by_olga("ivanova")
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, on_screen(app, NoticeDialog))

    assert shoot(snap_compare, app, SIZE, steps)


def test_tallest_result_dialog_ru(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
) -> None:
    """Call-back time, same-phone box and a refusal at once: all of it within 24 lines."""
    add_family(desk)
    app = desk.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks())
        await settle(pilot)
        await pilot.press("f")
        await wait_until(pilot, on_screen(app, ResultDialog))
        await pilot.press("5", "enter")  # no time written: «Укажите время перезвона…»

    assert shoot(snap_compare, app, SIZE, steps)


def test_supervisor_screen_ru(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
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

    assert shoot(snap_compare, app, SIZE, steps)


def test_report_last_7_days_ru(
    snap_compare: Compare, desk: DeskClinic, apps: list[RingroundApp]
) -> None:
    record_calls(desk)
    app = supervisor_app(desk)
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        screen = await open_report(pilot)
        await pilot.press("w")
        await wait_until(pilot, lambda: screen.report is not None and len(screen.report.days) == 7)

    assert shoot(snap_compare, app, SIZE, steps)
