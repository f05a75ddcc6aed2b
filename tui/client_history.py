"""The client summary (appointments, attempts and tasks over time) and current requests.

Keys: arrows and PageUp/PageDown scroll; Escape closes.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from storage.clients import (
    Appointment,
    Task,
    appointments,
    attempts,
    current_requests,
    get_client,
    tasks,
)
from storage.connection import Connection
from tui.client_pane import outcome_label
from tui.desk import AtTheDesk, Desk
from tui.formats import full_time as time_text
from tui.formats import status_text, task_kind_text
from tui.i18n import N_, _
from tui.safe_text import safe_text


def full_time(moment: int | None, desk: Desk) -> str:
    return time_text(moment, desk.policy)


class ClientDialog(AtTheDesk, ModalScreen[None]):
    """A scrolling text about one client, made by ``read`` in a worker."""

    BINDINGS = [Binding("escape", "close", N_("Close"))]

    def __init__(
        self,
        client_id: int,
        heading: str,
        read: Callable[[Connection, Desk, int], Text],
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.heading = heading
        self.read = read

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text(self.heading), classes="dialog-title")
            with VerticalScroll(id="history-scroll"):
                yield Static(Text(_("Reading…")), id="history-text")
            yield Static(Text(_("Escape to close")), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#history-scroll").focus()
        self.load()

    def load(self) -> None:
        desk = self.desk
        self.on_database(
            lambda conn: self.read(conn, desk, self.client_id),
            self.show,
            lambda error: self.show(Text(safe_text(str(error), keep_newlines=True))),
            group="client-history",
        )

    def show(self, text: Text) -> None:
        self.query_one("#history-text", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)


def _appointment_line(a: Appointment, desk: Desk) -> str:
    return (
        f"{full_time(a.starts_at, desk)}  {safe_text(a.service)} · {safe_text(a.doctor)}"
        f" ({safe_text(status_text(a.status))})"
    )


def _task_line(t: Task, desk: Desk) -> str:
    state = _("done {date}").format(date=full_time(t.done_at, desk)) if t.done_at else _("open")
    kind = safe_text(task_kind_text(t.kind))
    return f"{full_time(t.due_at, desk)}  {kind}: {safe_text(t.title)} — {state}"


def summary_text(conn: Connection, desk: Desk, client_id: int) -> Text:
    """History of the client's appointments, call attempts and tasks."""
    client = get_client(conn, client_id)
    text = Text(safe_text(client.name) if client else "", style="bold")
    text.append("\n\n" + _("Appointments") + "\n", style="bold underline")
    booked = appointments(conn, client_id)
    for a in reversed(booked):
        text.append(_appointment_line(a, desk) + "\n")
    if not booked:
        text.append(_("none") + "\n", style="dim")
    text.append("\n" + _("Calls") + "\n", style="bold underline")
    calls = attempts(conn, client_id)
    for call in calls:
        text.append(
            f"{full_time(call.ended_at, desk)}  {safe_text(call.operator)}  "
            f"{outcome_label(desk.policy, call.outcome)}"
        )
        if call.comment:
            text.append(" — " + safe_text(call.comment))
        text.append("\n")
    if not calls:
        text.append(_("none") + "\n", style="dim")
    text.append("\n" + _("Tasks") + "\n", style="bold underline")
    to_do = tasks(conn, client_id)
    for t in to_do:
        text.append(_task_line(t, desk) + "\n")
    if not to_do:
        text.append(_("none") + "\n", style="dim")
    return text


def requests_text(conn: Connection, desk: Desk, client_id: int) -> Text:
    """The client's upcoming appointments and open tasks."""
    client = get_client(conn, client_id)
    requests = current_requests(conn, desk.policy, client_id, desk.now())
    text = Text(safe_text(client.name) if client else "", style="bold")
    text.append("\n\n" + _("Upcoming appointments") + "\n", style="bold underline")
    for a in requests.appointments:
        text.append(_appointment_line(a, desk) + "\n")
    if not requests.appointments:
        text.append(_("none") + "\n", style="dim")
    text.append("\n" + _("Open tasks") + "\n", style="bold underline")
    for t in requests.tasks:
        text.append(_task_line(t, desk) + "\n")
    if not requests.tasks:
        text.append(_("none") + "\n", style="dim")
    return text
