"""Call lists: their counts, and closing, reopening and deleting them (B7, B8).

Lists are made (and filled) by importing a CSV file (storage.imports, kind
"call-list"). Closing, reopening and deleting need the supervisor role: the
functions here check ``session.supervisor`` themselves and raise
:class:`storage.errors.NotAllowed` otherwise. Every change is audited
(events ``list-close``, ``list-reopen``, ``list-delete``; ``list-create`` is
written by the import).

An item's state:

- pending: not processed, and its call row is not closed (it is on the work list
  while the list is open);
- processed: a call completed it (``processed_at`` set);
- given up: its call row was closed without completing it (wrong number,
  do not call, the attempt cap).
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.audit import audit
from storage.connection import Connection
from storage.engine import write
from storage.errors import BadInput, NotAllowed, RingroundError
from storage.i18n import _, ngettext
from storage.rows import ITEM
from storage.sessions import Session
from storage.shown import in_quotes


class NoSuchList(BadInput):
    """There is no call list of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(_("There is no call list named '{name}'.").format(name=in_quotes(name)))
        self.name = name


class ListInUse(RingroundError):
    """The list cannot be deleted now; the message says why and what to do instead."""


@dataclass(frozen=True)
class CallListSummary:
    id: int
    name: str
    created_at: int
    created_by: str
    closed_at: int | None
    items: int
    pending: int
    processed: int
    given_up: int

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


_SUMMARY_SQL = """
    SELECT l.id, l.name, l.created_at, l.created_by, l.closed_at,
        count(i.id),
        count(i.id) FILTER (WHERE i.processed_at IS NULL AND r.closed_at IS NULL),
        count(i.id) FILTER (WHERE i.processed_at IS NOT NULL),
        count(i.id) FILTER (WHERE i.processed_at IS NULL AND r.closed_at IS NOT NULL)
    FROM call_lists l
    LEFT JOIN call_list_items i ON i.list_id = l.id
    LEFT JOIN call_rows r ON r.kind = 'item' AND r.source_id = i.id
"""


def list_summaries(conn: Connection) -> list[CallListSummary]:
    """Every call list, open ones first, then by name, with its item counts."""
    rows = conn.execute(
        _SUMMARY_SQL + " GROUP BY l.id ORDER BY l.closed_at IS NOT NULL,"
        " l.name COLLATE NOCASE, l.id"
    ).fetchall()
    return [CallListSummary(*row) for row in rows]


def find_list(conn: Connection, name: str) -> CallListSummary:
    """The list called exactly ``name``; NoSuchList otherwise."""
    row = conn.execute(_SUMMARY_SQL + " WHERE l.name = ? GROUP BY l.id", (name,)).fetchone()
    if row is None:
        raise NoSuchList(name)
    return CallListSummary(*row)


def _require_supervisor(session: Session, doing: str) -> None:
    if not session.supervisor:
        raise NotAllowed(
            _("Only a supervisor may {doing}; {operator} is not one.").format(
                doing=doing, operator=session.operator
            )
        )


def close_list(conn: Connection, session: Session, name: str, now: int) -> CallListSummary:
    """Close the list: its pending items leave the work lists (nothing else changes).

    Closing a closed list changes nothing. Operators calling one of its rows
    right now may still finish the call; the outcome is recorded as usual.
    """
    _require_supervisor(session, _("close a call list"))
    with write(conn):
        found = find_list(conn, name)
        if found.is_open:
            conn.execute("UPDATE call_lists SET closed_at = ? WHERE id = ?", (now, found.id))
            audit(
                conn,
                now,
                session.operator,
                session.id,
                "list-close",
                None,
                None,
                list=found.name,
                list_id=found.id,
                pending=found.pending,
            )
    return find_list(conn, name)


def reopen_list(conn: Connection, session: Session, name: str, now: int) -> CallListSummary:
    """Open a closed list again: its pending items are back on the work lists."""
    _require_supervisor(session, _("reopen a call list"))
    with write(conn):
        found = find_list(conn, name)
        if not found.is_open:
            conn.execute("UPDATE call_lists SET closed_at = NULL WHERE id = ?", (found.id,))
            audit(
                conn,
                now,
                session.operator,
                session.id,
                "list-reopen",
                None,
                None,
                list=found.name,
                list_id=found.id,
                closed_at=found.closed_at,
            )
    return find_list(conn, name)


def delete_list(conn: Connection, session: Session, name: str, now: int) -> int:
    """Delete the list and its items; returns how many items went with it.

    Meant for a list made by mistake: a list with recorded calls is refused
    (close it instead, so that the calls keep their list in reports), and so
    is a list with a locked row (someone is calling it).
    """
    _require_supervisor(session, _("delete a call list"))
    with write(conn):
        found = find_list(conn, name)
        items = "SELECT id FROM call_list_items WHERE list_id = ?"
        calls = conn.execute(
            f"SELECT count(*) FROM attempts WHERE kind = ? AND source_id IN ({items})",
            (ITEM, found.id),
        ).fetchone()[0]
        if calls:
            raise ListInUse(
                ngettext(
                    "The call list '{name}' has {count} recorded call; close it instead, so that "
                    "reports keep it.",
                    "The call list '{name}' has {count} recorded calls; close it instead, so that "
                    "reports keep them.",
                    calls,
                ).format(name=in_quotes(name), count=calls)
            )
        holders = [
            row[0]
            for row in conn.execute(
                f"SELECT DISTINCT operator FROM locks WHERE kind = ? AND source_id IN ({items})"
                " ORDER BY operator",
                (ITEM, found.id),
            )
        ]
        if holders:
            raise ListInUse(
                _(
                    "Rows of the call list '{name}' are locked by {operators}; wait "
                    "for them or release the locks first."
                ).format(name=in_quotes(name), operators=", ".join(holders))
            )
        conn.execute(
            f"DELETE FROM call_rows WHERE kind = ? AND source_id IN ({items})", (ITEM, found.id)
        )
        conn.execute(
            f"DELETE FROM row_notes WHERE kind = ? AND source_id IN ({items})", (ITEM, found.id)
        )
        conn.execute("DELETE FROM call_list_items WHERE list_id = ?", (found.id,))
        conn.execute("DELETE FROM call_lists WHERE id = ?", (found.id,))
        audit(
            conn,
            now,
            session.operator,
            session.id,
            "list-delete",
            None,
            None,
            list=found.name,
            list_id=found.id,
            items=found.items,
            created_at=found.created_at,
            created_by=found.created_by,
        )
    return found.items
