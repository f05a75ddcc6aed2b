"""End to end through a real OpenSSH server: two operators, as two Unix users, share one list.

The test starts its own ``sshd`` on 127.0.0.1 (its own host key and config, a
free high port, public keys only, no PAM) and creates two Unix users in a
group of their own, as deploy.md tells a clinic to do: the database folder
belongs to that group with mode 2770, the database file is 660, the policy
640. Each operator logs in with ``ssh -tt … 'umask 002; exec ringround --db DB
--policy P'`` inside tmux at 80×24 (Alice with TERM=xterm-256color, Bob with
TERM=linux); the umask is what deploy.md's login wrapper sets.

1. Alice starts a call; Bob sees "Locked by <alice>"; Bob starts a call on
   another row and Alice sees his lock. While nobody presses a key, nothing
   is sent over Bob's SSH link (no idle repaints).
2. Alice finishes her call (f, 1, comment, Enter); the row leaves Bob's list.
3. Alice starts the next call and her SSH connection is cut (the ssh client
   is killed): her app gets SIGHUP and ends its session, her lock stays
   (SPEC C9) and Bob sees it as "session gone".
4. Alice logs in again: "Locked by you in an earlier session"; a aborts it.

It needs root (to create the users), ``sshd``, ``ssh``, ``ssh-keygen`` and
``tmux``; otherwise it is skipped with the reason (.ci/run installs them and
runs the suite as root, where a skip is a failure). Users, group and sshd are
removed at the end. When the interpreter lives in a folder other users cannot
enter (pyenv under /root, mode 700), the test adds search permission (o+x,
never read) to the folders on the way for its duration and restores them.
"""

from __future__ import annotations

import contextlib
import grp
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.database import open_database
from tests.conftest import Clinic
from tests.unix_users import User, need_root_tools, processes_of, reachable, run, temporary_users

SSHD = "/usr/sbin/sshd"
GROUP = "rr-e2e-ops"
ALICE, BOB = "rr_e2e_alice", "rr_e2e_bob"
LIST = "SSH calls"
CLIENTS = ("Anna Alpha", "Boris Beta", "Carl Gamma")
COMMENT = "confirmed over ssh"
FREE = "c to start the call"
ENDED = "ssh exited with"
MINE = "f to finish, a to abort"


def processes() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0,
               details: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{details()}")
        time.sleep(0.05)


# -- the machine: users, sshd, a reachable ringround ---------------------------------------------

@pytest.fixture
def operators() -> Iterator[tuple[User, User]]:
    """Two Unix users in the group GROUP (made now, removed at the end)."""
    need_root_tools("ssh", "ssh-keygen", "tmux")
    if not os.access(SSHD, os.X_OK):
        pytest.skip(f"{SSHD} is missing (apt-get install openssh-server)")
    with temporary_users(GROUP, (ALICE, BOB)) as (_, users):
        yield users[0], users[1]


@pytest.fixture
def ringround_for_all(operators: tuple[User, User]) -> Iterator[Path]:
    """The venv's ringround, made runnable by the test users for the test's duration."""
    with reachable(operators[0]) as command:
        yield command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    port: int
    key: Path  # the operators' private key (the ssh client runs as root)
    log: Path  # sshd's own log


@pytest.fixture
def sshd(operators: tuple[User, User]) -> Iterator[Server]:
    """A private sshd on 127.0.0.1: own host key and config, public keys only, no PAM."""
    folder = Path(tempfile.mkdtemp(prefix="rr-sshd-"))  # root only (mode 700)
    process: subprocess.Popen[str] | None = None
    try:
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "host_key"))
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "client_key"))
        public = (folder / "client_key.pub").read_text(encoding="utf-8")
        for operator in operators:
            dot_ssh = operator.home / ".ssh"
            dot_ssh.mkdir(mode=0o700, exist_ok=True)
            (dot_ssh / "authorized_keys").write_text(public, encoding="utf-8")
            for path in (dot_ssh, dot_ssh / "authorized_keys"):
                os.chown(path, operator.uid, -1)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
        config = folder / "sshd_config"
        config.write_text("\n".join([
            "ListenAddress 127.0.0.1",
            f"HostKey {folder / 'host_key'}",
            f"PidFile {folder / 'sshd.pid'}",
            "UsePAM no",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "AuthorizedKeysFile .ssh/authorized_keys",
            f"AllowUsers {ALICE} {BOB}",
            "PrintMotd no",
            "PrintLastLog no",
            "LogLevel VERBOSE",
            # The operators' block of docs/deploy.md, without its ForceCommand.
            f"Match Group {GROUP}",
            "    DisableForwarding yes",
            "    PermitTTY yes",
            "",
        ]), encoding="utf-8")
        port = free_port()
        run(SSHD, "-t", "-f", str(config), "-p", str(port))
        log = folder / "sshd.log"
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)

        def listening() -> bool:
            assert process is not None and process.poll() is None, log.read_text()
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, f"sshd to listen on port {port}", timeout=10,
                   details=lambda: log.read_text())
        yield Server(port, folder / "client_key", log)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


# -- the clinic: a shared folder, a database with one call list, a policy ------------------------

@dataclass
class SharedClinic:
    folder: Path
    db: Path
    policy: Path
    items: list[int]

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@pytest.fixture
def shared_clinic(operators: tuple[User, User]) -> Iterator[SharedClinic]:
    """root:GROUP 2770 folder, 660 database, 640 policy: the layout deploy.md describes."""
    folder = Path(tempfile.mkdtemp(prefix="rr-clinic-"))
    try:
        gid = grp.getgrnam(GROUP).gr_gid
        os.chown(folder, 0, gid)
        os.chmod(folder, 0o2770)
        db = folder / "clinic.db"
        conn = open_database(db, create=True)
        try:
            clinic = Clinic(conn, db)
            ids = [clinic.add_client(name, (f"+7 900 000-00-0{n}",))
                   for n, name in enumerate(CLIENTS, start=1)]
            _, items = clinic.add_call_list(LIST, ids)
        finally:
            conn.close()
        os.chmod(db, 0o660)
        policy = folder / "policy.toml"
        policy.write_text('[calls]\nhours = "00:00-24:00"\n', encoding="utf-8")
        os.chmod(policy, 0o640)
        assert os.stat(db).st_gid == gid and os.stat(policy).st_gid == gid  # setgid folder
        yield SharedClinic(folder, db, policy, items)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- terminals -----------------------------------------------------------------------------------

class Terminal:
    """One tmux session (80×24) running one ssh client."""

    def __init__(self, socket_path: Path, name: str, logs: list[Path]) -> None:
        self.socket = socket_path
        self.name = name
        self.logs = logs  # the ssh client's and sshd's, shown when something fails

    def tmux(self, *args: str) -> str:
        return run("tmux", "-u", "-S", str(self.socket), *args, timeout=10).stdout

    def start(self, command: list[str], term: str) -> None:
        # The shell stays to print ssh's exit status; the pane stays after that (remain-on-exit).
        line = f"{shlex.join(command)}; echo \"{ENDED} $?\""
        self.tmux("new-session", "-d", "-s", self.name, "-x", "80", "-y", "24",
                  "env", f"TERM={term}", "LANG=C.UTF-8", "sh", "-c", line)

    def ssh_pid(self) -> int:
        """The ssh client's process id: the child of the pane's shell."""
        shell = int(self.tmux("display-message", "-p", "-t", self.name, "#{pane_pid}"))
        children = [pid for pid in processes() if parent_of(pid) == shell]
        assert len(children) == 1, children
        return children[0]

    def exit_status(self) -> int:
        """Wait for ssh to end; its exit status (the remote command's)."""
        shown = self.wait_for_text(ENDED)
        return int(shown.split(ENDED, 1)[1].split()[0])

    def output_while_idle(self, seconds: float) -> bytes:
        """What the program writes to the terminal in ``seconds`` without a key pressed."""
        time.sleep(0.5)  # let the last change settle
        out = self.socket.parent / f"{self.name}.out"
        self.tmux("pipe-pane", "-o", "-t", self.name, f"cat >> {shlex.quote(str(out))}")
        time.sleep(seconds)
        self.tmux("pipe-pane", "-t", self.name)  # stop
        return out.read_bytes() if out.exists() else b""

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, condition: Callable[[str], bool], what: str,
                 timeout: float = 15.0) -> str:
        shown = ""

        def check() -> bool:
            nonlocal shown
            shown = self.screen()
            if condition(shown):
                return True
            assert ENDED not in shown, (
                f"{self.name}'s ssh ended; the screen shows:\n{shown}\n{self.details()}")
            return False

        wait_until(check, f"{what} on {self.name}'s screen", timeout,
                   details=lambda: f"the screen shows:\n{shown}\n{self.details()}")
        return shown

    def details(self) -> str:
        parts = []
        for log in self.logs:
            with contextlib.suppress(OSError):
                parts.append(f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def wait_for_text(self, text: str, timeout: float = 15.0) -> str:
        return self.wait_for(lambda shown: text in shown, repr(text), timeout)

    def kill(self) -> None:
        with contextlib.suppress(AssertionError):
            self.tmux("kill-session", "-t", self.name)


@pytest.fixture
def tmux_socket() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rr-tmux-"))  # short: socket paths are limited
    conf = folder / "tmux.conf"
    # Keep a pane whose ssh ended, so that what it printed last can be read.
    conf.write_text("set -g remain-on-exit on\nset -g status off\n", encoding="utf-8")
    socket_path = folder / "sock"
    try:
        run("tmux", "-u", "-S", str(socket_path), "-f", str(conf), "start-server", ";",
            "set", "-g", "exit-empty", "off")
        yield socket_path
    finally:
        run("tmux", "-S", str(socket_path), "kill-server", check=False)
        shutil.rmtree(folder, ignore_errors=True)


def login(socket_path: Path, server: Server, user: str, name: str, ringround: Path,
          clinic: SharedClinic, term: str = "xterm-256color") -> Terminal:
    client_log = socket_path.parent / f"ssh-{name}.log"
    terminal = Terminal(socket_path, name, [client_log, server.log])
    terminal.start(["ssh", "-tt", "-F", "/dev/null", "-E", str(client_log), "-i", str(server.key),
                    "-p", str(server.port), "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                    "-o", "LogLevel=VERBOSE", f"{user}@127.0.0.1",
                    # What the login wrapper of docs/deploy.md does: without umask 002, a
                    # -shm file another operator is making this instant is not yet g+w.
                    "umask 002; exec " + shlex.join([str(ringround), "--db", str(clinic.db),
                                                     "--policy", str(clinic.policy)])],
                   term)
    return terminal


def active(screen: str) -> str:
    """The client the pane shows: its first line, under the title (name, maybe an age)."""
    lines = screen.splitlines()
    return lines[1].split(",")[0].strip() if len(lines) > 1 else ""


def open_list(terminal: Terminal, first_row: str) -> None:
    """From the list picker (confirmation first, then the call list) into the call list."""
    terminal.wait_for_text(LIST)
    terminal.keys("Down")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: f"{LIST} ·" in s and first_row in s, "the call list")


# -- the test ------------------------------------------------------------------------------------

def test_two_operators_over_ssh(operators: tuple[User, User], sshd: Server,
                                ringround_for_all: Path, shared_clinic: SharedClinic,
                                tmux_socket: Path) -> None:
    started = time.monotonic()
    clinic = shared_clinic
    alice_user, bob_user = operators
    alice_name, bob_name = alice_user.name, bob_user.name
    anna, boris, carl = clinic.items

    def lock_of(item: int) -> list[tuple[object, ...]]:
        return clinic.query("SELECT operator, session_id FROM locks WHERE kind = 'item'"
                            " AND source_id = ?", (item,))

    def sessions_of(name: str) -> list[tuple[object, ...]]:
        return clinic.query("SELECT id, ended_at FROM sessions WHERE operator = ? ORDER BY id",
                            (name,))

    # 1. Both log in; Alice calls Anna, Bob sees her lock and calls Carl, Alice sees his.
    alice = login(tmux_socket, sshd, alice_name, "alice", ringround_for_all, clinic)
    bob = login(tmux_socket, sshd, bob_name, "bob", ringround_for_all, clinic, term="linux")
    alice.wait_for_text(f"Mass calling — {alice_name}")
    bob.wait_for_text(f"Mass calling — {bob_name}")
    open_list(alice, CLIENTS[0])
    alice.wait_for_text(FREE)
    alice.keys("c")
    alice.wait_for_text(MINE)
    assert [row[0] for row in lock_of(anna)] == [alice_name]

    open_list(bob, CLIENTS[0])
    bob.wait_for_text(f"Locked by {alice_name}")
    bob.keys("Down", "Down")
    bob.wait_for(lambda s: active(s) == CLIENTS[2] and FREE in s, "Carl, free")
    bob.keys("c")
    bob.wait_for_text(MINE)
    assert [row[0] for row in lock_of(carl)] == [bob_name]

    # Both are calling now and nobody touches a key: nothing may be sent over the link.
    assert bob.output_while_idle(seconds=2.0) == b""

    alice.keys("Down", "Down")
    alice.wait_for_text(f"Locked by {bob_name}")
    alice.keys("Up", "Up")
    alice.wait_for_text(MINE)

    # 2. Alice finishes Anna's call; the row leaves Bob's list within a few seconds.
    alice.keys("f")
    alice.wait_for_text("Result of the call")
    alice.keys("1")
    alice.type(COMMENT)
    alice.wait_for_text(COMMENT)
    alice.keys("Enter")
    alice.wait_for(lambda s: "Result of the call" not in s, "the result dialog to close")
    assert clinic.query("SELECT operator, outcome, comment FROM attempts") == [
        (alice_name, "confirmed", COMMENT)]
    assert clinic.query("SELECT processed_at IS NOT NULL FROM call_list_items WHERE id = ?",
                        (anna,)) == [(1,)]
    assert lock_of(anna) == []
    bob.wait_for(lambda s: CLIENTS[0] not in s, "Anna's row to leave Bob's list")

    # 3. Alice calls Boris, and her SSH connection is cut mid-call.
    alice.wait_for(lambda s: active(s) == CLIENTS[1] and FREE in s, "Boris, free")
    alice.keys("c")
    alice.wait_for_text(MINE)
    [(first_session,)] = [(sid,) for sid, ended in sessions_of(alice_name)]
    assert lock_of(boris) == [(alice_name, first_session)]
    os.kill(alice.ssh_pid(), signal.SIGKILL)  # the ssh client: the network "goes away"
    wait_until(lambda: sessions_of(alice_name)[0][1] is not None,
               "Alice's session to end after SIGHUP", timeout=15,
               details=lambda: f"sessions: {sessions_of(alice_name)}")
    assert lock_of(boris) == [(alice_name, first_session)]  # C9: the lock stays
    wait_until(lambda: not processes_of(alice_user.uid), "Alice's app to exit", timeout=10)
    bob.keys("Up")
    bob.wait_for_text(f"Locked by {alice_name}")
    bob.wait_for_text("session gone")
    alice.kill()

    # 4. Alice logs in again: the row is hers from an earlier session; she aborts it.
    alice = login(tmux_socket, sshd, alice_name, "alice2", ringround_for_all, clinic)
    open_list(alice, CLIENTS[1])
    alice.wait_for_text("Locked by you in an earlier session")
    alice.keys("a")
    alice.wait_for_text("Processing aborted")
    assert lock_of(boris) == []
    assert clinic.query("SELECT operator FROM audit WHERE event = 'abort' AND source_id = ?",
                        (boris,)) == [(alice_name,)]
    assert clinic.query("SELECT count(*) FROM attempts") == [(1,)]  # abort records nothing
    bob.wait_for(lambda s: f"Locked by {alice_name}" not in s, "Bob to see Boris free")

    # Both quit cleanly (Escape is back to the picker, q quits); every session has ended.
    bob.keys("Down")
    bob.wait_for_text(MINE)
    bob.keys("a")
    bob.wait_for(lambda s: MINE not in s, "Bob's abort")
    for terminal in (alice, bob):
        terminal.keys("Escape")
        terminal.wait_for_text("Mass calling —")
        terminal.keys("q")
    for terminal in (alice, bob):
        assert terminal.exit_status() == 0, terminal.screen() + terminal.details()
    assert clinic.query("SELECT count(*) FROM locks") == [(0,)]
    assert clinic.query("SELECT count(*) FROM sessions WHERE ended_at IS NULL") == [(0,)]
    assert len(sessions_of(alice_name)) == 2 and len(sessions_of(bob_name)) == 1
    assert clinic.query("PRAGMA integrity_check") == [("ok",)]
    # Files SQLite made next to the database stay usable by the whole group.
    for path in clinic.folder.iterdir():
        info = os.stat(path)
        assert info.st_gid == grp.getgrnam(GROUP).gr_gid, path
        if path.name.startswith("clinic.db"):
            assert info.st_mode & 0o060 == 0o060, (path, oct(info.st_mode))
    assert time.monotonic() - started < 60


# -- the guide's SSH set-up ----------------------------------------------------------------------

def _blocks(language: str) -> list[str]:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "deploy.md").read_text(
        encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", guide, flags=re.DOTALL)


def test_the_guides_sshd_blocks_and_login_wrapper_are_valid(tmp_path: Path) -> None:
    """docs/deploy.md's sshd_config blocks pass ``sshd -t``; its login wrapper is valid sh."""
    if not os.access(SSHD, os.X_OK):
        pytest.skip(f"{SSHD} is missing (apt-get install openssh-server)")
    blocks = _blocks("sshd_config")
    assert len(blocks) == 2 and "ForceCommand /usr/local/bin/ringround-login" in blocks[0]
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host_key"))
    config = tmp_path / "sshd_config"
    config.write_text(f"HostKey {tmp_path / 'host_key'}\nUsePAM no\n" + "".join(blocks),
                      encoding="utf-8")
    result = run(SSHD, "-t", "-f", str(config), check=False)
    assert result.returncode == 0, result.stderr
    [wrapper] = [block for block in _blocks("sh") if block.startswith("#!/bin/sh")]
    assert "umask 002" in wrapper and "--policy /etc/ringround/policy.toml" in wrapper
    assert run("sh", "-n", "-c", wrapper, check=False).returncode == 0
