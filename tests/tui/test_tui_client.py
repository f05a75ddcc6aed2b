"""C2: the client pane, and the client card (k), summary (s) and current requests (o)."""

from __future__ import annotations

import json

from textual.geometry import Region
from textual.widgets import Checkbox, Input

from storage.clients import update_client
from storage.engine import write
from tests.clinic_fixtures import (
    DESK_NOW,
    DeskClinic,
    go_to,
    open_card,
    open_list,
    running,
    settle,
    text_of,
    wait_until,
)
from tui.client_history import ClientDialog
from tui.work_screen import WorkScreen


async def test_pane_shows_client_appointments_history_and_lock_state(desk: DeskClinic) -> None:
    bob = desk.session("bob")
    desk.claim(bob, "smith")
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert text_of(screen.query_one("#pane")).splitlines() == [
            "Иванова Мария Петровна, 42 y.",
            "1 +7 916 123-45-67   2 +7 495 765-43-21",
            # The appointment this call confirms on a line of its own; the past visit
            # (2 November) is not "next".
            "Confirm: 27.11 09:30 Профессиональная гигиена · Орлова Е. В.",
            "Next: 30.11 14:00 Пломба · Смирнов А. А. (unconfirmed)",
            "Not called before",
        ]
        assert text_of(screen.query_one("#state")) == "Free — c to start the call"

        await go_to(pilot, screen, desk.appointments["smith"])
        assert text_of(screen.query_one("#pane")).startswith("John Smith, 35 y.\n")
        assert text_of(screen.query_one("#state")) == "Locked by bob since 10:00 — alive"

        await go_to(pilot, screen, desk.appointments["petrov"])
        pane = text_of(screen.query_one("#pane"))
        assert "Петров Сергей Иванович, 70 y." in pane
        assert "24.11 10:00 olga         No answer — Попросил перезвонить после обеда" in pane


async def test_card_edit_is_saved_and_audited(desk: DeskClinic) -> None:
    app = desk.app("alice")
    client_id = desk.clients["ivanova"]
    async with running(app) as pilot:
        await open_list(pilot)
        card = await open_card(pilot)
        identity = text_of(card.query_one("#card-identity"))
        # Dates in the language's conventions (British English in English; tui/formats.py).
        assert "Иванова Мария Петровна" in identity and "15 March 1984" in identity
        phones = card.query_one("#card-phones", Input)
        assert phones.has_focus
        assert phones.value == "+7 916 123-45-67; +7 495 765-43-21"
        await pilot.press("end", *"; +7 900 000-00-01")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "the card to close")
    assert desk.query(
        "SELECT number FROM phones WHERE client_id = ? ORDER BY position", client_id
    ) == [("+7 916 123-45-67",), ("+7 495 765-43-21",), ("+7 900 000-00-01",)]
    [(operator, session_id, detail)] = desk.query(
        "SELECT operator, session_id, detail FROM audit WHERE event = 'card-edit'"
        " AND client_id = ?",
        client_id,
    )
    assert (operator, session_id) == ("alice", app.session.id)
    assert json.loads(detail) == {
        "field": "phones",
        "old": ["+7 916 123-45-67", "+7 495 765-43-21"],
        "new": ["+7 916 123-45-67", "+7 495 765-43-21", "+7 900 000-00-01"],
    }


async def test_card_edit_keeps_the_line_breaks_of_the_notes(desk: DeskClinic) -> None:
    """Notes from the clinic's old system have line breaks; the one-line field shows them as
    ␊ (tui/safe_text.py). Editing such notes once stored that sign instead of the break."""
    client_id = desk.clients["ivanova"]
    conn = desk.connect()
    try:
        with write(conn):
            conn.execute(
                "UPDATE clients SET notes = ? WHERE id = ?",
                ("Аллергия на пенициллин\r\nЗвонить\tпосле 18:00", client_id),
            )
    finally:
        conn.close()
    app = desk.app("alice")
    async with running(app) as pilot:
        await open_list(pilot)
        card = await open_card(pilot)
        notes = card.query_one("#card-notes", Input)
        assert notes.value == "Аллергия на пенициллин␍␊Звонить␉после 18:00"
        await pilot.press("tab", "tab", "end", *" (мама)", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "the card to close")
    assert desk.query("SELECT notes FROM clients WHERE id = ?", client_id) == [
        ("Аллергия на пенициллин\r\nЗвонить\tпосле 18:00 (мама)",)
    ]


async def test_card_refuses_a_phone_number_with_digits_missing(desk: DeskClinic) -> None:
    """The card took "+7 916 123-45-6" (a digit short) and "12", which an import refuses
    by the policy's [phones] rules: the next caller would dial a wrong number."""
    app = desk.app("alice")
    client_id = desk.clients["ivanova"]
    async with running(app) as pilot:
        await open_list(pilot)
        card = await open_card(pilot)
        await pilot.press("end", *"; +7 916 123-45-6", "enter")
        message = card.query_one("#card-message")
        await wait_until(pilot, lambda: "digits" in text_of(message), "the refusal")
        assert text_of(message) == (
            "Not saved: '+7 916 123-45-6' has too few digits: numbers here have 10 after "
            "8 / +7. Your changes are kept."
        )
        assert card.query_one("#card-phones", Input).value.endswith("; +7 916 123-45-6")
        assert app.screen is card
    assert desk.query(
        "SELECT number FROM phones WHERE client_id = ? ORDER BY position", client_id
    ) == [("+7 916 123-45-67",), ("+7 495 765-43-21",)]
    assert desk.query("SELECT count(*) FROM audit WHERE event = 'card-edit'") == [(0,)]


async def test_card_tab_to_the_notes_and_typing_adds_to_them(desk: DeskClinic) -> None:
    """A field reached with Tab once had all its text selected: the first key typed
    replaced the whole note."""
    app = desk.app("alice")
    async with running(app) as pilot:
        await open_list(pilot)
        await open_card(pilot)
        await pilot.press("tab", "tab", *"; мама", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "the card to close")
    assert desk.query("SELECT notes FROM clients WHERE id = ?", desk.clients["ivanova"]) == [
        ("Предпочитает звонки после 10:00; мама",)
    ]


async def test_card_does_not_undo_what_another_operator_saved_meanwhile(
    desk: DeskClinic,
) -> None:
    """Two cards open on one client: the later save put back the phones its card had
    shown, silently dropping the number the other operator had just added."""
    app = desk.app("alice")
    client_id = desk.clients["ivanova"]
    async with running(app) as pilot:
        await open_list(pilot)
        card = await open_card(pilot)
        bob, before = desk.session("bob"), card.client
        assert before is not None
        conn = desk.connect()
        try:  # bob's card, open on the same client, saves first
            phones = [*before.phones, "+7 916 555-00-01"]
            update_client(conn, desk.policy, bob, client_id, {"phones": phones}, DESK_NOW)
        finally:
            conn.close()
        await pilot.press("end", *"; +7 916 777-00-02", "enter")
        message = card.query_one("#card-message")
        await wait_until(pilot, lambda: "meanwhile" in text_of(message), "the refusal")
        assert card.query_one("#card-phones", Input).value.endswith("; +7 916 777-00-02")
    assert desk.query(
        "SELECT number FROM phones WHERE client_id = ? ORDER BY position", client_id
    ) == [("+7 916 123-45-67",), ("+7 495 765-43-21",), ("+7 916 555-00-01",)]


async def test_card_escape_closes_without_saving(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        await open_list(pilot)
        card = await open_card(pilot)
        card.query_one("#card-notes", Input).value = "changed my mind"
        card.query_one("#card-dnc", Checkbox).value = True
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, WorkScreen)
    assert desk.query(
        "SELECT notes, do_not_call FROM clients WHERE id = ?", desk.clients["ivanova"]
    ) == [("Предпочитает звонки после 10:00", 0)]
    assert desk.query("SELECT count(*) FROM audit WHERE event = 'card-edit'") == [(0,)]


async def test_summary_and_current_requests(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)

        await pilot.press("s")
        dialog = await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, ClientDialog)
                and text_of(app.screen.query_one("#history-text")) != "Reading…"
                and app.screen
            ),
        )
        assert isinstance(dialog, ClientDialog)
        assert dialog.heading == "Client summary"
        summary = text_of(dialog.query_one("#history-text"))
        assert summary.splitlines()[:6] == [
            "Иванова Мария Петровна",
            "",
            "Appointments",
            "30/11/2026, 14:00  Пломба · Смирнов А. А. (unconfirmed)",
            "27/11/2026, 09:30  Профессиональная гигиена · Орлова Е. В. (unconfirmed)",
            "02/11/2026, 10:00  Осмотр · Орлова Е. В. (confirmed)",
        ]
        # Never called: "none" under the heading, as in the current requests (an empty
        # section looked like one still being read).
        assert summary.splitlines()[6:10] == ["", "Calls", "none", ""]
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen

        await go_to(pilot, screen, desk.appointments["smith"])
        await pilot.press("o")
        dialog = await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, ClientDialog)
                and text_of(app.screen.query_one("#history-text")) != "Reading…"
                and app.screen
            ),
        )
        assert isinstance(dialog, ClientDialog)
        assert dialog.heading == "Current requests"
        assert text_of(dialog.query_one("#history-text")).splitlines() == [
            "John Smith",
            "",
            "Upcoming appointments",
            "27/11/2026, 11:00  Check-up · Dr. Wilson (unconfirmed)",
            "27/11/2026, 17:00  Follow-up · Dr. Wilson (confirmed)",
            "",
            "Open tasks",
            "25/11/2026, 10:00  recall: Recall after implant — open",
        ]
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_pane_keeps_the_comment_history_in_sight_at_80_columns(desk: DeskClinic) -> None:
    """Long lines are cut with an ellipsis rather than wrapped out of the pane."""
    conn = desk.connect()
    try:
        olga = desk.session("olga", DESK_NOW - 3600)
        for minutes, comment in (
            (60, "First call: no answer"),
            (
                30,
                "Сказала, что перезвонит сама после обеда, если не уедет на дачу до вечера пятницы",
            ),
        ):
            conn.execute(
                "INSERT INTO attempts (kind, source_id, client_id, operator, session_id,"
                " started_at, ended_at, mode, outcome, comment) VALUES ('appointment', ?, ?,"
                " 'olga', ?, ?, ?, 'manual', 'no-answer', ?)",
                (
                    desk.appointments["ivanova"],
                    desk.clients["ivanova"],
                    olga.id,
                    DESK_NOW - minutes * 60,
                    DESK_NOW - minutes * 60,
                    comment,
                ),
            )
    finally:
        conn.close()
    app = desk.app("alice")
    async with running(app, size=(80, 24)) as pilot:
        screen = await open_list(pilot)
        pane = screen.query_one("#pane")
        shown = [strip.text.rstrip() for strip in pane.render_lines(Region(0, 0, *pane.outer_size))]
        assert shown[0] == " Иванова Мария Петровна, 42 y."
        assert shown[2] == " Confirm: 27.11 09:30 Профессиональная гигиена · Орлова Е. В."
        assert shown[4].startswith("       09:30 olga         No answer — Сказала")
        assert shown[4].endswith("…")
        assert shown[5] == "       09:00 olga         No answer — First call: no answer"
