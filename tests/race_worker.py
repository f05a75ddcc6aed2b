"""Operator processes for the race, kill and server-restart tests (multiprocessing, spawn).

Each worker is one "app": its own connection to the database at ``location``
(a file or a postgresql:// URL), its own session and operator name, and the
fake clock the parent hands it. Busy errors are retried as the
app does. Results go to a JSON file, written only when the worker ends
normally (a SIGKILLed worker leaves the database as the only witness).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import TypeVar

from storage.database import DatabaseBusy, DatabaseUnreachable
from storage.engine import open_engine
from storage.locks import Claim, LockLost, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import end_session, start_session

T = TypeVar("T")

BUSY_GIVE_UP = 60.0  # seconds; far beyond any wait seen (docs/sqlite.md; worst seen 1.5 s)


def retrying(action: Callable[[], T]) -> T:
    """Run ``action``, again after DatabaseBusy (nothing was saved by the failed try)."""
    deadline = time.monotonic() + BUSY_GIVE_UP
    while True:
        try:
            return action()
        except DatabaseBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0, 0.005))


def claim_and_finish(
    location: str,
    operator: str,
    source_ids: list[int],
    seed: int,
    now: int,
    start: Barrier,
    out: str,
) -> None:
    """Go once through the rows in a shuffled order, confirming every row won.

    All workers start together (``start``), so that they really race.
    """
    conn = open_engine(location).connect()
    policy = default_policy()
    session = retrying(partial(start_session, conn, operator, now))
    start.wait(timeout=60)
    rng = random.Random(seed)
    order = rng.sample(source_ids, len(source_ids))
    wins: list[int] = []
    refusals: Counter[str] = Counter()
    for source_id in order:
        key = RowKey(ITEM, source_id)
        result = retrying(partial(claim_row, conn, policy, session, key, now))
        if isinstance(result, Claim):
            time.sleep(rng.uniform(0, 0.001))  # on the phone, holding the lock
            retrying(
                partial(finish_call, conn, policy, session, result, "confirmed", operator, now)
            )
            wins.append(source_id)
        else:
            refusals[result.reason] += 1
    retrying(partial(end_session, conn, session, now))
    conn.close()
    Path(out).write_text(json.dumps({"wins": wins, "refusals": refusals}), encoding="utf-8")


def claim_together(
    location: str, operator: str, source_ids: list[int], barrier: Barrier, now: int, out: str
) -> None:
    """For each row in turn: wait for all workers, then all claim it at once."""
    conn = open_engine(location).connect()
    policy = default_policy()
    session = retrying(partial(start_session, conn, operator, now))
    results: list[list[object]] = []
    for source_id in source_ids:
        key = RowKey(ITEM, source_id)
        barrier.wait(timeout=60)
        result = retrying(partial(claim_row, conn, policy, session, key, now))
        if isinstance(result, Claim):
            results.append([source_id, "won", operator])
        else:
            holder = result.lock.operator if result.lock else None
            results.append([source_id, result.reason, holder])
    conn.close()
    Path(out).write_text(json.dumps(results), encoding="utf-8")


# Outcomes the killed workers record, with their weights.
KILL_OUTCOMES = (("confirmed", 6), ("no-answer", 3), ("busy", 1))


def work_until_killed(
    location: str, operator: str, source_ids: list[int], seed: int, now: int, ready: Event
) -> None:
    """Claim and finish rows for ever, pausing briefly while holding each lock."""
    rng = random.Random(seed)
    conn = open_engine(location).connect()
    policy = default_policy()
    session = retrying(partial(start_session, conn, operator, now))
    codes = [code for code, _ in KILL_OUTCOMES]
    weights = [weight for _, weight in KILL_OUTCOMES]
    ready.set()
    while True:
        for source_id in rng.sample(source_ids, len(source_ids)):
            key = RowKey(ITEM, source_id)
            result = retrying(partial(claim_row, conn, policy, session, key, now))
            if not isinstance(result, Claim):
                continue
            time.sleep(rng.uniform(0, 0.002))  # "on the phone": a kill may land here
            outcome = rng.choices(codes, weights)[0]
            retrying(partial(finish_call, conn, policy, session, result, outcome, "", now))
        time.sleep(0.01)  # nothing left to call at this moment


def first_window(
    location: str, operator: str, source_ids: list[int], barrier: Barrier, now: int, out: str
) -> None:
    """One operator's first window: claims every row, then, row by row, saves the call at
    the very moment the second window takes it over (``second_window``)."""
    conn = open_engine(location).connect()
    policy = default_policy()
    session = retrying(partial(start_session, conn, operator, now))
    claims = {}
    for source_id in source_ids:
        result = retrying(partial(claim_row, conn, policy, session, RowKey(ITEM, source_id), now))
        assert isinstance(result, Claim), result
        claims[source_id] = result
    barrier.wait(timeout=60)  # all claimed: the second window may look
    barrier.wait(timeout=60)  # it has looked (and asked nothing)
    results: list[list[object]] = []
    for source_id in source_ids:
        barrier.wait(timeout=60)
        try:
            retrying(
                partial(finish_call, conn, policy, session, claims[source_id], "confirmed", "", now)
            )
        except LockLost as lost:
            results.append([source_id, "lost", str(lost)])
        else:
            results.append([source_id, "saved", ""])
    conn.close()
    Path(out).write_text(json.dumps({"session": session.id, "results": results}), encoding="utf-8")


def second_window(
    location: str, operator: str, source_ids: list[int], barrier: Barrier, now: int, out: str
) -> None:
    """The same operator's second window: c without a yes on every row, then a confirmed
    take-over of each row racing the first window's save."""
    conn = open_engine(location).connect()
    policy = default_policy()
    session = retrying(partial(start_session, conn, operator, now))
    barrier.wait(timeout=60)
    unasked: list[list[object]] = []
    offers = {}
    for source_id in source_ids:
        key = RowKey(ITEM, source_id)
        result = retrying(partial(claim_row, conn, policy, session, key, now))
        lock = None if isinstance(result, Claim) else result.lock
        unasked.append(
            [
                source_id,
                "won" if isinstance(result, Claim) else result.reason,
                lock is not None and lock.mine_elsewhere,
            ]
        )
        offers[source_id] = lock
    barrier.wait(timeout=60)
    raced: list[list[object]] = []
    for source_id in source_ids:
        key = RowKey(ITEM, source_id)
        barrier.wait(timeout=60)
        result = retrying(
            partial(claim_row, conn, policy, session, key, now, take_over=offers[source_id])
        )
        raced.append([source_id, "won" if isinstance(result, Claim) else result.reason])
    conn.close()
    Path(out).write_text(
        json.dumps({"session": session.id, "unasked": unasked, "raced": raced}), encoding="utf-8"
    )


# How long a worker keeps trying while the server restarts: far beyond a restart.
SERVER_GIVE_UP = 120.0


class Persisting:
    """Runs protocol steps again while the database server is away, noting what it said.

    A step that raised DatabaseUnreachable saved nothing, or (lost during its
    COMMIT) may have saved everything: running it again is safe either way,
    since a claim the session already holds is given back as it is, and a
    finish whose first try was saved finds the lock gone (LockLost), which the
    caller then settles by looking at the row.
    """

    def __init__(self) -> None:
        self.said: list[str] = []

    def __call__(self, action: Callable[[], T]) -> T:
        deadline = time.monotonic() + SERVER_GIVE_UP
        while True:
            try:
                return retrying(action)
            except DatabaseUnreachable as lost:
                self.said.append(str(lost))
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # the server is starting again; libpq would refuse at once


def work_through_restarts(
    location: str, operator: str, seed: int, now: int, ready: Event, out: str
) -> None:
    """Claim and confirm the list's open rows until none is left, through server restarts."""
    rng = random.Random(seed)
    persist = Persisting()
    engine = open_engine(location)
    conn = persist(engine.connect)
    policy = default_policy()
    session = persist(partial(start_session, conn, operator, now))
    ready.set()

    def open_rows() -> list[int]:
        rows = conn.execute("SELECT id FROM call_list_items WHERE processed_at IS NULL")
        return [int(row[0]) for row in rows]

    def saved_by_me(source_id: int) -> bool:
        return bool(
            conn.execute(
                "SELECT count(*) FROM attempts WHERE kind = ? AND source_id = ? AND session_id = ?",
                (ITEM, source_id, session.id),
            ).fetchone()[0]
        )

    wins: list[int] = []
    while waiting := persist(open_rows):
        for source_id in rng.sample(waiting, min(10, len(waiting))):
            key = RowKey(ITEM, source_id)
            result = persist(partial(claim_row, conn, policy, session, key, now))
            if not isinstance(result, Claim):
                continue
            try:
                persist(
                    partial(finish_call, conn, policy, session, result, "confirmed", operator, now)
                )
            except LockLost:
                # Only a first try whose COMMIT was cut off and yet saved ends here.
                assert persist(partial(saved_by_me, source_id)), source_id
            wins.append(source_id)
    persist(partial(end_session, conn, session, now))
    conn.close()
    Path(out).write_text(json.dumps({"wins": wins, "said": persist.said}), encoding="utf-8")
