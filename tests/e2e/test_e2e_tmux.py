"""End to end in a real terminal: the installed ``ringround`` command run inside tmux at 80×24.

One operator confirms one appointment of the demo clinic with keys only
(Enter, c, f, 1, a comment, Enter, Escape, q); the database must then hold
exactly that attempt, no lock of the session, and the session must be ended.
It runs on each engine: ``--db`` an SQLite file, then a ``postgresql://``
database on the tests' own server (tests/postgres_server.py).
The screen is read with ``tmux capture-pane`` and polled until it shows what
the next key needs.
"""

from __future__ import annotations

import getpass
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storage.engine import open_engine
from tests.command_env import DEFAULT_POLICY
from tests.waiting import PATIENCE, wait_until

COMMENT = "E2E tmux: confirmed by phone"
FREE = "c to start the call"


def ringround_command() -> str | None:
    """The console command installed beside this Python (a venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "ringround"
    if beside.exists():
        return str(beside)
    return shutil.which("ringround")


class Terminal:
    """A detached tmux session on a private server socket."""

    def __init__(self, socket: Path, name: str = "ringround-e2e") -> None:
        self.socket = socket
        self.name = name

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-u", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert result.returncode == 0, f"tmux {' '.join(args)}: {result.stderr}"
        return result.stdout

    def start(self, command: list[str], width: int = 80, height: int = 24) -> None:
        # The shell line stays after the app ends, so that its exit code can be read.
        line = f'{shlex.join(command)}; echo "ringround exited with $?"; sleep 120'
        self.tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(width),
            "-y",
            str(height),
            "env",
            f"RINGROUND_POLICY={DEFAULT_POLICY}",  # not this machine's (tests/command_env.py)
            "LC_ALL=C.UTF-8",
            "LANG=C.UTF-8",
            "TERM=xterm-256color",
            "sh",
            "-c",
            line,
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(
        self, condition: Callable[[str], bool], what: str, timeout: float = PATIENCE
    ) -> str:
        """Until the screen shows what ``condition`` looks for; the screen then."""
        shown = ""

        def check() -> bool:
            nonlocal shown
            shown = self.screen()
            return condition(shown)

        wait_until(check, what, timeout, details=lambda: f"the screen shows:\n{shown}")
        return shown

    def wait_for_text(self, text: str, timeout: float = PATIENCE) -> str:
        return self.wait_for(lambda shown: text in shown, repr(text), timeout)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"],
            capture_output=True,
            timeout=10,
            check=False,
        )


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (CI installs it: apt-get install tmux)")
    # A short folder of its own: tmux socket paths must stay under ~100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="rr-tmux-"))
    term = Terminal(folder / "sock")
    try:
        yield term
    finally:
        term.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def ringround() -> str:
    command = ringround_command()
    if command is None:
        pytest.skip("the ringround console command is not installed (pip install -e .)")
    result = subprocess.run(
        [command, "demo", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"`ringround demo` is not available yet: {result.stderr.strip()}")
    return command


def test_confirm_one_appointment_in_a_real_terminal(
    tmp_path: Path, terminal: Terminal, ringround: str, engine_location: str
) -> None:
    db = engine_location  # an empty database: a file, or a database on the PostgreSQL server
    policy = tmp_path / "policy.toml"
    policy.write_text('[calls]\nhours = "00:00-24:00"\n', encoding="utf-8")
    made = subprocess.run(
        [ringround, "demo", "--no-run", "--db", db, "--policy", str(policy)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    started = int(time.time())

    terminal.start([ringround, "--db", db, "--policy", str(policy)])
    terminal.wait_for_text("Appointment confirmation")
    terminal.wait_for(lambda shown: "to call" in shown, "the list counts")
    terminal.keys("Enter")
    terminal.wait_for_text("Appointment confirmation ·")  # the work screen's title
    # Demo rows may be locked by a colleague or promised to someone: go down to a free one.
    for _ in range(20):
        try:
            terminal.wait_for_text(FREE, timeout=2.0)
            break
        except AssertionError:
            terminal.keys("Down")
    else:
        raise AssertionError(f"no free row near the top:\n{terminal.screen()}")

    terminal.keys("c")
    terminal.wait_for_text("f to finish")
    terminal.keys("f")
    terminal.wait_for_text("Result of the call")
    terminal.keys("1")
    terminal.type(COMMENT)
    terminal.wait_for_text(COMMENT)
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "Result of the call" not in s, "the result dialog to close")
    terminal.keys("Escape")
    terminal.wait_for_text("Mass calling")
    terminal.keys("q")
    terminal.wait_for_text("ringround exited with 0")

    conn = open_engine(db).connect()
    try:
        attempts = conn.execute(
            "SELECT id, kind, source_id, outcome, session_id, mode FROM attempts WHERE comment = ?",
            (COMMENT,),
        ).fetchall()
        assert len(attempts) == 1, attempts
        _, kind, source_id, outcome, session_id, mode = attempts[0]
        assert (outcome, mode) == ("confirmed", "manual")
        assert conn.execute(
            "SELECT count(*) FROM attempts WHERE session_id = ?", (session_id,)
        ).fetchone() == (1,)
        assert conn.execute(
            "SELECT count(*) FROM locks WHERE session_id = ? OR (kind = ? AND source_id = ?)",
            (session_id, kind, source_id),
        ).fetchone() == (0,)
        started_at, ended_at = conn.execute(
            "SELECT started_at, ended_at FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        assert started_at >= started - 5
        assert ended_at is not None and ended_at >= started_at
        if kind == "appointment":
            assert conn.execute(
                "SELECT status FROM appointments WHERE id = ?", (source_id,)
            ).fetchone() == ("confirmed",)
    finally:
        conn.close()


def test_the_demo_says_what_it_holds_on_the_first_screen(
    tmp_path: Path, terminal: Terminal, ringround: str
) -> None:
    db = tmp_path / "demo.db"
    terminal.start([ringround, "demo", "--db", str(db), "--clients", "40"])
    shown = terminal.wait_for_text("Appointment confirmation")
    joined = " ".join(shown.split())  # the notice wraps at 80 columns
    assert f"Wrote a demo clinic to {db}: 40 clients," in joined, shown
    assert "appointments to confirm for" in joined, shown
    terminal.keys("Enter")
    terminal.wait_for(
        lambda screen: (
            "Appointment confirmation ·" in screen
            and "f Finish" in screen
            and "q Quit" not in screen
        ),
        "the work screen",
    )
    terminal.keys("Escape")
    # Said once: back on the list picker, the room goes to the lists.
    terminal.wait_for(
        lambda screen: (
            "q Quit" in screen and "f Finish" not in screen and "Wrote a demo clinic" not in screen
        ),
        "the list picker without it",
    )
    terminal.keys("q")
    after = terminal.wait_for_text("ringround exited with 0")
    # Nothing was printed behind the app's screen to be found only after it quits.
    assert "Wrote a demo clinic" not in after, after


def test_the_app_starts_while_the_phone_exchange_is_down(
    tmp_path: Path, terminal: Terminal, ringround: str
) -> None:
    # Refused at once, before the first paint: logging it once waited for the operator's
    # session on the event loop, which starts that session only after the first paint.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    secret = tmp_path / "ami.secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'[telephony]\nenabled = true\nport = {port}\nsecret_file = "{secret}"\n'
        f'\n[telephony.extensions]\n{getpass.getuser()} = "PJSIP/101"\n'
    )
    db = tmp_path / "demo.db"
    terminal.start([ringround, "demo", "--db", str(db), "--clients", "40", "--policy", str(policy)])
    terminal.wait_for_text("Appointment confirmation")
    terminal.keys("Enter")
    shown = terminal.wait_for_text("PBX: not connected")
    assert "f Finish" in shown, shown
    terminal.keys("m")
    terminal.wait_for_text("manual mode (PBX: not connected)")
    terminal.keys("c")
    terminal.wait_for_text("Your call since")
