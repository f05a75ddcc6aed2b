"""Operator processes on application servers whose clocks are wrong by minutes.

Each step runs in a process of its own (multiprocessing, spawn) whose
``time.time`` is shifted by ``skew`` seconds before anything else runs, as if
the computer's clock were set wrong: the engine, the lock protocol and every
library in that process see the wrong time. The protocol's times come from
``engine.now()``, as the app takes them (tests/storage/test_server_clock.py
checks that they are the database server's, whatever the skew). Each step
writes what it saw to a JSON file for the test to judge.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from storage.engine import open_engine
from storage.locks import Claim, LockLost, claim_row, finish_call, inspect_row, remove_stale_locks
from storage.policy import Policy
from storage.rows import RowKey
from storage.sessions import Session, heartbeat, start_session


def shift_clock(skew: float) -> None:
    """Make this process's computer clock wrong by ``skew`` seconds."""
    true_time = time.time
    time.time = lambda: true_time() + skew


def clocks(now: int) -> dict[str, int]:
    """The engine's time next to this computer's own (skewed) clock."""
    return {"engine_now": now, "own_clock": int(time.time())}


def claim(location: str, policy: Policy, operator: str, key: RowKey, skew: float, out: str) -> None:
    """Start a session, claim ``key`` and beat once, all at the engine's "now"."""
    shift_clock(skew)
    engine = open_engine(location)
    conn = engine.connect()
    try:
        session = start_session(conn, operator, engine.now())
        result = claim_row(conn, policy, session, key, engine.now())
        assert isinstance(result, Claim), result
        now = engine.now()
        heartbeat(conn, session, now)
        report = {"session": session.id, "claim": asdict(result), **clocks(now)}
    finally:
        conn.close()
    Path(out).write_text(json.dumps(report), encoding="utf-8")


def look(
    location: str,
    policy: Policy,
    operator: str,
    key: RowKey,
    skew: float,
    out: str,
    *,
    take_over: bool = False,
) -> None:
    """Start a session and activate ``key`` as the app does (C10/C11 at the engine's "now");
    try to claim it, confirming a take-over of a stale lock when ``take_over``; then the
    timer's sweep of stale locks of gone sessions."""
    shift_clock(skew)
    engine = open_engine(location)
    conn = engine.connect()
    try:
        session = start_session(conn, operator, engine.now())
        now = engine.now()
        state = inspect_row(conn, policy, session, key, now)
        seen = None if state.lock is None else asdict(state.lock)
        offered = state.lock if take_over and state.lock and state.lock.offers_takeover else None
        result = claim_row(conn, policy, session, key, engine.now(), take_over=offered)
        claimed: dict[str, Any] | None = None
        refusal: str | None = None
        if isinstance(result, Claim):
            claimed = asdict(result)
        else:
            refusal = result.reason
        swept = remove_stale_locks(conn, policy, session, engine.now())
        report = {
            "session": session.id,
            "lock": seen,
            "removed": state.removed_stale_lock,
            "claim": claimed,
            "refusal": refusal,
            "swept": swept,
            **clocks(now),
        }
    finally:
        conn.close()
    Path(out).write_text(json.dumps(report), encoding="utf-8")


def finish(
    location: str,
    policy: Policy,
    operator: str,
    session_id: int,
    held: dict[str, Any],
    skew: float,
    out: str,
) -> None:
    """Save the outcome of a call claimed earlier (``held``, the claim as ``claim`` wrote it)."""
    shift_clock(skew)
    engine = open_engine(location)
    conn = engine.connect()
    key = RowKey(**held["key"])
    claimed = Claim(key, held["client_id"], held["session_id"], held["epoch"], held["since"])
    try:
        finish_call(
            conn, policy, Session(session_id, operator), claimed, "confirmed", "", engine.now()
        )
        report = {"saved": True, "said": ""}
    except LockLost as lost:
        report = {"saved": False, "said": str(lost)}
    finally:
        conn.close()
    Path(out).write_text(json.dumps(report), encoding="utf-8")
