"""The client pane (C2): who the active row is about, what happened before, the lock state.

Seven lines: name and age; phones; what this call is about (the appointment to
confirm, the call list's note, the task's title); the client's other upcoming
appointments; the last two entries of the row's history; other rows on the
same phone. Each line is cut with "…" rather than wrapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import set_cell_size
from rich.text import Text

from storage.clients import Appointment, Client, Note
from storage.families import FamilyRow
from storage.locks import RowState
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM
from storage.sources import Subject
from tui.formats import (
    age_text,
    duration_text,
    fit,
    local,
    lock_state,
    moment_text,
    phone_text,
    refusal_text,
    status_text,
    task_kind_text,
    when,
)
from tui.i18n import _, current_language
from tui.safe_text import safe_text
from tui.same_phone import family_line
from tui.steady import SteadyText


@dataclass(frozen=True)
class Activation:
    """Everything activating a row read from the database, in one go."""

    state: RowState
    client: Client | None
    upcoming: list[Appointment]
    history: list[Note]
    family: tuple[FamilyRow, ...] = ()  # other open rows on this client's phone (B6)
    subject: Subject | None = None  # what the call is about


def outcome_label(policy: Policy, code: str | None) -> str:
    """The outcome's label from the policy, in the language of the screens."""
    if code is None:
        return ""
    try:
        return safe_text(policy.outcome(code).label(current_language()))
    except KeyError:
        return safe_text(code)  # an outcome the policy no longer has


def note_line(note: Note, policy: Policy, now: int) -> Text:
    """One line of the row's history: when, who wrote it, what it says."""
    line = Text(f"{when(note.at, policy, now):>11} ", style="dim")
    if note.event == "stale-lock":
        # Written by whoever saw the stale lock (or the system), not by its holder.
        writer = safe_text(note.written_by) if note.written_by else _("system")
        line.append(set_cell_size(fit(writer, 12), 12) + " ")
        line.append(
            _("Locked by {operator} since {since} for over {duration}").format(
                operator=safe_text(note.operator),
                since=moment_text(note.lock_since, policy, now),
                duration=duration_text(policy.stale_after),
            ),
            style="italic",
        )
        return line
    line.append(set_cell_size(fit(safe_text(note.operator), 12), 12) + " ")
    if note.event == "note":
        line.append(_("Note"), style="bold")
    else:
        line.append(outcome_label(policy, note.outcome), style="bold")
    if note.comment:
        line.append(" — " + safe_text(note.comment))
    return line


def visit_text(visit: Appointment, policy: Policy, now: int) -> str:
    """ "27.11 09:30 Check-up · Dr. Wilson (unconfirmed)": compact, the service early."""
    return (
        f"{when(visit.starts_at, policy, now)} {safe_text(visit.service)} · "
        f"{safe_text(visit.doctor)} ({safe_text(status_text(visit.status))})"
    )


def subject_line(subject: Subject, policy: Policy, now: int) -> Text:
    """Why this call: the appointment to confirm, the call list's note, the task's title.

    Its own line, first after the phones, so that it shows whole at 80 columns.
    """
    line = Text()
    if subject.kind == APPOINTMENT:
        line.append(_("Confirm:") + " ", style="bold")
        line.append(
            f"{when(subject.at, policy, now)} {safe_text(subject.title)} · "
            f"{safe_text(subject.detail)}"
        )
        # Every row of this list is still to confirm: only a later status says more
        # ("left message"), and leaving the first one out keeps the line within 80 columns.
        if policy.statuses and subject.status != policy.statuses[0]:
            line.append(f" ({safe_text(status_text(subject.status))})")
    elif subject.kind == ITEM:
        line.append(safe_text(subject.title) + ":", style="bold")
        line.append(" " + (safe_text(subject.detail) or _("no note")))
    else:
        line.append(
            _("Task ({kind}, due {time}):").format(
                kind=task_kind_text(subject.title), time=when(subject.at, policy, now)
            ),
            style="bold",
        )
        line.append(" " + (safe_text(subject.detail) or _("no title")))
    return line


def state_text(state: RowState, policy: Policy, now: int) -> str:
    """The lock/state line: what pressing c would do, or why it cannot.

    This session's call under way comes first: whatever happened to the row meanwhile
    (its call list closed, say), f still saves the result and a aborts. A call left
    open by the operator's earlier session on a row that cannot be called now must
    still say that a aborts it: nothing else frees the row before the lock is stale.
    """
    if state.lock is not None and state.lock.mine:
        return lock_state(state.lock, policy, now)
    if state.lock is not None and state.lock.mine_earlier and state.refusal is not None:
        return _(
            "Locked by you in an earlier session — cannot be called now; a aborts (since {since})"
        ).format(since=moment_text(state.lock.since, policy, now))
    if state.refusal is not None:
        return refusal_text(state.refusal, policy, now)
    if state.lock is not None:
        return lock_state(state.lock, policy, now)
    if state.removed_stale_lock:
        return _("Free — the stale lock of {operator} was removed; c to start the call").format(
            operator=safe_text(state.removed_stale_lock)
        )
    return _("Free — c to start the call")


class ClientPane(SteadyText):
    """Shows an Activation; repaints only when what it shows changes."""

    def show_activation(self, activation: Activation | None, policy: Policy, now: int) -> None:
        if activation is None or activation.client is None:
            self.show(Text(_("No row selected."), style="dim"))
            return
        client = activation.client
        text = Text()
        text.append(safe_text(client.name), style="bold")
        age = client.age(local(now, policy).date())
        if age is not None:
            text.append(", " + age_text(age))
        if client.do_not_call:
            text.append("  " + _("DO NOT CALL"), style="bold reverse")
        text.append("\n")
        phones = "   ".join(
            f"{n} {safe_text(phone_text(p))}" for n, p in enumerate(client.phones[:9], 1)
        )
        text.append((phones or _("no phone number")) + "\n")
        if activation.subject is not None:
            text.append_text(subject_line(activation.subject, policy, now))
        text.append("\n")
        if activation.upcoming:
            visits = "; ".join(visit_text(a, policy, now) for a in activation.upcoming)
            text.append(_("Next: {visits}").format(visits=visits) + "\n")
        elif activation.subject is not None and activation.subject.kind == APPOINTMENT:
            text.append(_("No other upcoming appointments") + "\n", style="dim")
        else:
            text.append(_("No upcoming appointments") + "\n", style="dim")
        if activation.history:
            for note in activation.history:
                text.append_text(note_line(note, policy, now))
                text.append("\n")
        else:
            text.append(_("Not called before") + "\n", style="dim")
        if activation.family:
            text.append_text(family_line(activation.family, policy, now))
        text.rstrip()
        self.show(text)
