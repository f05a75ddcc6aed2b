"""The audit trail: every lock event and card edit, each entry chained to the one before.

Each entry stores ``prev_hash`` (the hash of the entry before it; 64 zeros for
the first) and ``hash``, the SHA-256 of ``prev_hash`` followed by the entry's
content (:func:`entry_hash`). :func:`audit` reads the newest entry's hash
inside the caller's write transaction, so entries written by
several operators at once still form one line. Ids are never reused, and the
database remembers the highest id ever given (:func:`highest_id`; SQLite's
AUTOINCREMENT, PostgreSQL's identity sequence), which shows when the newest
entries were deleted.

:func:`verify_chain` (``ringround check``) walks the entries in id order and
names the first one that was changed, removed or moved. What this proves and
what it does not: docs/audit.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from storage import admin_log
from storage.connection import Connection, execute_soon, preparable
from storage.i18n import _
from storage.id_sequences import highest_id_given, highest_id_goes_back_with_a_failed_save
from storage.rows import RowKey

# Lock events the administrator's log also gets (storage.admin_log), once committed:
# someone's lock was removed or passed to another session.
LOGGED_EVENTS = frozenset({"auto-removal", "takeover", "release-by-supervisor"})
GENESIS = "0" * 64  # the prev_hash of the first entry
_BATCH = 5000  # entries read at a time while verifying

Content = tuple[int, str, int | None, str, str | None, int | None, int | None, str]
# Made once: json.dumps with options builds an encoder for every call (inside the writers' turn).
_CONTENT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_DETAIL_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def entry_hash(prev_hash: str, content: Content) -> str:
    """SHA-256 (hex) of the previous entry's hash and this entry's content.

    ``content`` is (at, operator, session_id, event, kind, source_id,
    client_id, detail) exactly as stored; JSON keeps their types apart, so a
    number changed into text is a change too.
    """
    return hashlib.sha256((prev_hash + _payload(content)).encode("utf-8")).hexdigest()


def _payload(content: Content) -> str:
    """The text :func:`entry_hash` hashes after the previous hash."""
    return _CONTENT_JSON.encode(content)


def head_hash(conn: Connection) -> str:
    """The newest entry's hash (one read of the id index's last entry)."""
    row = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return GENESIS if row is None else str(row[0])


def audit(
    conn: Connection,
    now: int,
    operator: str,
    session_id: int | None,
    event: str,
    key: RowKey | None = None,
    client_id: int | None = None,
    **detail: object,
) -> None:
    """Append one entry; only inside a write transaction (storage.engine.write).

    The previous hash must be read in the same write transaction
    as the insert: otherwise two operators saving at once could both chain to
    the same entry. On PostgreSQL the insert reads it itself.
    """
    if not conn.in_transaction:
        raise RuntimeError("an audit entry must be written inside a write transaction")
    content: Content = (
        now,
        operator,
        session_id,
        event,
        key.kind if key else None,
        key.source_id if key else None,
        client_id,
        _DETAIL_JSON.encode(detail) if detail else "",
    )
    if event in LOGGED_EVENTS:
        admin_log.after_commit(
            conn,
            logging.WARNING,
            f"lock-{event}",
            operator=operator,
            session=session_id,
            row=key,
            client=client_id,
            **detail,
        )
    if isinstance(conn, sqlite3.Connection):
        prev = head_hash(conn)
        conn.execute(
            "INSERT INTO audit (at, operator, session_id, event, kind, source_id, client_id,"
            " detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*content, prev, entry_hash(prev, content)),
        )
        return
    # A database server reads the newest hash and hashes the entry (as entry_hash does:
    # SHA-256 of the UTF-8 of the previous hash and the payload) in the statement that
    # adds it, so it can go with the write's next statement (execute_soon): no round trip.
    execute_soon(
        conn,
        preparable(
            "INSERT INTO audit (at, operator, session_id, event, kind, source_id, client_id,"
            " detail, prev_hash, hash) SELECT ?, ?, ?, ?, ?, ?, ?, ?, head.hash,"
            " encode(sha256(convert_to(head.hash || ?, 'UTF8')), 'hex') FROM (SELECT"
            " coalesce((SELECT hash FROM audit ORDER BY id DESC LIMIT 1), ?) AS hash) head"
        ),
        (*content, _payload(content), GENESIS),
    )


@dataclass(frozen=True)
class Entry:
    """One stored audit entry, as the verifier reads it."""

    id: int
    content: Content
    prev_hash: str
    hash: str

    @property
    def at(self) -> int:
        return self.content[0]

    @property
    def operator(self) -> str:
        return self.content[1]

    @property
    def event(self) -> str:
        return self.content[3]


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found."""

    entries: int
    head: Entry | None  # the newest entry, None for an empty trail
    problem: str | None  # the first break, as a sentence; None when the chain is whole
    # Ids given out after the newest entry that no entry holds, where that may be no more
    # than the engine's way (storage.id_sequences): a warning, not a break. (first, last)
    unheld: tuple[int, int] | None = None


Describe = Callable[[Entry], str]  # "17 (2026-12-04 10:31, alice, claim)": an entry for people


def _entries(conn: Connection) -> Iterator[Entry]:
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, at, operator, session_id, event, kind, source_id, client_id, detail,"
            " prev_hash, hash FROM audit WHERE id > ? ORDER BY id LIMIT ?",
            (last, _BATCH),
        ).fetchall()
        for row in rows:
            yield Entry(row[0], tuple(row[1:9]), row[9], row[10])
        if len(rows) < _BATCH:
            return
        last = rows[-1][0]


def _missing(first: int, last: int) -> str:
    if first == last:
        return _("audit entry {id} is missing (deleted)").format(id=first)
    return _("audit entries {first} to {last} are missing (deleted)").format(first=first, last=last)


def _break(entry: Entry, before: Entry | None, describe: Describe) -> str | None:
    """Why ``entry`` does not continue the chain after ``before`` (None: it does)."""
    if entry_hash(entry.prev_hash, entry.content) != entry.hash:
        return _("audit entry {entry} was changed after it was written").format(
            entry=describe(entry)
        )
    expected = GENESIS if before is None else before.hash
    if entry.prev_hash == expected:
        return None
    first_missing = 1 if before is None else before.id + 1
    if entry.id > first_missing:
        return _missing(first_missing, entry.id - 1)
    return _(
        "audit entry {entry} does not follow entry {before}: entries were reordered, or "
        "one was rewritten or removed and the rest renumbered"
    ).format(entry=describe(entry), before=before.id if before is not None else 0)


def highest_id(conn: Connection) -> int:
    """The highest audit id ever given, even if that entry was deleted since (0 for none)."""
    return highest_id_given(conn, "audit")


def verify_chain(conn: Connection, describe: Describe) -> ChainReport:
    """Walk the whole trail in id order; report the first break, or the newest entry."""
    count = 0
    before: Entry | None = None
    for entry in _entries(conn):
        problem = _break(entry, before, describe)
        if problem is not None:
            return ChainReport(count, before, problem)
        count += 1
        before = entry
    highest = highest_id(conn)
    newest = before.id if before is not None else 0
    if highest > newest:
        if highest_id_goes_back_with_a_failed_save(conn):
            return ChainReport(count, before, _missing(newest + 1, highest))
        return ChainReport(count, before, None, (newest + 1, highest))
    return ChainReport(count, before, None)


def chain_existing(conn: Connection) -> None:
    """Give every entry of an unchained trail its hashes, in id order (schema migration 3)."""
    prev = GENESIS
    last = 0
    while rows := conn.execute(
        "SELECT id, at, operator, session_id, event, kind, source_id, client_id, detail"
        " FROM audit WHERE id > ? ORDER BY id LIMIT ?",
        (last, _BATCH),
    ).fetchall():
        updates = []
        for row in rows:
            digest = entry_hash(prev, tuple(row[1:]))
            updates.append((prev, digest, row[0]))
            prev = digest
        conn.executemany("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", updates)
        last = rows[-1][0]
