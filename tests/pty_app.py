"""The real ``ringround`` program in a pseudo-terminal: what it writes, keys sent, signals.

Used by the fault tests (tests/test_faults_*.py) and the benchmarks
(benchmarks/terminal.py). The program runs as a child process whose stdin,
stdout and stderr are the slave side of a pty of a fixed size, in a session
of its own; a thread reads everything it writes from the master side and
keeps every byte with the moment it arrived. (The pty is not made its
controlling terminal: that needs code between fork and exec, which is not
safe while other threads run — the signal tests start programs from two.)
Nothing answers the terminal queries Textual sends, as with a terminal that
does not know them.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.command_env import command_env

ROOT = Path(__file__).resolve().parent.parent

KEYS = {
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "pagedown": b"\x1b[6~",
    "pageup": b"\x1b[5~",
    "enter": b"\r",
    "escape": b"\x1b",
    "tab": b"\t",
}

# Escape sequences, so that the text a screen shows can be searched for.
_SEQUENCES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    rb"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC
    rb"|\x1b[ -/]*[0-~]"  # two- and three-byte escapes
)


def ringround_argv() -> list[str]:
    """How to start the installed console command (beside this Python, else on PATH)."""
    beside = Path(sys.executable).parent / "ringround"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("ringround")
    return [found] if found else [sys.executable, "-m", "tui"]


def terminal_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a common SSH login: xterm-256color, UTF-8, nothing of ours (the
    built-in policy: tests/command_env.py)."""
    env = {
        key: value
        for key, value in command_env().items()
        if not key.startswith(("TEXTUAL", "PYTEST", "COLUMNS", "LINES"))
    }
    env.update({"TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    env.pop("NO_COLOR", None)
    env.pop("COLORTERM", None)
    env.update(extra or {})
    return env


def visible(data: bytes) -> str:
    """The characters among the bytes written, escape sequences left out."""
    return _SEQUENCES.sub(b"", data).decode("utf-8", errors="replace")


class PtyApp:
    """One program on a pty; see the module docstring."""

    def __init__(
        self,
        argv: list[str],
        *,
        columns: int = 80,
        lines: int = 24,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=cwd,
                env=dict(env) if env is not None else terminal_env(),
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.size = 0
        self.closed = False
        self.sent_at = self.started  # when the last key was sent
        self._changed = threading.Condition()
        self._hanging_up = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        while True:
            # A short wait rather than a blocking read, so that hang_up can stop this thread
            # before it closes the master side (a read in progress would keep it open).
            if not select.select([self.master], [], [], 0.05)[0]:
                if self._hanging_up.is_set():
                    data = b""
                else:
                    continue
            else:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # EIO: every slave descriptor is closed (the program ended)
                    data = b""
            with self._changed:
                if not data:
                    self.closed = True
                    self._changed.notify_all()
                    return
                self.chunks.append((time.monotonic(), data))
                self.size += len(data)
                self._changed.notify_all()

    # --- what was written ---------------------------------------------------------

    def output(self, since: int = 0) -> bytes:
        """Every byte written from offset ``since`` on (offsets as given by ``size``)."""
        with self._changed:
            data = b"".join(chunk for _, chunk in self.chunks)
        return data[since:]

    def text(self, since: int = 0) -> str:
        return visible(self.output(since))

    def last_write(self) -> float:
        with self._changed:
            return self.chunks[-1][0] if self.chunks else self.started

    def wait_until(self, condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout} s waiting for {what}; the program "
                        f"{self._state()} and showed lately:\n{self._tail()}"
                    )
                self._changed.wait(min(left, 0.05))

    def wait_for(self, text: str, since: int = 0, timeout: float = 15.0) -> float:
        """Wait until ``text`` shows (in what was written after ``since``); returns when."""
        self.wait_until(lambda: text in self.text(since), repr(text), timeout)
        return time.monotonic()

    def wait_quiet(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until nothing has been written for ``quiet`` seconds since the last key sent."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            idle = now - max(self.last_write(), self.sent_at)
            if idle >= quiet:
                return
            if now > deadline:
                raise AssertionError(f"the program kept writing for {timeout} s")
            time.sleep(min(quiet - idle, 0.05) + 0.001)

    def _state(self) -> str:
        code = self.process.poll()
        return "is running" if code is None else f"ended with {code}"

    def _tail(self) -> str:
        return self.text(max(0, self.size - 3000))[-1500:]

    # --- driving it -----------------------------------------------------------------

    def send(self, *keys: str | bytes) -> None:
        """Keys by name ("down", "enter", "escape"...) or as text/bytes."""
        for key in keys:
            data = KEYS.get(key, key) if isinstance(key, str) else key
            os.write(self.master, data if isinstance(data, bytes) else data.encode())
        self.sent_at = time.monotonic()

    def signal(self, number: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, number)

    def hang_up(self) -> None:
        """Close the master side, as sshd does when the link drops: the terminal hangs up.

        No signal is sent with it (the pty is not the program's controlling
        terminal): the program sees only that its input has ended.
        """
        self._hanging_up.set()
        self._reader.join(10)
        os.close(self.master)
        self.master = -1

    def wait_exit(self, timeout: float = 15.0) -> int:
        """The exit status (negative: killed by that signal)."""
        return self.process.wait(timeout)

    def peak_rss_kib(self) -> int:
        """VmHWM of the running program, from /proc."""
        status = Path(f"/proc/{self.process.pid}/status").read_text(encoding="ascii")
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise LookupError("no VmHWM in /proc status")

    def close(self) -> None:
        """Kill the program if it still runs, and close the terminal."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._reader.join(5)
        if self.master >= 0:
            os.close(self.master)
