"""Fault: another program keeps a read transaction open for a long time while operators save.

A reader pins its snapshot, so no checkpoint can pass it and the WAL grows
with every save (docs/sqlite.md; measured: 4 MB to 39 MB in 6,000 writes). While it
lasts the app must keep saving; once it ends, the app's own next saves must
checkpoint and cut the WAL file back (storage.database.WAL_SIZE_LIMIT), and
the app must hold no read transaction of its own: a full checkpoint by
anyone else succeeds while it runs.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

from storage.database import WAL_SIZE_LIMIT, open_database
from storage.engine import write
from storage.locks import Claim, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import end_session, start_session
from tests.clinic_fixtures import DESK_NOW, Clock, DeskClinic, build_desk, running
from tests.operator_steps import open_first_list, save_outcome
from tests.outside_process import Outside

COLLEAGUE_ROWS = 300  # a colleague's busy morning: about 20 MB of WAL while the reader waits


def wal_size(path: Path) -> int:
    try:
        return os.stat(f"{path}-wal").st_size  # os.stat: never open() the database's files
    except FileNotFoundError:
        return 0


def add_call_list(desk: DeskClinic, count: int) -> list[int]:
    conn = open_database(desk.path)
    try:
        with write(conn):
            conn.executemany(
                "INSERT INTO clients (name) VALUES (?)", [(f"Колл {n}",) for n in range(count)]
            )
            ids = [
                r[0]
                for r in conn.execute("SELECT id FROM clients ORDER BY id DESC LIMIT ?", (count,))
            ]
            list_id = conn.execute(
                "INSERT INTO call_lists (name, created_at, created_by) VALUES"
                " ('Colleague list', ?, 'root') RETURNING id",
                (DESK_NOW,),
            ).fetchone()[0]
            return [
                conn.execute(
                    "INSERT INTO call_list_items (list_id, client_id) VALUES (?, ?) RETURNING id",
                    (list_id, client),
                ).fetchone()[0]
                for client in ids
            ]
    finally:
        conn.close()


def colleague_saves(path: Path, items: list[int]) -> None:
    """Another operator (another process's worth of work) claims and finishes every item."""
    conn = open_database(path)
    policy = default_policy()
    try:
        bob = start_session(conn, "bob", DESK_NOW)
        for item in random.Random(7).sample(items, len(items)):
            claim = claim_row(conn, policy, bob, RowKey(ITEM, item), DESK_NOW)
            assert isinstance(claim, Claim)
            finish_call(conn, policy, bob, claim, "no-answer", "Не берёт трубку " * 8, DESK_NOW)
        end_session(conn, bob, DESK_NOW)
    finally:
        conn.close()


async def test_a_long_reader_leaves_a_bounded_wal_and_a_working_app(tmp_path: Path) -> None:
    desk = build_desk(tmp_path)
    items = add_call_list(desk, COLLEAGUE_ROWS)
    app = desk.app("alice", clock=Clock())
    saved = []
    async with running(app) as pilot:
        screen = await open_first_list(pilot)
        with Outside(desk.path, "read"):
            saved.append(await save_outcome(pilot, screen, "while a report reads"))
            await asyncio.to_thread(colleague_saves, desk.path, items)
            pinned = wal_size(desk.path)
            assert pinned > 2 * WAL_SIZE_LIMIT, pinned  # no checkpoint could pass the reader
            saved.append(await save_outcome(pilot, screen, "still saving"))
        # The reader is gone: the app's own next saves checkpoint and cut the WAL back.
        saved.append(await save_outcome(pilot, screen, "after the report"))
        assert wal_size(desk.path) <= WAL_SIZE_LIMIT, (pinned, wal_size(desk.path))
        # The app, running, holds no snapshot: a full checkpoint goes all the way.
        conn = open_database(desk.path)
        try:
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        assert busy == 0 and log == done, (busy, log, done)
        assert wal_size(desk.path) == 0
        saved.append(await save_outcome(pilot, screen, "after the checkpoint"))

    comments = dict(
        desk.query(
            "SELECT source_id, comment FROM attempts"
            " WHERE kind = 'appointment' AND operator = 'alice'"
        )
    )
    assert comments == dict(
        zip(
            saved,
            ["while a report reads", "still saving", "after the report", "after the checkpoint"],
            strict=True,
        )
    )
    assert desk.query("SELECT count(*) FROM attempts WHERE operator = 'bob'") == [(COLLEAGUE_ROWS,)]
    assert desk.locks() == []
    assert desk.query("PRAGMA integrity_check") == [("ok",)]
