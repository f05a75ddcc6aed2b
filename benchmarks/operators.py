"""Many operators at once: what idle ones cost, and row activation while others work.

Every app here is the installed ``ringround`` command in a pty of its own at
80×24 (tests/pty_app.py), with the call list open.

- idle: K operators sit on the list for ``IDLE_SECONDS`` while K minimal
  Textual apps (one Static) run beside them; the CPU time each process used
  meanwhile (``utime + stime`` of /proc/PID/stat, all threads) is summed per
  side, so the ratio is measured under the same load. Their heartbeats (every
  20 s each) and change polling (every second) run as always; the bytes the
  ringround apps wrote meanwhile are counted too.
- load: K working operators (processes calling storage.locks as the app does:
  claim a random row, talk ``TALK`` seconds, finish it with "confirmed" or
  "no-answer", pause ``PAUSE``, about 30 times a real operator's pace) and K
  idle apps, as above; then one more app moves its cursor ``MOVES`` times, a
  key every ``KEY_GAP`` seconds. A row activation is timed from writing the
  key to the pty until the screen, replayed in a terminal emulator
  (benchmarks/screen.py), shows the cursor on the next row and the client pane
  showing that row's phone number: what the operator sees. The row is told by
  its phone number, not by the cursor's line, which also moves when a
  colleague's row above it leaves the list.
"""

from __future__ import annotations

import multiprocessing
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import TypeVar

from benchmarks.machine import cpu_seconds
from benchmarks.screen import Replay
from storage.database import DatabaseBusy, open_database
from storage.locks import Claim, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import end_session, heartbeat, start_session
from tests.pty_app import PtyApp, ringround_argv, terminal_env

T = TypeVar("T")
SPAWN = multiprocessing.get_context("spawn")
IDLE_SECONDS = 45.0
MOVES = 60
KEY_GAP = 0.35
GIVE_UP = 10.0  # seconds: an activation not seen by then counts as this long
TALK = (1.0, 3.0)
PAUSE = (0.5, 1.5)
PHONE = re.compile(r"\+7 9\d\d \d{3}-\d\d-\d\d")
COUNTED = re.compile(r"\d rows")

MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static

class Minimal(App):
    def compose(self):
        yield Static("minimal app ready")

Minimal().run()
"""


@dataclass
class Idle:
    operators: int
    rows: int
    seconds: float = 0.0
    ringround_cpu_s: float = 0.0  # all K apps together, over ``seconds``
    minimal_cpu_s: float = 0.0
    bytes_written: int = 0  # by all K ringround apps meanwhile

    @property
    def ratio(self) -> float:
        return self.ringround_cpu_s / self.minimal_cpu_s if self.minimal_cpu_s else float("inf")

    def per_minute(self, cpu_s: float) -> float:
        return cpu_s * 60.0 / self.seconds if self.seconds else 0.0


@dataclass
class Load:
    working: int
    idle: int
    rows: int
    activations_ms: list[float] = field(default_factory=list)
    row_changes: int = 0  # claims and finishes by the working operators meanwhile
    seconds: float = 0.0


def _env() -> dict[str, str]:
    env = terminal_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def open_operator(db: Path) -> PtyApp:
    """ringround on ``db`` with its call list (the picker's second line) open and read."""
    app = PtyApp([*ringround_argv(), "--db", str(db)], env=_env())
    try:
        app.wait_for("to call", timeout=300)
        app.wait_quiet(0.5, timeout=60)
        mark = app.size
        app.send("down")
        app.wait_quiet(0.3, timeout=60)
        app.send("enter")
        app.wait_until(lambda: COUNTED.search(app.text(mark)), "the list's row count", 300)
        app.wait_quiet(0.5, timeout=60)
    except BaseException:
        app.close()
        raise
    return app


def _minimal() -> PtyApp:
    import sys

    app = PtyApp([sys.executable, "-c", MINIMAL_APP], env=_env())
    app.wait_for("minimal app ready", timeout=120)
    return app


def measure_idle(
    db: Path,
    rows: int,
    operators: int,
    seconds: float = IDLE_SECONDS,
    say: Callable[[str], None] = print,
) -> Idle:
    result = Idle(operators, rows)
    ours: list[PtyApp] = []
    minimal: list[PtyApp] = []
    try:
        for _ in range(operators):
            ours.append(open_operator(db))
            minimal.append(_minimal())
        for app in ours + minimal:
            app.wait_quiet(1.0, timeout=120)
        before = [cpu_seconds(app.pid) for app in ours], [cpu_seconds(a.pid) for a in minimal]
        marks = [app.size for app in ours]
        began = time.monotonic()
        time.sleep(seconds)
        result.seconds = time.monotonic() - began
        result.ringround_cpu_s = sum(
            cpu_seconds(a.pid) - b for a, b in zip(ours, before[0], strict=True)
        )
        result.minimal_cpu_s = sum(
            cpu_seconds(a.pid) - b for a, b in zip(minimal, before[1], strict=True)
        )
        result.bytes_written = sum(app.size - mark for app, mark in zip(ours, marks, strict=True))
    finally:
        for app in ours + minimal:
            app.close()
    say(
        f"  idle, {operators} operators, {rows:,} rows: ringround "
        f"{result.per_minute(result.ringround_cpu_s):.2f} CPU-s/min, minimal apps "
        f"{result.per_minute(result.minimal_cpu_s):.2f} ({result.ratio:.2f}×); "
        f"{result.bytes_written} B written"
    )
    return result


def working_operator(path: str, operator: str, seed: int, stop: Event, out: str) -> None:
    """One working operator at 30× a real one's pace (see the module docstring)."""
    conn = open_database(path)
    policy = default_policy()
    rng = random.Random(seed)
    session = _retry(lambda: start_session(conn, operator, int(time.time())))
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM call_list_items WHERE processed_at IS NULL"
        ).fetchall()
    ]
    changes, beat = 0, time.monotonic()
    while not stop.is_set():
        key = RowKey(ITEM, rng.choice(ids))
        claim = _retry(partial(claim_row, conn, policy, session, key, int(time.time())))
        if isinstance(claim, Claim):
            changes += 1
            stop.wait(rng.uniform(*TALK))
            outcome = rng.choice(("confirmed", "no-answer"))
            _retry(
                partial(finish_call, conn, policy, session, claim, outcome, "", int(time.time()))
            )
            changes += 1
        stop.wait(rng.uniform(*PAUSE))
        if time.monotonic() - beat > policy.heartbeat_every:
            _retry(lambda: heartbeat(conn, session, int(time.time())))
            beat = time.monotonic()
    _retry(lambda: end_session(conn, session, int(time.time())))
    conn.close()
    Path(out).write_text(str(changes), encoding="utf-8")


def _retry(action: Callable[[], T]) -> T:
    while True:
        try:
            return action()
        except DatabaseBusy:
            time.sleep(0.5)


def _activation_ms(app: PtyApp, replay: Replay, fed: int) -> tuple[float, int]:
    """Send Down; ms until the cursor is on another row and the pane shows that row's phone
    (GIVE_UP seconds when that is not seen by then: the walk goes on).

    The row is told by its phone number (each client of the benchmark's list has
    its own), not by the cursor's line: a colleague's row leaving the list above
    the cursor moves the cursor's line without a key.
    """
    fed = _caught_up(app, replay, fed)
    before = _cursor_phone(replay)
    sent = time.monotonic()
    app.send("down")
    deadline = sent + GIVE_UP
    while time.monotonic() < deadline:
        with app._changed:  # the chunks written so far, with the moment each arrived
            chunks = app.chunks[fed:]
        for arrived, data in chunks:
            fed += 1
            replay.feed(data)
            phone = _cursor_phone(replay)
            if arrived < sent or phone is None or phone == before:
                continue
            pane = "\n".join(replay.line(y) for y in range(1, 6))
            if phone in pane:
                return (arrived - sent) * 1000, fed
        time.sleep(0.002)
    return GIVE_UP * 1000, fed  # not seen: counted as GIVE_UP


def _caught_up(app: PtyApp, replay: Replay, fed: int) -> int:
    """Feed the replay what the app has written so far; returns the chunks fed."""
    with app._changed:
        chunks = app.chunks[fed:]
    for _arrived, data in chunks:
        replay.feed(data)
    return fed + len(chunks)


def _cursor_phone(replay: Replay) -> str | None:
    """The phone number on the cursor's line, if the cursor is on a row."""
    cursor = replay.reversed_line()
    found = None if cursor is None else PHONE.search(replay.line(cursor))
    return None if found is None else found.group()


def measure_load(
    db: Path,
    rows: int,
    working: int,
    idle: int,
    folder: Path,
    moves: int = MOVES,
    say: Callable[[str], None] = print,
) -> Load:
    result = Load(working, idle, rows)
    stop = SPAWN.Event()
    outs = [folder / f"working-{n}.txt" for n in range(working)]
    workers = [
        SPAWN.Process(target=working_operator, args=(str(db), f"worker{n}", n, stop, str(outs[n])))
        for n in range(working)
    ]
    idlers: list[PtyApp] = []
    measured: PtyApp | None = None
    try:
        for process in workers:
            process.start()
        for _ in range(idle):
            idlers.append(open_operator(db))
        measured = open_operator(db)
        replay = Replay()
        fed = 0
        began = time.monotonic()
        for _ in range(moves):
            ms, fed = _activation_ms(measured, replay, fed)
            result.activations_ms.append(ms)
            time.sleep(KEY_GAP)
        result.seconds = time.monotonic() - began
    finally:
        stop.set()
        for process in workers:
            process.join(60)
        for app in [*idlers, *([measured] if measured else [])]:
            app.close()
    result.row_changes = sum(int(out.read_text(encoding="utf-8")) for out in outs if out.exists())
    ordered = sorted(result.activations_ms)
    say(
        f"  load, {working} working + {idle} idle, {rows:,} rows: activation p95 "
        f"{ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms, max {ordered[-1]:.0f} ms; "
        f"{result.row_changes} claims and finishes"
    )
    return result
