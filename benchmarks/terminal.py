"""The real program on a real pseudo-terminal at 80×24: bytes written, start-up, memory.

Everything here runs the installed ``ringround`` command as an operator
would, in a pty (tests/pty_app.py), and counts the bytes it writes to the
terminal, which is what crosses an SSH connection.

- traffic: the 100,000-row call list opened, then ``MOVES`` single cursor
  moves down (crossing several pages, so the jump scrolls are counted too),
  ``REFRESHES`` presses of ``r``, and one idle minute with no key pressed;
  each key's bytes are those written until the program has been quiet for
  ``QUIET`` seconds. The time from writing a key to the last byte of its
  answer is kept too (what the operator sees, terminal included). Each
  move's bytes are compared with the least redraw of the same change: the
  stream is replayed into a terminal emulator and the screens before and
  after the move are compared (benchmarks/screen.py).
- memory: VmHWM (peak resident set) of the same process at the end, with
  the 100,000-row list open and walked through; and of a process that opens
  the 1,000,000-row list and pages through it (``PAGES`` PageDowns, End,
  ``PAGES`` PageUps), with its resident set (VmRSS) sampled as it goes.
- start-up: from starting the command to the list picker's first paint (its
  title; the lists' counts follow), against a minimal Textual app (one
  Static) reaching its first paint, alternately, ``STARTS`` times each after
  two warm-ups of each; and, for comparison, until the counts show.
- check: ``ringround check`` (without ``--full``) from start to exit.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.operators import open_operator
from benchmarks.screen import Replay, minimal_redraw
from storage.database import open_database
from tests.pty_app import PtyApp, ringround_argv, terminal_env

MOVES = 100
REFRESHES = 10
IDLE_SECONDS = 60.0
QUIET = 0.25
STARTS = 15
PAGES = 300
FIRST_PAINT = "Mass calling"
END = b"\x1b[F"  # the End key

MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static

class Minimal(App):
    def compose(self):
        yield Static("minimal app ready")

Minimal().run()
"""


@dataclass
class Traffic:
    move_bytes: list[int] = field(default_factory=list)
    move_minimal: list[int] = field(default_factory=list)  # the least redraw of each move
    move_ms: list[float] = field(default_factory=list)  # key written -> last byte of the answer
    refresh_bytes: list[int] = field(default_factory=list)
    idle_bytes: int = 0
    idle_seconds: float = 0.0
    open_bytes: int = 0
    peak_rss_mib: float = 0.0
    exit_code: int | None = None
    session_ended: bool = False


@dataclass
class Startup:
    rows: int
    ringround_s: list[float] = field(default_factory=list)  # to the first paint
    counted_s: list[float] = field(default_factory=list)  # to the lists' counts
    minimal_s: list[float] = field(default_factory=list)


@dataclass
class Paging:
    rows: int
    rss_mib: list[float] = field(default_factory=list)  # sampled while paging
    peak_mib: float = 0.0


def _env() -> dict[str, str]:
    # Let Python cache compiled modules, as an installed program has them.
    env = terminal_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _key(app: PtyApp, key: str) -> tuple[int, float]:
    """Send a key; (bytes written in answer, ms until the last of them)."""
    mark = app.size
    app.send(key)
    sent = app.sent_at
    app.wait_quiet(QUIET)
    written = app.size - mark
    return written, max(0.0, app.last_write() - sent) * 1000 if written else 0.0


def measure_traffic(
    db: Path, idle_seconds: float = IDLE_SECONDS, say: Callable[[str], None] = print
) -> Traffic:
    result = Traffic()
    app = PtyApp([*ringround_argv(), "--db", str(db)], env=_env())
    try:
        app.wait_for("to call", timeout=60)
        app.wait_quiet(1.0)
        # The list picker: the call list is the second line.
        _key(app, "down")
        mark = app.size
        app.send("enter")
        app.wait_for(" rows", since=mark, timeout=60)
        app.wait_quiet(1.0)
        result.open_bytes = app.size - mark
        replay = Replay()
        replay.feed(app.output())
        for _ in range(MOVES):
            before, mark = replay.snapshot(), app.size
            written, ms = _key(app, "down")
            replay.feed(app.output(mark))
            result.move_bytes.append(written)
            result.move_minimal.append(minimal_redraw(before, replay.snapshot()))
            result.move_ms.append(ms)
        for _ in range(REFRESHES):
            written, _ms = _key(app, "r")
            result.refresh_bytes.append(written)
        app.wait_quiet(1.0)
        say(f"  idle for {idle_seconds:.0f} s…")
        mark, began = app.size, time.monotonic()
        time.sleep(idle_seconds)
        result.idle_bytes = app.size - mark
        result.idle_seconds = time.monotonic() - began
        result.peak_rss_mib = app.peak_rss_kib() / 1024
        app.send("escape")
        app.wait_for("to call", since=app.size, timeout=30)
        app.wait_quiet(0.5)
        app.send("q")
        result.exit_code = app.wait_exit(30)
        pid = app.pid
    finally:
        app.close()
    conn = open_database(db)
    try:
        row = conn.execute(
            "SELECT ended_at FROM sessions WHERE pid = ? ORDER BY id DESC LIMIT 1", (pid,)
        ).fetchone()
        result.session_ended = row is not None and row[0] is not None
    finally:
        conn.close()
    return result


def _time_start(argv: list[str], *ready: str) -> list[float]:
    """Seconds from start until each of ``ready`` shows, in turn."""
    app = PtyApp(argv, env=_env())
    try:
        return [app.wait_for(text, timeout=120) - app.started for text in ready]
    finally:
        app.close()


def measure_startup(db: Path, rows: int, starts: int = STARTS) -> Startup:
    ours = [*ringround_argv(), "--db", str(db)]
    minimal = [sys.executable, "-c", MINIMAL_APP]
    result = Startup(rows)
    for _ in range(2):  # warm-up: compiled modules cached, files in the page cache
        _time_start(ours, FIRST_PAINT, "to call")
        _time_start(minimal, "minimal app ready")
    for _ in range(starts):
        painted, counted = _time_start(ours, FIRST_PAINT, "to call")
        result.ringround_s.append(painted)
        result.counted_s.append(counted)
        result.minimal_s.append(_time_start(minimal, "minimal app ready")[0])
    return result


def measure_paging(db: Path, rows: int, pages: int = PAGES) -> Paging:
    """Open the list of ``db`` and page through it (module docstring); memory as it goes."""
    result = Paging(rows)
    app = open_operator(db)
    try:
        walk: list[list[str | bytes]] = [["pagedown"] * pages, [END], ["pageup"] * pages]
        for keys in walk:
            for number, key in enumerate(keys):
                app.send(key)
                time.sleep(0.01)
                if number % 25 == 0:
                    app.wait_quiet(0.1, timeout=60)
                    result.rss_mib.append(_rss_kib(app.pid) / 1024)
        app.wait_quiet(0.5, timeout=60)
        result.rss_mib.append(_rss_kib(app.pid) / 1024)
        result.peak_mib = app.peak_rss_kib() / 1024
    finally:
        app.close()
    return result


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError("no VmRSS in /proc status")


def measure_check(db: Path, times: int = 3, *options: str) -> list[float]:
    """Seconds ``ringround check`` takes on ``db`` (with ``options``), ``times`` runs."""
    took = []
    for _ in range(times):
        began = time.monotonic()
        subprocess.run(
            [*ringround_argv(), "check", "--db", str(db), *options],
            capture_output=True,
            timeout=600,
            check=False,
            env=_env(),
        )
        took.append(time.monotonic() - began)
    return took


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
