"""C3 and C8: several operators on one database see each other's work (on each engine)."""

from __future__ import annotations

import pytest

from storage.rows import APPOINTMENT
from tests.clinic_fixtures import (
    DeskClinic,
    open_list,
    running,
    settle,
    text_of,
    wait_until,
)
from tui.app import POLL_EVERY
from tui.dialogs import NoticeDialog
from tui.picker import ListPicker
from tui.result_dialog import ResultDialog
from tui.row_table import RowTable
from tui.work_screen import WorkScreen


@pytest.fixture
def desk(engine_desk: DeskClinic) -> DeskClinic:
    """These flows run on each engine in turn (tests/conftest.py: engine_desk)."""
    return engine_desk


def confirm_elsewhere(desk: DeskClinic, name: str) -> None:
    """Another program (e.g. the clinic's own system) confirms an appointment."""
    conn = desk.connect()
    try:
        conn.execute(
            "UPDATE appointments SET status = 'confirmed' WHERE id = ?", (desk.appointments[name],)
        )
    finally:
        conn.close()


def active_id(screen: WorkScreen) -> int | None:
    activation = screen.activation
    return None if activation is None else activation.state.key.source_id


async def test_r_refreshes_the_list_and_the_pane(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        app.closing.set()  # no automatic refresh in this test: the change watch stops
        table = screen.query_one(RowTable)
        confirm_elsewhere(desk, "smith")
        bob = desk.session("bob")
        desk.claim(bob, "ivanova")
        await pilot.pause(0.1)  # a moment passes: nothing refreshes by itself
        await settle(pilot)
        assert len(table.ids) == 5
        assert text_of(screen.query_one("#state")) == "Free — c to start the call"
        await pilot.press("r")
        await settle(pilot)
        assert desk.appointments["smith"] not in table.ids and len(table.ids) == 4
        assert text_of(screen.query_one("#work-title")) == "Appointment confirmation · 4 rows"
        assert text_of(screen.query_one("#state")) == "Locked by bob since 10:00 — alive"
        assert table.rows[desk.appointments["ivanova"]].lock_operator == "bob"


async def test_other_commits_appear_without_pressing_anything(desk: DeskClinic) -> None:
    # The app looks for other operators' commits every POLL_EVERY seconds, so they
    # show within about 2 s (C3); how fast it really is, is for benchmarks to say.
    assert POLL_EVERY <= 2.0
    app = desk.app("alice", poll_every=0.2)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        table = screen.query_one(RowTable)
        confirm_elsewhere(desk, "petrov")  # no key is pressed from here on
        await wait_until(
            pilot,
            lambda: desk.appointments["petrov"] not in table.ids,
            "the confirmed row to vanish",
        )
        # The picker, underneath, is refreshed as well.
        await pilot.press("escape")
        picker = await wait_until(pilot, lambda: isinstance(app.screen, ListPicker) and app.screen)
        assert isinstance(picker, ListPicker)
        await wait_until(pilot, lambda: picker.summaries and picker.summaries[0].pending == 4)


async def test_others_work_does_not_move_my_cursor(desk: DeskClinic) -> None:
    app = desk.app("alice", poll_every=0.1)
    smith = desk.appointments["smith"]
    async with running(app) as pilot:
        screen = await open_list(pilot)
        table = screen.query_one(RowTable)
        await pilot.press("down")
        await wait_until(pilot, lambda: active_id(screen) == smith)
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks())
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog))
        await pilot.press("escape")  # changed my mind: the call goes on
        await wait_until(pilot, lambda: app.screen is screen)
        confirm_elsewhere(desk, "ivanova")
        await wait_until(pilot, lambda: len(table.ids) == 4, "the list to shrink")
        await settle(pilot)
        assert table.current_id == smith
        assert active_id(screen) == smith
        assert text_of(screen.query_one("#state")).startswith("Your call since 10:00")


async def test_two_operators_on_one_file(desk: DeskClinic) -> None:
    """C8: alice calls; bob is warned with her name; her success removes the row for bob."""
    alice = desk.app("alice", poll_every=0.1)
    bob = desk.app("bob", poll_every=0.1)
    ivanova = desk.appointments["ivanova"]
    async with running(alice) as alice_pilot, running(bob) as bob_pilot:
        alice_screen = await open_list(alice_pilot)
        await alice_pilot.press("c")
        await wait_until(
            alice_pilot,
            lambda: desk.locks() == [(APPOINTMENT, ivanova, "alice", alice.session.id)],
            "alice's lock",
        )

        # Bob's picker counts alice's call; the list's first row is the one she is on.
        picker = bob.screen
        assert isinstance(picker, ListPicker)
        await wait_until(
            bob_pilot,
            lambda: picker.summaries and picker.summaries[0].locked_by_others == 1,
            "bob's counts",
        )
        bob_screen = await open_list(bob_pilot)
        assert active_id(bob_screen) == ivanova
        warning = "Locked by alice since 10:00 — alive"
        await wait_until(
            bob_pilot,
            lambda: text_of(bob_screen.query_one("#state")) == warning,
            "the lock in bob's pane",
        )
        bob_table = bob_screen.query_one(RowTable)
        assert bob_table.describe_row(bob_table.rows[ivanova])["lock"] == "alice"

        await bob_pilot.press("c")
        dialog = await wait_until(
            bob_pilot, lambda: isinstance(bob.screen, NoticeDialog) and bob.screen, "bob's warning"
        )
        assert isinstance(dialog, NoticeDialog)
        assert dialog.title_text == "Locked"
        assert dialog.message == warning
        await bob_pilot.press("enter")
        await wait_until(bob_pilot, lambda: bob.screen is bob_screen)
        assert text_of(bob_screen.query_one("#state")) == warning
        assert desk.locks() == [(APPOINTMENT, ivanova, "alice", alice.session.id)]

        # Alice confirms: the row leaves bob's list too, and bob's cursor goes on.
        await alice_pilot.press("f")
        await wait_until(alice_pilot, lambda: isinstance(alice.screen, ResultDialog))
        await alice_pilot.press("1", *"ok", "enter")
        await wait_until(
            bob_pilot, lambda: ivanova not in bob_table.ids, "the row to leave bob's list"
        )
        await wait_until(bob_pilot, lambda: active_id(bob_screen) == desk.appointments["smith"])
        await settle(bob_pilot)
        assert text_of(bob_screen.query_one("#state")) == "Free — c to start the call"
        assert ivanova not in alice_screen.query_one(RowTable).ids
    assert desk.query(
        "SELECT operator, outcome, comment FROM attempts WHERE source_id = ?"
        " AND kind = 'appointment'",
        ivanova,
    ) == [("alice", "confirmed", "ok")]
    assert desk.locks() == []
