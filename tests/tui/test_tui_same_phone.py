"""B6 on screen: the pane names the family's other open rows; one save can settle them.

Keys used: c start call, f result dialog, 1 outcome, Tab to the same-phone box,
Space ticks it, Enter saves, Escape closes the notice.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from textual.widgets import Checkbox

import storage.families
import tui.work_screen
from storage.clients import save_phones
from storage.engine import write
from storage.rows import APPOINTMENT, ITEM, TASK
from tests.clinic_fixtures import (
    DESK_NOW,
    DeskClinic,
    at,
    open_list,
    running,
    settle,
    start_call,
    text_of,
    wait_until,
)
from tui.app import RingroundApp
from tui.dialogs import NoticeDialog
from tui.result_dialog import FamilyBox, ResultDialog
from tui.row_table import RowTable
from tui.work_screen import WorkScreen

HOME = "+7 495 765-43-21"  # Ivanova's second number


def add_family(desk: DeskClinic) -> dict[str, int]:
    """Ivanova's son (an appointment tomorrow and a reminder) and her daughter (do not call,
    on the flu list) share her home number."""
    conn = desk.connect()
    try:
        with write(conn):

            def client(name: str, do_not_call: bool) -> int:
                client_id = int(
                    conn.execute(
                        "INSERT INTO clients (name, do_not_call) VALUES (?, ?) RETURNING id",
                        (name, int(do_not_call)),
                    ).fetchone()[0]
                )
                save_phones(conn, desk.policy.phones, client_id, [HOME])
                return client_id

            son = client("Иванов Пётр Сергеевич", False)
            daughter = client("Иванова Анна", True)
            ids = {
                "son-visit": conn.execute(
                    "INSERT INTO appointments (client_id, starts_at, doctor, service, status)"
                    " VALUES (?, ?, 'Орлова Е. В.', 'Осмотр', 'unconfirmed') RETURNING id",
                    (son, at(27, 13)),
                ).fetchone()[0],
                "son-task": conn.execute(
                    "INSERT INTO tasks (client_id, kind, title, due_at)"
                    " VALUES (?, 'reminder', 'Принести анализы', ?) RETURNING id",
                    (son, DESK_NOW - 3600),
                ).fetchone()[0],
                "daughter-item": conn.execute(
                    "INSERT INTO call_list_items (list_id, client_id) VALUES (?, ?) RETURNING id",
                    (desk.call_lists["Flu vaccination reminder"], daughter),
                ).fetchone()[0],
            }
    finally:
        conn.close()
    return ids


async def result_dialog(pilot: Any, app: RingroundApp, screen: WorkScreen) -> ResultDialog:
    await start_call(pilot, screen)
    await settle(pilot)
    await pilot.press("f")
    dialog = await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen)
    assert isinstance(dialog, ResultDialog)
    return dialog


async def test_one_save_settles_the_family(
    desk: DeskClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = add_family(desk)
    statements: list[str] = []
    real_finish = storage.families.finish_family

    def traced_finish(conn: sqlite3.Connection, *args: Any, **kwargs: Any) -> Any:
        conn.set_trace_callback(statements.append)
        try:
            return real_finish(conn, *args, **kwargs)
        finally:
            conn.set_trace_callback(None)

    monkeypatch.setattr(tui.work_screen, "finish_family", traced_finish)
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        pane = text_of(screen.query_one("#pane"))
        assert pane.splitlines()[-1] == (
            "Same phone: Иванов П. С. (appointment 27.11 13:00), Иванова А. (Flu vaccination "
            "reminder), Иванов П. С. (reminder: Принести анализы)"
        )
        dialog = await result_dialog(pilot, app, screen)
        box = dialog.query_one("#family", FamilyBox)
        assert str(box.label) == "Same outcome for 3 other rows of this phone"
        await pilot.press("1", *"Вся", "space", *"семья", "tab")
        assert box.has_focus
        await pilot.press("space")
        assert box.value
        await pilot.press("enter")  # on the box: saves (does not untick it)
        notice = await wait_until(
            pilot,
            lambda: isinstance(app.screen, NoticeDialog) and app.screen,
            "the notice of the skipped row",
        )
        assert isinstance(notice, NoticeDialog)
        assert notice.message.splitlines() == [
            "Saved for this call and 2 other rows of this phone.",
            "Left as they are:",
            "• Иванова А. (Flu vaccination reminder): Do not call: the client asked not to be "
            "called.",
        ]
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        rows = screen.query_one("#rows", RowTable)
        await wait_until(
            pilot,
            lambda: ids["son-visit"] not in rows.ids,
            "the son's appointment to leave the list",
        )
        await settle(pilot)
    settled = desk.query(
        "SELECT kind, source_id, operator, outcome, comment FROM attempts"
        " WHERE operator = 'alice' ORDER BY kind, source_id"
    )
    assert settled == [
        (APPOINTMENT, desk.appointments["ivanova"], "alice", "confirmed", "Вся семья"),
        (APPOINTMENT, ids["son-visit"], "alice", "confirmed", "Вся семья"),
        (TASK, ids["son-task"], "alice", "confirmed", "Вся семья"),
    ]
    assert desk.query(
        "SELECT status FROM appointments WHERE id IN (?, ?)",
        desk.appointments["ivanova"],
        ids["son-visit"],
    ) == [("confirmed",), ("confirmed",)]
    assert desk.query("SELECT done_at FROM tasks WHERE id = ?", ids["son-task"]) == [(DESK_NOW,)]
    assert desk.query(
        "SELECT processed_at FROM call_list_items WHERE id = ?", ids["daughter-item"]
    ) == [(None,)]
    assert desk.locks() == []
    # One save, one transaction.
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert [
        (kind, source_id)
        for kind, source_id in desk.query(
            "SELECT kind, source_id FROM audit WHERE event = 'family-settled' ORDER BY id"
        )
    ] == [(APPOINTMENT, ids["son-visit"]), (TASK, ids["son-task"])]
    assert ITEM not in {
        kind for (kind,) in desk.query("SELECT kind FROM audit WHERE event IN ('claim', 'release')")
    }


async def test_without_the_box_only_the_call_is_saved(desk: DeskClinic) -> None:
    ids = add_family(desk)
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        dialog = await result_dialog(pilot, app, screen)
        assert not dialog.query_one("#family", Checkbox).value
        await pilot.press("2", *"Не берёт", "enter")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await settle(pilot)
        # The cursor went on to John Smith, who shares no number: no same-phone line, no box.
        await wait_until(
            pilot,
            lambda: (
                screen.activation is not None
                and screen.activation.client is not None
                and screen.activation.client.name == "John Smith"
            ),
        )
        await settle(pilot)
        assert "Same phone" not in text_of(screen.query_one("#pane"))
        dialog = await result_dialog(pilot, app, screen)
        assert not dialog.query("#family")
    assert desk.query("SELECT kind, source_id FROM attempts WHERE operator = 'alice'") == [
        (APPOINTMENT, desk.appointments["ivanova"])
    ]
    assert desk.query("SELECT status FROM appointments WHERE id = ?", ids["son-visit"]) == [
        ("unconfirmed",)
    ]
