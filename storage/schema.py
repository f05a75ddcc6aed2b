"""The database schema, as numbered migrations recorded in ``PRAGMA user_version``.

Times are whole seconds since 1970 (UTC); the clinic's time zone applies
only when they are shown. A call row is identified by (kind, source_id), where
kind is "appointment", "item" (of a call list) or "task".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from storage.changes import TRIGGERS

# Marks a file as a ringround database ("RiRo"), so that no other SQLite file
# is ever migrated by mistake.
APPLICATION_ID = 0x5269526F

_CHAINED_AUDIT = """
    CREATE TABLE audit_chained (
        id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: deleting the newest entries shows
        at INTEGER NOT NULL,
        operator TEXT NOT NULL,
        session_id INTEGER,
        event TEXT NOT NULL,
        kind TEXT,
        source_id INTEGER,
        client_id INTEGER,
        detail TEXT NOT NULL DEFAULT '',
        prev_hash TEXT NOT NULL,              -- the hash of the entry before (storage.audit)
        hash TEXT NOT NULL                    -- SHA-256 of prev_hash and this entry's content
    );
    INSERT INTO audit_chained (id, at, operator, session_id, event, kind, source_id, client_id,
                               detail, prev_hash, hash)
        SELECT id, at, operator, session_id, event, kind, source_id, client_id, detail, '', ''
        FROM audit ORDER BY id;
    DROP TABLE audit;
    ALTER TABLE audit_chained RENAME TO audit;
    CREATE INDEX audit_by_time ON audit(at);
"""


def _chain_audit(conn: sqlite3.Connection) -> None:
    """3: the audit trail becomes a hash chain; the entries already there are chained."""
    from storage.audit import chain_existing  # loaded only when a file this old is migrated

    for statement in _statements(_CHAINED_AUDIT):
        conn.execute(statement)
    chain_existing(conn)


# Each step is SQL, or a function for what SQL alone cannot do; all run in one transaction.
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    # 1: the clinic model, call state, locks, attempts and audit.
    """
    CREATE TABLE clients (
        id INTEGER PRIMARY KEY,
        external_id TEXT UNIQUE,
        name TEXT NOT NULL,
        birth_date TEXT,                      -- YYYY-MM-DD
        email TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '',
        do_not_call INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE phones (
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,            -- 1 is the main number
        number TEXT NOT NULL,                 -- as written
        digits TEXT NOT NULL,                 -- digits only, to find shared numbers
        PRIMARY KEY (client_id, position)
    ) WITHOUT ROWID;
    CREATE INDEX phones_by_digits ON phones(digits);

    CREATE TABLE appointments (
        id INTEGER PRIMARY KEY,
        external_id TEXT UNIQUE,
        client_id INTEGER NOT NULL REFERENCES clients(id),
        starts_at INTEGER NOT NULL,
        doctor TEXT NOT NULL DEFAULT '',
        service TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL
    );
    CREATE INDEX appointments_by_start ON appointments(starts_at);
    CREATE INDEX appointments_by_client ON appointments(client_id, starts_at);

    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        external_id TEXT UNIQUE,
        client_id INTEGER NOT NULL REFERENCES clients(id),
        kind TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        due_at INTEGER NOT NULL,
        done_at INTEGER
    );
    CREATE INDEX tasks_by_kind ON tasks(kind, done_at, due_at);
    CREATE INDEX tasks_by_client ON tasks(client_id);

    CREATE TABLE call_lists (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        closed_at INTEGER
    );
    CREATE TABLE call_list_items (
        id INTEGER PRIMARY KEY,
        list_id INTEGER NOT NULL REFERENCES call_lists(id) ON DELETE CASCADE,
        client_id INTEGER NOT NULL REFERENCES clients(id),
        note TEXT NOT NULL DEFAULT '',
        processed_at INTEGER,
        UNIQUE (list_id, client_id)
    );
    CREATE INDEX items_by_list ON call_list_items(list_id, processed_at);
    CREATE INDEX items_by_client ON call_list_items(client_id);

    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        operator TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        tty TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        ended_at INTEGER
    );

    -- Calling state of a row, made when the row is first claimed.
    CREATE TABLE call_rows (
        kind TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        client_id INTEGER NOT NULL REFERENCES clients(id),
        epoch INTEGER NOT NULL DEFAULT 0,     -- bumped by every claim: fences old owners
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at INTEGER,
        not_before INTEGER,                   -- retry delay or minimum gap
        callback_at INTEGER,
        callback_operator TEXT,               -- NULL: anyone may call back
        closed_at INTEGER,
        closed_reason TEXT,                   -- outcome code, or 'unreachable'
        PRIMARY KEY (kind, source_id)
    ) WITHOUT ROWID;

    CREATE TABLE locks (
        kind TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        client_id INTEGER NOT NULL,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        operator TEXT NOT NULL,
        since INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        stale_noted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (kind, source_id)
    ) WITHOUT ROWID;
    CREATE INDEX locks_by_session ON locks(session_id);

    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        client_id INTEGER NOT NULL REFERENCES clients(id),
        operator TEXT NOT NULL,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        started_at INTEGER NOT NULL,
        ended_at INTEGER NOT NULL,
        mode TEXT NOT NULL,                   -- 'manual', or 'pbx' with the number dialled
        number TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        callback_at INTEGER
    );
    CREATE INDEX attempts_by_row ON attempts(kind, source_id, ended_at);
    CREATE INDEX attempts_by_client ON attempts(client_id, ended_at);
    CREATE INDEX attempts_by_time ON attempts(ended_at);

    -- Notes in a row's comment history that are not attempts. The only event
    -- so far is 'stale-lock': `operator` has held the row since `since`
    -- (migration 4 adds 'note' and the columns written_by and comment).
    CREATE TABLE row_notes (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        operator TEXT NOT NULL,
        since INTEGER NOT NULL
    );
    CREATE INDEX row_notes_by_row ON row_notes(kind, source_id, at);

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        operator TEXT NOT NULL,
        session_id INTEGER,
        event TEXT NOT NULL,      -- claim, release, takeover, auto-removal, abort, card-edit...
        kind TEXT,
        source_id INTEGER,
        client_id INTEGER,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_by_time ON audit(at);
    """,
    # 2: what the stored data was made with, such as the phone rules that keyed the numbers.
    """
    CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    _chain_audit,
    # 4: who wrote each row note, and notes written by hand. A 'stale-lock' note is written
    # by whoever saw the stale lock (`written_by`; NULL for the system), not by its holder;
    # a 'note' is an operator's comment kept when their call was taken over (`operator`).
    """
    ALTER TABLE row_notes ADD COLUMN written_by TEXT;
    ALTER TABLE row_notes ADD COLUMN comment TEXT NOT NULL DEFAULT '';
    """,
    # 5: the change feed that open screens follow (storage/changes.py), filled by triggers;
    # the open call-backs, which a big list's first page is read from (worklists.first_rows).
    ";\n".join(TRIGGERS)
    + """;
    CREATE INDEX call_rows_open_callbacks ON call_rows(kind, source_id)
        WHERE callback_at IS NOT NULL AND closed_at IS NULL;
    """,
    # 6: the appointment as its claim showed it to the operator (start and doctor; NULL for
    # items and tasks, and for locks claimed before): a finish on an appointment moved
    # since saves nothing (storage/locks.py: finish_call).
    """
    ALTER TABLE locks ADD COLUMN shown_starts_at INTEGER;
    ALTER TABLE locks ADD COLUMN shown_doctor TEXT;
    """,
)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to date in one write transaction.

    The caller has refused a database made by a newer ringround
    (storage/database.py: _refuse_newer).
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= len(MIGRATIONS):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again inside the write lock: another operator may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, len(MIGRATIONS)):
            step = MIGRATIONS[number]
            if callable(step):
                step(conn)
                continue
            for statement in _statements(step):
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a migration into statements (conn.executescript would COMMIT first)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return [s for s in statements if s]
