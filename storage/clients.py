"""Clients: the pane, the card (editable, audited), the summary and current requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from storage.audit import audit
from storage.connection import Connection
from storage.database import StorageError
from storage.engine import write
from storage.errors import BadInput, RingroundError
from storage.i18n import _
from storage.phones import digit_count_problem, phone_key, phone_problem, rules_signature
from storage.policy import PhoneRules, Policy
from storage.rows import RowKey
from storage.sessions import Session

EDITABLE = ("phones", "email", "notes", "do_not_call")


class ClientGone(StorageError):
    """The client was removed (by an import) while someone was editing the card."""


class BadPhone(BadInput):
    """A number written on the card that the policy's [phones] rules refuse, as an import does."""


class ChangedMeanwhile(RingroundError):
    """Another operator saved a field of this card after it was shown here."""


@dataclass(frozen=True)
class Appointment:
    id: int
    starts_at: int
    doctor: str
    service: str
    status: str


@dataclass(frozen=True)
class Task:
    id: int
    kind: str
    title: str
    due_at: int
    done_at: int | None


@dataclass(frozen=True)
class Attempt:
    key: RowKey
    operator: str
    started_at: int
    ended_at: int
    mode: str
    number: str
    outcome: str
    comment: str
    callback_at: int | None


@dataclass(frozen=True)
class Note:
    """An entry of a row's comment history: an attempt, a stale-lock note or a written note."""

    at: int
    operator: str  # who called; for a stale-lock note the lock's holder; a note's writer
    outcome: str | None  # None for the notes that are not attempts
    comment: str
    lock_since: int | None  # for a stale-lock note: since when `operator` held the row
    event: str = "attempt"  # "attempt", "stale-lock" or "note"
    written_by: str | None = None  # who noticed a stale lock (None: the system)


@dataclass(frozen=True)
class Client:
    id: int
    external_id: str | None
    name: str
    birth_date: str | None
    phones: tuple[str, ...]
    email: str
    notes: str
    do_not_call: bool

    def age(self, today: date) -> int | None:
        if not self.birth_date:
            return None
        try:
            born = date.fromisoformat(self.birth_date)
        except ValueError:
            return None
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def split_phones(text: str) -> list[str]:
    """Phone numbers written one after another, separated by ';' (the first is the main one)."""
    return [part.strip() for part in text.replace("\n", ";").split(";") if part.strip()]


def save_phones(conn: Connection, rules: PhoneRules, client_id: int, phones: list[str]) -> None:
    """Replace a client's numbers, keyed by the policy's [phones] rules (inside a write)."""
    store_phones(conn, client_id, [(number, phone_key(number, rules)) for number in phones])


def rekey_phones(conn: Connection, rules: PhoneRules) -> int:
    """Key every stored number again if the policy's [phones] rules changed since it was keyed.

    Clients sharing a phone (B6) are found by the keys, so keys made by
    other rules would hide them. Returns how many numbers got a new key;
    costs one read when the rules are the ones the numbers were keyed with.
    """
    wanted = rules_signature(rules)
    if _setting(conn, "phone_rules") == wanted:
        return 0
    with write(conn):
        if _setting(conn, "phone_rules") == wanted:  # another operator's start did it
            return 0
        changed = [
            (key, client_id, position)
            for client_id, position, number, digits in conn.execute(
                "SELECT client_id, position, number, digits FROM phones"
            )
            if (key := phone_key(number, rules)) != digits
        ]
        conn.executemany(
            "UPDATE phones SET digits = ? WHERE client_id = ? AND position = ?", changed
        )
        conn.execute(
            "INSERT INTO settings (name, value) VALUES ('phone_rules', ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (wanted,),
        )
    return len(changed)


def _setting(conn: Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def store_phones(conn: Connection, client_id: int, keyed: Sequence[tuple[str, str]]) -> None:
    """Replace a client's numbers with (number, phone key) pairs, main first (inside a write)."""
    conn.execute("DELETE FROM phones WHERE client_id = ?", (client_id,))
    conn.executemany(
        "INSERT INTO phones (client_id, position, number, digits) VALUES (?, ?, ?, ?)",
        [
            (client_id, position, number, key)
            for position, (number, key) in enumerate(keyed, start=1)
        ],
    )


def get_client(conn: Connection, client_id: int) -> Client | None:
    row = conn.execute(
        "SELECT id, external_id, name, birth_date, email, notes, do_not_call FROM clients"
        " WHERE id = ?",
        (client_id,),
    ).fetchone()
    if row is None:
        return None
    phones = tuple(
        r[0]
        for r in conn.execute(
            "SELECT number FROM phones WHERE client_id = ? ORDER BY position", (client_id,)
        )
    )
    return Client(row[0], row[1], row[2], row[3], phones, row[4], row[5], bool(row[6]))


def update_client(
    conn: Connection,
    policy: Policy,
    session: Session,
    client_id: int,
    changes: dict[str, object],
    now: int,
    *,
    shown: Client | None = None,
) -> Client:
    """Save edits of the client card; every changed field is audited with old and new value.

    ``shown`` is the client as the card showed it: a field changed since (by another
    operator's card) is not overwritten with what this card had; ChangedMeanwhile.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"these client fields cannot be edited: {', '.join(sorted(unknown))}")
    with write(conn):
        before = get_client(conn, client_id)
        if before is None:
            raise ClientGone(_("The client {id} no longer exists.").format(id=client_id))
        old: dict[str, object] = {
            "phones": list(before.phones),
            "email": before.email,
            "notes": before.notes,
            "do_not_call": before.do_not_call,
        }
        if shown is not None:
            seen: dict[str, object] = {
                "phones": list(shown.phones),
                "email": shown.email,
                "notes": shown.notes,
                "do_not_call": shown.do_not_call,
            }
            if any(old[field] != seen[field] for field in changes):
                raise ChangedMeanwhile(
                    _(
                        "Another operator changed this card meanwhile; close it (Escape) "
                        "and open it again to see their change."
                    )
                )
        for field, value in changes.items():
            if value == old[field]:
                continue
            if field == "phones":
                assert isinstance(value, list)
                numbers = [str(v) for v in value]
                for number in numbers:
                    # A number stored already (imported under other rules) stays as it is.
                    problem = number not in before.phones and (
                        phone_problem(number) or digit_count_problem(number, policy.phones)
                    )
                    if problem:
                        raise BadPhone(problem + ".")
                save_phones(conn, policy.phones, client_id, numbers)
            else:
                conn.execute(f"UPDATE clients SET {field} = ? WHERE id = ?", (value, client_id))
            audit(
                conn,
                now,
                session.operator,
                session.id,
                "card-edit",
                None,
                client_id,
                field=field,
                old=old[field],
                new=value,
            )
        after = get_client(conn, client_id)
    assert after is not None
    return after


def appointments(
    conn: Connection, client_id: int, *, after: int | None = None, limit: int = 1000
) -> list[Appointment]:
    """The client's appointments by time; with ``after``, only those starting from then."""
    rows = conn.execute(
        "SELECT id, starts_at, doctor, service, status FROM appointments WHERE client_id = ?"
        " AND starts_at >= ? ORDER BY starts_at LIMIT ?",
        (client_id, after if after is not None else -(2**62), limit),
    ).fetchall()
    return [Appointment(*row) for row in rows]


def tasks(conn: Connection, client_id: int, *, open_only: bool = False) -> list[Task]:
    rows = conn.execute(
        "SELECT id, kind, title, due_at, done_at FROM tasks WHERE client_id = ?"
        + (" AND done_at IS NULL" if open_only else "")
        + " ORDER BY due_at",
        (client_id,),
    ).fetchall()
    return [Task(*row) for row in rows]


def attempts(conn: Connection, client_id: int, *, limit: int = 1000) -> list[Attempt]:
    """The client's call attempts, newest first."""
    rows = conn.execute(
        "SELECT kind, source_id, operator, started_at, ended_at, mode, number, outcome, comment,"
        " callback_at FROM attempts WHERE client_id = ? ORDER BY ended_at DESC, id DESC LIMIT ?",
        (client_id, limit),
    ).fetchall()
    return [Attempt(RowKey(r[0], r[1]), *r[2:]) for r in rows]


def row_history(conn: Connection, key: RowKey, *, limit: int = 20) -> list[Note]:
    """The row's comment history, newest first: attempts and stale-lock notes (C6, C10)."""
    rows = conn.execute(
        "SELECT at, operator, outcome, comment, since, event, written_by FROM ("
        " SELECT ended_at AS at, id, operator, outcome, comment, NULL AS since,"
        "  'attempt' AS event, NULL AS written_by FROM attempts"
        "  WHERE kind = ? AND source_id = ?"
        " UNION ALL"
        " SELECT at, id, operator, NULL, comment, CASE event WHEN 'stale-lock' THEN since END,"
        "  event, written_by FROM row_notes WHERE kind = ? AND source_id = ?"
        ") AS history ORDER BY at DESC, id DESC LIMIT ?",
        (key.kind, key.source_id, key.kind, key.source_id, limit),
    ).fetchall()
    return [Note(*row) for row in rows]


@dataclass(frozen=True)
class Requests:
    """The client's current requests: upcoming appointments and open tasks (C2)."""

    appointments: list[Appointment]
    tasks: list[Task]


def current_requests(conn: Connection, policy: Policy, client_id: int, now: int) -> Requests:
    today = datetime.fromtimestamp(now, policy.timezone).replace(hour=0, minute=0, second=0)
    return Requests(
        appointments(conn, client_id, after=int(today.timestamp())),
        tasks(conn, client_id, open_only=True),
    )
