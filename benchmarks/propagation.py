"""Change propagation: from a colleague's commit to this operator's screen, on either engine.

One app, the real RingroundApp at 80×24 in Textual's headless driver (run
by ``App.run_test``, as in benchmarks/app_timing.py; no pty), has the call
list open, with its real change watch: on SQLite ``PRAGMA data_version``
once a second, on PostgreSQL a wake-up by the server's notification (LISTEN/
NOTIFY), then the change feed; looks at least ``QUICKEST_POLL`` apart
(tui/app.py). Another process, a colleague on a
connection of its own, claims and finishes a row on the app's screen
(``storage.locks``, outcome "confirmed"), which takes it off the list. The
clock starts when the colleague's finish has committed (``finish_call``
returned) and stops at the first screen update the app hands to its
terminal without that row (the ``App._display`` hook of
benchmarks/app_timing.py). Both processes read ``time.perf_counter``,
CLOCK_MONOTONIC, one clock for the whole machine. Between changes the
colleague waits a random 0.2–1.5 s, so that commits fall at every moment of
the app's looking cycle; after the last one the app is given ``SETTLE``
seconds to finish what the change started before it stops.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import statistics
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any

from textual.pilot import Pilot

from benchmarks.app_timing import Probe, first_rows_painted, highlight_call_list, table_of, until
from storage.engine import open_engine
from storage.locks import Claim, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import start_session
from tui.app import RingroundApp
from tui.work_screen import WorkScreen

SPAWN = multiprocessing.get_context("spawn")
GAP = (0.2, 1.5)  # seconds between changes
WAIT = 30.0  # seconds before a change counts as never shown
SETTLE = 1.0  # seconds the app has after the last change before it stops


def colleague(location: str, pipe: Pipe) -> None:
    """Finish each row the pipe names; answer with the moment the finish had committed."""
    engine = open_engine(location)
    conn = engine.connect()
    policy = default_policy()
    session = start_session(conn, "colleague", engine.now())
    while (source_id := pipe.recv()) is not None:
        claim = claim_row(conn, policy, session, RowKey(ITEM, source_id), engine.now())
        if not isinstance(claim, Claim):
            raise RuntimeError(f"row {source_id} could not be claimed: {claim}")
        finish_call(conn, policy, session, claim, "confirmed", "", engine.now())
        pipe.send(time.perf_counter())
    conn.close()


async def _open_list(pilot: Pilot[Any]) -> None:
    """Enter on the call list in the picker; wait for its rows."""
    app = await highlight_call_list(pilot)
    await pilot.press("enter")
    await until(
        pilot,
        lambda: (
            first_rows_painted(app)
            and isinstance(app.screen, WorkScreen)
            and app.screen.order is not None
            and not app.screen.partial
        ),
        "the call list's rows",
    )


async def _measure(location: str, changes: int) -> list[float]:
    engine = open_engine(location)
    conn = engine.connect()
    try:
        session = start_session(conn, "bench", engine.now())
    finally:
        conn.close()
    app = RingroundApp(location, default_policy(), session)
    ours, theirs = SPAWN.Pipe()
    worker = SPAWN.Process(target=colleague, args=(location, theirs))
    worker.start()
    rng = random.Random(1)
    times: list[float] = []
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            probe = Probe(app)
            await _open_list(pilot)
            await pilot.pause(0.5)
            for _ in range(changes):
                await asyncio.sleep(rng.uniform(*GAP))
                table = table_of(app)
                assert table is not None
                target = table.ids[1]  # on screen, and not the row under the cursor

                def gone(target: int = target) -> bool:
                    shown = table_of(app)
                    return shown is not None and target not in shown.ids

                probe.expect(gone)
                ours.send(target)
                committed = await asyncio.to_thread(ours.recv)
                shown = await probe.wait(f"row {target} leaving the list")
                times.append((shown - committed) * 1000)
            await pilot.pause(SETTLE)
    finally:
        ours.send(None)
        worker.join(WAIT)
        if worker.exitcode is None:
            worker.kill()
        app.close_database()
    if worker.exitcode != 0:
        raise RuntimeError(f"the colleague's process failed (exit code {worker.exitcode})")
    return times


def measure(location: str, changes: int) -> list[float]:
    """Milliseconds from each of ``changes`` commits to the screen (see the docstring)."""
    return asyncio.run(_measure(location, changes))


def summary(times_ms: list[float]) -> str:
    return (
        f"median {statistics.median(times_ms):.0f} ms, max {max(times_ms):.0f} ms "
        f"({len(times_ms)} changes)"
    )
