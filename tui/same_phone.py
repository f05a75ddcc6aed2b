"""Same phone, several rows (B6) as the operator reads it.

The client pane's "Same phone:" line names the other open rows of clients who
share a number with this one (storage.families.family_rows); the result
dialog's checkbox applies the outcome to them too, and afterwards the state
line and a short message say how many were settled, and a notice lists any
that were skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from storage.families import NOT_FAMILY, FamilyFinished, FamilyRow
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM
from tui.formats import refusal_text, task_kind_text, when
from tui.i18n import _, ngettext
from tui.safe_text import safe_text


def short_name(name: str) -> str:
    """ "Иванова Мария Петровна" -> "Иванова М. П.": a family's rows fit on one line."""
    words = safe_text(name).split()
    if len(words) < 2:
        return " ".join(words)
    return " ".join([words[0], *(word[0] + "." for word in words[1:3])])


def row_about(row: FamilyRow, policy: Policy, now: int) -> str:
    """What the row is about, briefly: "appointment 27.11 10:30", a call list, a task."""
    if row.key.kind == APPOINTMENT:
        return _("appointment {time}").format(time=when(row.due, policy, now))
    if row.key.kind == ITEM:
        return safe_text(row.work_list.name)
    kind = task_kind_text(row.work_list.name)
    return f"{kind}: {safe_text(row.subject)}" if row.subject else kind


def family_line(rows: Sequence[FamilyRow], policy: Policy, now: int) -> Text:
    """ "Same phone: Иванов П. (appointment 27.11 10:30), …", locks of others named."""
    line = Text(_("Same phone:") + " ", style="bold")
    for index, row in enumerate(rows):
        if index:
            line.append(", ")
        about = row_about(row, policy, now)
        if row.lock_operator and not row.lock_mine:
            about = _("{about}, locked by {operator}").format(
                about=about, operator=safe_text(row.lock_operator)
            )
        line.append(short_name(row.client), style="bold")
        line.append(f" ({about})")
    return line


def checkbox_label(count: int) -> str:
    return ngettext(
        "Same outcome for {count} other row of this phone",
        "Same outcome for {count} other rows of this phone",
        count,
    ).format(count=count)


def saved_note(finished: FamilyFinished) -> str:
    """For the state line after a family save ("" when the checkbox was not ticked)."""
    parts = []
    if finished.settled:
        parts.append(
            ngettext(
                "Also saved for {count} other row of this phone.",
                "Also saved for {count} other rows of this phone.",
                len(finished.settled),
            ).format(count=len(finished.settled))
        )
    if finished.skipped:
        parts.append(
            ngettext("{count} row skipped.", "{count} rows skipped.", len(finished.skipped)).format(
                count=len(finished.skipped)
            )
        )
    return " ".join(parts)


def skipped_text(
    finished: FamilyFinished, shown: Sequence[FamilyRow], policy: Policy, now: int
) -> str:
    """One line per skipped row: whose, about what, and why it was left alone."""
    rows = {row.key: row for row in shown}
    settled = len(finished.settled)
    lines = [
        ngettext(
            "Saved for this call and {count} other row of this phone.",
            "Saved for this call and {count} other rows of this phone.",
            settled,
        ).format(count=settled)
        if settled
        else _("Saved for this call only."),
        _("Left as they are:"),
    ]
    for skip in finished.skipped:
        row = rows.get(skip.key)
        who = short_name(skip.client or (row.client if row else str(skip.key)))
        if row is not None:
            who += f" ({row_about(row, policy, now)})"
        if skip.refusal.reason == NOT_FAMILY:
            why = _("no longer open, or no longer on this phone")
        else:
            why = refusal_text(skip.refusal, policy, now)
        lines.append(f"• {who}: {why}")
    return "\n".join(lines)
