"""Clinic databases for the benchmarks, written with plain ``executemany`` in one transaction.

:func:`build_call_list` makes a clinic whose only work list with rows is one
call list of ``rows`` pending items, one client each: Russian and Latin names,
one to three phone numbers, and (``history``) an earlier unsuccessful call with
a comment on every tenth row and an upcoming appointment for every fifth
client, so that activation reads what it reads in a real clinic.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from storage import demo_data
from storage.changes import bulk_load
from storage.database import open_database, write

LIST_NAME = "Hygiene recall, 6 months"
DAY = 24 * 3600

SURNAMES = demo_data.SURNAMES[:14]  # the demo's first surnames, as before
FIRST = (
    "Александр",
    "Мария",
    "Сергей",
    "Елена",
    "Дмитрий",
    "Анна",
    "Андрей",
    "Ольга",
    "Алексей",
    "Наталья",
    "Максим",
    "Татьяна",
)
LATIN = ("John Smith", "Anna Kowalski", "Peter Miller", "Laura Rossi", "Jan Novak")
COMMENTS = (
    "No answer, try after lunch",
    "Попросил перезвонить вечером",
    "Busy, call back tomorrow",
    "Автоответчик",
)


def build_call_list(path: Path, rows: int, *, history: bool = True, seed: int = 1) -> int:
    """Write the clinic described in the module docstring; returns the call list's id."""
    rng = random.Random(seed)
    now = int(time.time())
    conn = open_database(path, create=True)
    try:
        with write(conn), bulk_load(conn):
            clients, phones, items = [], [], []
            for n in range(1, rows + 1):
                if n % 7 == 0:
                    name = rng.choice(LATIN)
                else:
                    name = f"{rng.choice(SURNAMES)} {rng.choice(FIRST)}"
                born = (
                    f"{rng.randint(1940, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                )
                clients.append((n, f"C-{n}", name, born, f"client{n}@example.ru"))
                for position in range(1, rng.choice((1, 1, 2, 3)) + 1):
                    number = (
                        f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-"
                        f"{rng.randint(10, 99)}-{rng.randint(10, 99)}"
                    )
                    phones.append((n, position, number, "".join(filter(str.isdigit, number))))
                items.append((n, 1, n, "Last visit in May"))
            conn.executemany(
                "INSERT INTO clients (id, external_id, name, birth_date, email)"
                " VALUES (?, ?, ?, ?, ?)",
                clients,
            )
            conn.executemany(
                "INSERT INTO phones (client_id, position, number, digits) VALUES (?, ?, ?, ?)",
                phones,
            )
            conn.execute(
                "INSERT INTO call_lists (id, name, created_at, created_by)"
                " VALUES (1, ?, ?, 'root')",
                (LIST_NAME, now - 7 * DAY),
            )
            conn.executemany(
                "INSERT INTO call_list_items (id, list_id, client_id, note) VALUES (?, ?, ?, ?)",
                items,
            )
            if history:
                _add_history(conn, rng, rows, now)
    finally:
        conn.close()
    return 1


def _add_history(conn: sqlite3.Connection, rng: random.Random, rows: int, now: int) -> None:
    earlier = now - 3 * DAY
    session = conn.execute(
        "INSERT INTO sessions (operator, pid, host, tty, started_at, heartbeat_at, ended_at)"
        " VALUES ('olga', 1, 'clinic', '', ?, ?, ?) RETURNING id",
        (earlier - 3600, earlier, earlier),
    ).fetchone()[0]
    called = range(1, rows + 1, 10)
    conn.executemany(
        "INSERT INTO call_rows (kind, source_id, client_id, epoch, failed_attempts,"
        " last_attempt_at, not_before) VALUES ('item', ?, ?, 1, 1, ?, ?)",
        [(n, n, earlier, earlier + 3600) for n in called],
    )
    conn.executemany(
        "INSERT INTO attempts (kind, source_id, client_id, operator, session_id, started_at,"
        " ended_at, mode, outcome, comment) VALUES ('item', ?, ?, 'olga', ?, ?, ?, 'manual',"
        " 'no-answer', ?)",
        [(n, n, session, earlier - 60, earlier, rng.choice(COMMENTS)) for n in called],
    )
    conn.executemany(
        "INSERT INTO appointments (client_id, starts_at, doctor, service, status)"
        " VALUES (?, ?, 'Орлова Е. В.', 'Профессиональная гигиена', 'unconfirmed')",
        [(n, now + rng.randint(5, 60) * DAY) for n in range(1, rows + 1, 5)],
    )
