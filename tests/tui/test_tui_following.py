"""Idle is free: open screens follow the change feed and re-read only what changed.

Heartbeats (every operator's, every 20 s) and other writes that change no row
a screen shows must not make it read its list again, nor even wake the app's
UI thread, unless the supervisor's overview (which shows them) is open;
another operator's claim makes it read that one row. Readings are counted by
wrapping the storage functions the screens call; how long they take is for
the benchmarks.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import pytest

from storage import worklists
from storage.changes import Changes
from storage.engine import write
from storage.sessions import heartbeat
from tests.clinic_fixtures import (
    DESK_NOW,
    Clock,
    DeskClinic,
    open_list,
    running,
    settle,
    wait_until,
)
from tests.supervisor_fixtures import open_supervisor_screen
from tui import picker as picker_module
from tui import work_screen
from tui.app import RingroundApp
from tui.picker import ListPicker
from tui.row_table import KEEP_ROWS, PAGE_MARGIN, RowTable


class Readings:
    """Which rows each reading of a list asked for (None: the whole list)."""

    def __init__(self) -> None:
        self.orders: list[frozenset[int] | None] = []
        self.counts = 0


@pytest.fixture
def readings(monkeypatch: pytest.MonkeyPatch) -> Readings:
    seen = Readings()

    def row_order(
        *args: Any, only: Collection[int] | None = None, **kwargs: Any
    ) -> Iterator[worklists.OrderEntry]:
        seen.orders.append(None if only is None else frozenset(only))
        return worklists.row_order(*args, only=only, **kwargs)

    def summarize(*args: Any) -> worklists.WorkListSummary:
        seen.counts += 1
        return worklists.summarize(*args)

    def work_lists(*args: Any) -> list[worklists.WorkListSummary]:
        seen.counts += 1
        return worklists.work_lists(*args)

    monkeypatch.setattr(work_screen, "row_order", row_order)
    monkeypatch.setattr(picker_module, "summarize", summarize)
    monkeypatch.setattr(picker_module, "work_lists", work_lists)
    return seen


async def test_heartbeats_make_no_screen_read_anything(
    desk: DeskClinic, readings: Readings
) -> None:
    app = desk.app("alice", poll_every=0.1)
    bob = desk.session("bob")
    async with running(app) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ListPicker) and app.screen.summaries,
            "the counted lists",
        )
        counted = readings.counts
        conn = desk.connect()
        try:
            for n in range(3):  # bob's app beats; each commit moves data_version
                heartbeat(conn, bob, 1_741_762_800 + n)
                await pilot.pause(0.3)
        finally:
            conn.close()
        await settle(pilot)
        assert readings.counts == counted  # the picker counted nothing again
        screen = await open_list(pilot)
        await settle(pilot)
        assert readings.orders == [None]  # the one reading when the list opened
        conn = desk.connect()
        try:
            for n in range(3):
                heartbeat(conn, bob, 1_741_762_900 + n)
                await pilot.pause(0.3)
        finally:
            conn.close()
        await settle(pilot)
        assert readings.orders == [None]
        assert screen.query_one(RowTable).ids  # still showing its rows


async def test_heartbeats_wake_only_the_supervisors_overview(
    desk: DeskClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list picker shows nothing a heartbeat changes: the UI thread is not even told of
    it. The supervisor's overview shows each session's last heartbeat: it is."""
    app = RingroundApp(
        desk.location,
        desk.policy,
        desk.session("root", supervisor=True),
        clock=Clock(),
        poll_every=0.1,
    )
    announced: list[Changes] = []
    announce = app.announce_change

    def counted(changes: Changes) -> None:
        announced.append(changes)
        announce(changes)

    monkeypatch.setattr(app, "announce_change", counted)
    bob = desk.session("bob")
    conn = desk.connect()
    try:
        async with running(app) as pilot:
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, ListPicker) and app.screen.summaries,
                "the counted lists",
            )
            await settle(pilot)
            for n in range(3):  # bob's app beats; each commit moves data_version
                heartbeat(conn, bob, DESK_NOW + n)
                await pilot.pause(0.3)
            assert announced == []
            screen = await open_supervisor_screen(pilot)
            heartbeat(conn, bob, DESK_NOW + 30)
            await wait_until(
                pilot,
                lambda: (
                    screen.overview is not None
                    and any(
                        s.operator == "bob" and s.heartbeat_at == DESK_NOW + 30
                        for s in screen.overview.sessions
                    )
                ),
                "bob's new heartbeat on the overview",
            )
            assert announced and all(changes.nothing for changes in announced)
    finally:
        conn.close()


async def test_a_colleagues_claim_reads_that_row_only(desk: DeskClinic, readings: Readings) -> None:
    app = desk.app("alice", poll_every=0.1)
    bob = desk.session("bob")
    ivanova = desk.appointments["ivanova"]
    async with running(app) as pilot:
        screen = await open_list(pilot)
        table = screen.query_one(RowTable)
        await settle(pilot)
        desk.claim(bob, "ivanova")
        await wait_until(
            pilot,
            lambda: ivanova in table.rows and table.rows[ivanova].lock_operator == "bob",
            "bob's lock",
        )
        await settle(pilot)
        assert readings.orders == [None, frozenset({ivanova})]


async def test_the_picker_counts_again_only_the_list_that_changed(
    desk: DeskClinic, readings: Readings
) -> None:
    app = desk.app("alice", poll_every=0.1)
    bob = desk.session("bob")
    async with running(app) as pilot:
        picker = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ListPicker) and app.screen.summaries and app.screen,
        )
        assert isinstance(picker, ListPicker)
        before = readings.counts
        desk.claim(bob, "ivanova")
        await wait_until(
            pilot,
            lambda: picker.summaries[0].locked_by_others == 1,
            "the count of rows locked by others",
        )
        assert readings.counts == before + 1  # one list counted, not all of them
        assert len(picker.summaries) > 1


async def test_paging_through_a_long_list_keeps_only_the_rows_near_the_screen(
    desk: DeskClinic,
) -> None:
    conn = desk.connect()
    try:
        with write(conn):
            conn.executemany(
                "INSERT INTO clients (id, name) VALUES (?, ?)",
                [(10_000 + n, f"Client {n}") for n in range(3 * KEEP_ROWS)],
            )
            list_id = conn.execute(
                "INSERT INTO call_lists (name, created_at, created_by)"
                " VALUES ('Long', 0, 'root') RETURNING id"
            ).fetchone()[0]
            conn.executemany(
                "INSERT INTO call_list_items (list_id, client_id) VALUES (?, ?)",
                [(list_id, 10_000 + n) for n in range(3 * KEEP_ROWS)],
            )
    finally:
        conn.close()
    app = desk.app("alice", poll_every=600)
    async with running(app) as pilot:
        picker = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ListPicker) and app.screen.summaries and app.screen,
        )
        assert isinstance(picker, ListPicker)
        index = next(i for i, w in enumerate(picker.lists) if w.name == "Long")
        screen = await open_list(pilot, index)
        table = screen.query_one(RowTable)
        most = 0
        while table.cursor < len(table.ids) - 1:
            await pilot.press("pagedown")
            await settle(pilot)
            most = max(most, len(table.rows))
        last = table.ids[-1]
        await wait_until(pilot, lambda: last in table.rows, "the last row's details")
        assert len(table.ids) == 3 * KEEP_ROWS
        assert most <= KEEP_ROWS + table.size.height + 2 * PAGE_MARGIN
