"""Fault: the disk fills up while an operator saves an outcome.

The database lives on a tiny tmpfs of its own (tests/tiny_disk.py, root
only); the disk is filled just before Enter. The save must fail with one
clear sentence, the result dialog must stay open with the outcome and the
comment as typed, nothing of the outcome may reach the database (no attempt,
the lock still the operator's, the appointment unchanged), and Enter again
after space is freed must save it, once.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, OptionList, Static

from storage.database import open_database
from tests.clinic_fixtures import Clock, DeskClinic, build_desk, running, text_of, wait_until
from tests.operator_steps import claim_active_row, open_first_list, open_result_dialog
from tests.tiny_disk import fill, tiny_disk

COMMENT = "Попросила перезвонить после 18:00, муж дома"


def state_of(desk: DeskClinic, source_id: int) -> tuple[object, ...]:
    (row,) = desk.query(
        "SELECT (SELECT count(*) FROM attempts WHERE kind = 'appointment' AND source_id = a.id),"
        " (SELECT operator FROM locks WHERE kind = 'appointment' AND source_id = a.id),"
        " (SELECT closed_at FROM call_rows WHERE kind = 'appointment' AND source_id = a.id),"
        " a.status FROM appointments a WHERE a.id = ?",
        source_id,
    )
    return tuple(row)


def empty_the_wal(path: Path) -> None:
    """A full checkpoint, so that the next save must grow the WAL file."""
    conn = open_database(path)
    try:
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0 and log == done
    finally:
        conn.close()


async def test_disk_full_keeps_the_comment_and_saves_once_space_is_freed(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        desk = build_desk(disk)
        app = desk.app("alice", clock=Clock())
        async with running(app) as pilot:
            screen = await open_first_list(pilot)
            row = await claim_active_row(pilot, screen)
            before = state_of(desk, row)
            assert before == (0, "alice", None, "unconfirmed")
            dialog = await open_result_dialog(pilot, "1", COMMENT)
            empty_the_wal(desk.path)
            filler = fill(disk)

            await pilot.press("enter")
            message = dialog.query_one("#result-message", Static)
            await wait_until(
                pilot, lambda: "full" in text_of(message), "the disk-full message", timeout=15
            )
            said = text_of(message)
            assert said == (
                f"Not saved: the disk holding {desk.path} is full; nothing was "
                "saved. Your text is kept; Enter tries again."
            ), said
            assert "Traceback" not in said and "\n" not in said
            assert app.screen is dialog
            assert dialog.query_one("#comment", Input).value == COMMENT
            assert dialog.query_one("#outcomes", OptionList).highlighted == 0
            assert state_of(desk, row) == before  # nothing partial
            assert desk.query("PRAGMA integrity_check") == [("ok",)]

            filler.unlink()
            await pilot.press("enter")  # the comment field still has the focus
            await wait_until(pilot, lambda: app.screen is screen, "the save")

        attempts, lock, closed_at, status = state_of(desk, row)
        assert (attempts, lock, status) == (1, None, "confirmed")  # the lock went with the save
        assert closed_at is not None
        assert desk.query(
            "SELECT outcome, comment FROM attempts WHERE kind = 'appointment' AND source_id = ?",
            row,
        ) == [("confirmed", COMMENT)]
        assert desk.query("PRAGMA integrity_check") == [("ok",)]
