"""The work screens (C1, C2, C8, B6), in English and Russian, at 80×24 and 120×40, and at 60×20.

The fixed clinic and stopped clock of tests/tui/test_snapshots.py. Shown: the work
screen with the reason for the call and a colleague's lock; the list picker's
counts (now · later · locked); the question when quitting with an open call;
the notice of a supervisor's release; the list of a call list with its note.
Update with ``pytest tests/tui/test_snapshots_screens.py --snapshot-update`` and
look at every changed SVG before committing it.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from storage.engine import write
from storage.rows import APPOINTMENT, RowKey
from tests.clinic_fixtures import (
    DESK_NOW,
    Clock,
    Compare,
    DeskClinic,
    open_list,
    settle,
    shoot,
    wait_until,
)
from tests.stored_clinic import release_held
from tests.tui.test_snapshots import on_screen
from tui.app import RingroundApp
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.i18n import set_language

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def desk_at_work(desk: DeskClinic) -> DeskClinic:
    """The fixed clinic at work: olga holds Smith's row, Kowalski is to be called back."""
    desk.held_by_olga("smith")
    conn = desk.connect()
    try:  # Kowalski asked to be called back this afternoon: "later" in the picker
        with write(conn):
            conn.execute(
                "INSERT INTO call_rows (kind, source_id, client_id, callback_at)"
                " VALUES ('appointment', ?, ?, ?)",
                (desk.appointments["kowalski"], desk.clients["kowalski"], DESK_NOW + 5 * 3600),
            )
    finally:
        conn.close()
    return desk


@pytest.fixture(params=SIZES, ids=["80x24", "120x40"])
def size(request: pytest.FixtureRequest) -> tuple[int, int]:
    width, height = request.param
    return width, height


def test_picker_counts(
    snap_compare: Compare,
    desk_at_work: DeskClinic,
    apps: list[RingroundApp],
    language: str,
    size: tuple[int, int],
) -> None:
    app = desk_at_work.app("alice", clock=Clock())
    apps.append(app)
    assert shoot(snap_compare, app, size)


def test_work_screen_on_a_colleagues_row(
    snap_compare: Compare,
    desk_at_work: DeskClinic,
    apps: list[RingroundApp],
    language: str,
    size: tuple[int, int],
) -> None:
    app = desk_at_work.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("down", "f")  # f on olga's row: a dialog; the lock line stays
        await wait_until(pilot, on_screen(app, NoticeDialog))
        await pilot.press("escape")

    assert shoot(snap_compare, app, size, steps)


def test_call_list_with_its_note(
    snap_compare: Compare,
    desk_at_work: DeskClinic,
    apps: list[RingroundApp],
    language: str,
    size: tuple[int, int],
) -> None:
    app = desk_at_work.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot, index=2)  # "Hygiene recall, 6 months"

    assert shoot(snap_compare, app, size, steps)


def test_quitting_with_an_open_call(
    snap_compare: Compare,
    desk_at_work: DeskClinic,
    apps: list[RingroundApp],
    language: str,
    size: tuple[int, int],
) -> None:
    app = desk_at_work.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: len(desk_at_work.locks()) == 2)
        await settle(pilot)
        await pilot.press("ctrl+q")
        await wait_until(pilot, on_screen(app, ConfirmDialog))

    assert shoot(snap_compare, app, size, steps)


def test_a_supervisor_released_the_call(
    snap_compare: Compare,
    desk_at_work: DeskClinic,
    apps: list[RingroundApp],
    language: str,
    size: tuple[int, int],
) -> None:
    app = desk_at_work.app("alice", clock=Clock())
    apps.append(app)

    async def steps(pilot: Pilot[Any]) -> None:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: len(desk_at_work.locks()) == 2)
        await settle(pilot)
        conn = desk_at_work.connect()
        try:
            release_held(
                conn,
                desk_at_work.session("root", DESK_NOW, supervisor=True),
                RowKey(APPOINTMENT, desk_at_work.appointments["ivanova"]),
                DESK_NOW,
            )
        finally:
            conn.close()
        await wait_until(pilot, on_screen(app, NoticeDialog))

    assert shoot(snap_compare, app, size, steps)


def test_work_screen_at_60x20_in_russian(
    snap_compare: Compare, desk_at_work: DeskClinic, apps: list[RingroundApp]
) -> None:
    """The smallest terminal we support: every key in the footer, whole times in Due."""
    set_language("ru")
    try:
        app = desk_at_work.app("alice", clock=Clock())
        apps.append(app)

        async def steps(pilot: Pilot[Any]) -> None:
            await open_list(pilot)

        assert shoot(snap_compare, app, (60, 20), steps)
    finally:
        set_language("en")
