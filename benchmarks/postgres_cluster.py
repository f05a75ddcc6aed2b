"""A PostgreSQL cluster of our own, for the benchmarks and the tests (tests/postgres_server.py).

Started from the server programs of Debian's ``postgresql`` package
(/usr/lib/postgresql/N/bin, or ``pg_ctl`` on PATH) in a new temporary folder:
``initdb -A trust``, listening on 127.0.0.1 on a free port with its Unix
socket in that folder, so it never meets a system cluster on 5432.
PostgreSQL refuses to run as root; run by root, initdb and pg_ctl run as the
``postgres`` user (``runuser``), who owns the folder. Whoever starts it says
which server settings differ from the defaults (:func:`start_cluster`): the
tests turn fsync off, the benchmarks keep every default.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from itertools import count
from pathlib import Path

from benchmarks.machine import cpu_seconds, process_stat

# Who runs the server when we are root (PostgreSQL refuses root).
SERVER_USER = "postgres"
# What we wait at most for the server to start or stop (pg_ctl waits on the
# server's own readiness, not on a clock); far beyond a loaded machine.
SERVER_PATIENCE = 120
# Tries at a free port: another program may take the chosen one before the
# server binds it.
PORT_TRIES = 5
# What we wait at most for the server to end the sessions of clients that closed
# their connections (processor_seconds_settled).
SESSIONS_PATIENCE = 10.0


def major_version(binaries: Path) -> int:
    """15 for /usr/lib/postgresql/15/bin; 0 when the folder does not say."""
    name = binaries.parent.name
    return int(name) if name.isdigit() else 0


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: the newest installed version, else pg_ctl's."""
    folders = sorted(map(Path, glob.glob("/usr/lib/postgresql/*/bin")), key=major_version)
    folders.reverse()
    on_path = shutil.which("pg_ctl")
    if on_path:
        folders.append(Path(on_path).resolve().parent)
    for folder in folders:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on just now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A PostgreSQL cluster in a folder of its own."""

    def __init__(
        self, binaries: Path, folder: Path, run_as: str | None, settings: dict[str, str]
    ) -> None:
        self.binaries = binaries
        self.folder = folder  # the data folder, the socket and the server's log
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.run_as = run_as
        self.settings = settings  # server settings that differ from the defaults
        self.port = 0
        self.started_by = os.getpid()
        self.running = False
        self.names = count(1)

    def tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one of the server's programs (as the server's user when we are root)."""
        command = [str(self.binaries / name), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, cwd=self.folder, check=False)

    def server_log(self) -> str:
        """The end of the server's log, for an error message."""
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def checked(self, name: str, *args: str) -> None:
        done = self.tool(name, *args)
        if done.returncode != 0:
            raise RuntimeError(
                f"{name} {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}\n--- server log ---\n{self.server_log()}"
            )

    def create_cluster(self) -> None:
        self.checked(
            "initdb",
            "-D", str(self.data),
            "-A", "trust",
            "-U", "postgres",
            "-E", "UTF8",
            "--locale=C.UTF-8",
        )  # fmt: skip

    def start(self) -> None:
        """Start on a free port of 127.0.0.1; the socket lives in the cluster's folder."""
        for attempt in range(PORT_TRIES):
            self.port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}" + "".join(
                f" -c {name}={value}" for name, value in self.settings.items()
            )
            done = self.tool(
                "pg_ctl", "start", "-w", "-t", str(SERVER_PATIENCE),
                "-D", str(self.data), "-l", str(self.log), "-o", options,
            )  # fmt: skip
            if done.returncode == 0:
                self.running = True
                return
            if attempt == PORT_TRIES - 1 or "Address already in use" not in self.server_log():
                raise RuntimeError(
                    f"PostgreSQL did not start:\n{done.stdout}{done.stderr}\n"
                    f"--- server log ---\n{self.server_log()}"
                )

    def restart(self) -> None:
        """Restart as an administrator would: every connection ends, the data stays."""
        self.checked(
            "pg_ctl", "restart", "-w", "-t", str(SERVER_PATIENCE), "-m", "fast",
            "-D", str(self.data), "-l", str(self.log),
        )  # fmt: skip

    def stop(self) -> None:
        """Stop at once (nothing here needs a clean shutdown); only the starting process does."""
        if self.running and os.getpid() == self.started_by:
            self.running = False
            self.tool("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))

    def remove(self) -> None:
        """Stop, and remove the cluster's folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def main_process(self) -> int:
        """The server's main process (the first line of its postmaster.pid)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def processes(self) -> list[int]:
        """The processes the server's main process runs now (sessions, writers, vacuum)."""
        parent = str(self.main_process())
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if process_stat(int(entry))[1] == parent:
                    found.append(int(entry))
            except OSError:
                continue  # ended meanwhile
        return found

    def processor_seconds(self) -> float:
        """Processor time the server has used so far: its main process, the processes it
        runs now, and those it ran and that have ended (the kernel adds theirs to the main
        process's once it has reaped them)."""
        total = cpu_seconds(self.main_process(), reaped=True)
        for pid in self.processes():
            try:
                total += cpu_seconds(pid)
            except OSError:
                continue  # ended this instant; a settled reading waits for that
        return total

    def processor_seconds_settled(self, processes: int) -> float:
        """:meth:`processor_seconds` once the server runs no more than ``processes``
        processes, so that the sessions of clients that have closed their connections
        have ended and count (after :data:`SESSIONS_PATIENCE` seconds, whatever runs)."""
        deadline = time.monotonic() + SESSIONS_PATIENCE
        while len(self.processes()) > processes and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.processor_seconds()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, statement: str) -> None:
        """Run one statement as the server's superuser, outside a transaction."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self, template: str | None = None) -> str:
        """A fresh database, empty or a copy of ``template``; its name."""
        name = f"test_{next(self.names)}"
        self.admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any connection left open on it."""
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def why_not_here() -> str | None:
    """Why a PostgreSQL server cannot be run here; None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    if server_binaries() is None:
        return (
            "the PostgreSQL server programs (initdb, pg_ctl) are not installed"
            " (apt-get install postgresql)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root, and there is no {SERVER_USER} user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root, and runuser (util-linux) is missing"
    return None


def start_cluster(settings: dict[str, str]) -> PostgresServer:
    """A new cluster, started, in a new temporary folder, with ``settings`` (name → value).

    Only where :func:`why_not_here` found nothing missing.
    """
    binaries = server_binaries()
    assert binaries is not None
    # In the system's temporary folder, not a caller's: the server's user must
    # reach its own folder, and pytest's and the benchmarks' are private to root.
    folder = Path(tempfile.mkdtemp(prefix="ringround-postgresql-"))
    run_as = None
    if os.geteuid() == 0:
        run_as = SERVER_USER
        owner = pwd.getpwnam(SERVER_USER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(binaries, folder, run_as, settings)
    try:
        server.create_cluster()
        server.start()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server
