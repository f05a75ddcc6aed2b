"""Another program on the clinic database, in a process of its own (plain sqlite3, no ringround).

``Outside(path, "write")`` holds ``BEGIN IMMEDIATE`` (the write lock), as a
backup tool or a stuck script would; ``Outside(path, "read")`` keeps a read
transaction open (a report left half-read), which stops checkpoints. The
process takes the lock, says so, and keeps it until :meth:`Outside.release`
(or the end of the ``with`` block); the test decides how long, and
:attr:`held_for` tells how long it was. Run as a script it is that process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType


class Outside:
    def __init__(self, path: str | Path, mode: str) -> None:
        assert mode in ("write", "read")
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(path), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "held":
            self.process.kill()
            raise RuntimeError(
                f"the outside process did not take the lock: {line!r} "
                f"{self.process.stderr.read() if self.process.stderr else ''}"
            )
        self.since = time.monotonic()
        self.released_at: float | None = None

    @property
    def held_for(self) -> float:
        return (self.released_at or time.monotonic()) - self.since

    def release(self) -> None:
        """End the transaction (a ROLLBACK: the outside program changed nothing)."""
        if self.released_at is not None:
            return
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("release\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline().strip()
        self.released_at = time.monotonic()
        self.process.wait(30)
        if line != "released":
            raise RuntimeError(f"the outside process failed to let go: {line!r}")

    def __enter__(self) -> Outside:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if error is None:
                self.release()
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)


def _hold(path: str, mode: str) -> None:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    if mode == "write":
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM attempts").fetchone()  # the snapshot starts here
    print("held", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    conn.close()
    print("released", flush=True)


if __name__ == "__main__":
    _hold(sys.argv[1], sys.argv[2])
