"""The client pane says why the operator is calling, at 80 columns (C2).

The appointment to confirm, the call list's note and the task's title each have
a line of their own; "Next:" lists what is still to come, never a visit already
begun and never the appointment being confirmed.
"""

from __future__ import annotations

from storage.engine import write
from tests.clinic_fixtures import DeskClinic, at, go_to, open_list, running, text_of


def pane_lines(screen: object) -> list[str]:
    from tui.work_screen import WorkScreen

    assert isinstance(screen, WorkScreen)
    return text_of(screen.query_one("#pane")).splitlines()


def add_visit_today(desk: DeskClinic) -> None:
    """Ivanova was seen at 09:30 today (it is 10:00): that visit is not "next"."""
    conn = desk.connect()
    try:
        with write(conn):
            conn.execute(
                "INSERT INTO appointments (client_id, starts_at, doctor, service, status)"
                " VALUES (?, ?, 'Орлова Е. В.', 'Консультация', 'confirmed')",
                (desk.clients["ivanova"], at(26, 9, 30)),
            )
    finally:
        conn.close()


async def test_the_appointment_to_confirm_comes_first_and_past_visits_are_not_next(
    desk: DeskClinic,
) -> None:
    add_visit_today(desk)
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert pane_lines(screen)[2:4] == [
            "Confirm: 27.11 09:30 Профессиональная гигиена · Орлова Е. В.",
            "Next: 30.11 14:00 Пломба · Смирнов А. А. (unconfirmed)",
        ]


async def test_a_later_status_of_the_appointment_to_confirm_is_shown_in_russian(
    desk: DeskClinic, russian: None
) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await go_to(pilot, screen, desk.appointments["kowalski"])
        assert pane_lines(screen)[2] == (
            "Подтвердить: 27.11 15:00 X-ray · Dr. Wilson (оставлено сообщение)"
        )


async def test_a_call_lists_note_is_shown_in_russian(desk: DeskClinic, russian: None) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot, index=1)  # "Flu vaccination reminder": Ivanova
        lines = pane_lines(screen)
        assert lines[2] == "Flu vaccination reminder: Last visit in May"
        assert lines[3] == (
            "Записи: 27.11 09:30 Профессиональная гигиена · Орлова Е. В. "
            "(не подтверждена); 30.11 14:00 Пломба · Смирнов А. А. "
            "(не подтверждена)"
        )


async def test_a_tasks_title_is_shown(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot, index=3)  # "Tasks: recall": Smith
        lines = pane_lines(screen)
        assert lines[2] == "Task (recall, due 25.11 10:00): Recall after implant"
        assert lines[3] == (
            "Next: 27.11 11:00 Check-up · Dr. Wilson (unconfirmed); "
            "27.11 17:00 Follow-up · Dr. Wilson (confirmed)"
        )


async def test_a_tasks_title_is_shown_in_russian(desk: DeskClinic, russian: None) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot, index=4)  # "Tasks: reminder": Kowalski
        assert pane_lines(screen)[2] == ("Задача (напоминание, срок 09:59): Принести снимки")
