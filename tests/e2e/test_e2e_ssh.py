"""End to end through a real OpenSSH server, set up as docs/deploy.md tells a clinic to.

The test starts its own ``sshd`` on 127.0.0.1 (its own host key and config, a
free high port, public keys only, no PAM) with the operators' block of
docs/deploy.md (ForceCommand, no forwarding, keep-alive), and creates Unix
users in a group of their own whose login shell is the guide's login program
(ringround-login, pointed at this installation's ringround and the test's
policy). The database folder belongs to that group with mode 2770, the
database file is 660, the policy 640. Operators log in with ``ssh -tt
user@host`` inside tmux at 80×24 (Alice with TERM=xterm-256color, Bob with
TERM=linux), and land in ringround.

- Two operators share one list: Alice starts a call, Bob sees "Locked by
  <alice>" and calls another row, Alice sees his lock; while nobody presses a
  key nothing is sent over Bob's link. Alice saves; the row leaves Bob's list.
  Alice's ssh client is killed mid-call: her app gets SIGHUP and ends its
  session, her lock stays (C9) and Bob sees "session gone"; she logs in
  again, finds the call hers "in an earlier session" and aborts it.
- No terminal, no session: ``ssh host command``, ``ssh -tt host bash``,
  ``sftp``, ``scp`` (both protocols) and ``ssh -T host`` run nothing, fetch
  nothing, and leave no ringround process and no session row.
- A silent link: Alice's ssh client is stopped (SIGSTOP) mid-call. The
  server's keep-alive (short here: 2 s × 3) drops the connection, her app
  ends its session, the lock stays, Bob sees "session gone", and the stale
  lock is removed by the normal rule (C11).
- The server's side goes: sshd's process for Alice's connection is killed
  mid-call. Her app ends its session, the lock stays and Bob cannot take it;
  she logs in again, continues the call ("in an earlier session") and saves.
- A terminal not set to UTF-8: bytes of Windows-1251 typed into a comment
  show as replacement characters, and the app goes on and saves.
- One operator, two windows: Alice's second window shows her first window's
  call as open there, ``c`` asks and ``n`` moves nothing; the first window
  saves. A ``y`` moves the next call, and the first window is told.

It needs root (to create the users), ``sshd``, ``ssh``, ``sftp``, ``scp``,
``ssh-keygen`` and ``tmux``; otherwise it is skipped with the reason (.ci/run
installs them and runs the suite as root, where a skip is a failure). Users,
group and sshd are removed at the end. When the interpreter lives in a folder
other users cannot enter (pyenv under /root, mode 700), the test adds search
permission (o+x, never read) to the folders on the way for its duration and
restores them.
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

from benchmarks.machine import process_stat
from storage.database import open_database
from storage.locks import remove_stale_locks
from storage.policy import load_policy
from storage.sessions import Session
from tests.stored_clinic import StoredClinic
from tests.unix_users import User, need_root_tools, processes_of, reachable, run, temporary_users
from tests.waiting import wait_until

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
        return int(process_stat(pid)[1])
    except (OSError, ValueError, IndexError):
        return -1


# -- the machine: users, sshd, a reachable ringround ---------------------------------------------


@pytest.fixture
def operators() -> Iterator[tuple[User, User]]:
    """Two Unix users in the group GROUP (made now, removed at the end)."""
    need_root_tools("ssh", "sftp", "scp", "ssh-keygen", "tmux")
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


def guide_text() -> str:
    return (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text(encoding="utf-8")


def guide_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", guide_text(), flags=re.DOTALL)


GUIDE_LOGIN = "/usr/local/bin/ringround-login"
KEEP_ALIVE = (2, 3)  # ClientAliveInterval, ClientAliveCountMax for the silent-link test


@pytest.fixture
def login_shell(
    operators: tuple[User, User], ringround_for_all: Path, shared_clinic: SharedClinic
) -> Iterator[Path]:
    """The guide's login program, for this ringround and policy: the operators' login shell."""
    folder = Path(tempfile.mkdtemp(prefix="rr-login-"))
    try:
        folder.chmod(0o755)  # root's; everybody may run what is in it
        program = folder / "ringround-login"
        [text] = [block for block in guide_blocks("sh") if block.startswith("#!/bin/sh")]
        for old, new in (
            (GUIDE_LOGIN, str(program)),
            ("/usr/local/bin/ringround ", f"{ringround_for_all} "),
            ("/etc/ringround/policy.toml", str(shared_clinic.policy)),
        ):
            assert old in text, old
            text = text.replace(old, new)
        program.write_text(text, encoding="utf-8")
        program.chmod(0o755)
        for operator in operators:
            run("usermod", "--shell", str(program), operator.name)
        yield program
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def sshd(
    request: pytest.FixtureRequest, operators: tuple[User, User], login_shell: Path
) -> Iterator[Server]:
    """A private sshd on 127.0.0.1 with the guide's operators' block; public keys only, no PAM.

    Parametrised indirectly with (interval, count), it uses those keep-alive
    settings instead of the guide's.
    """
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
        config.write_text(
            "\n".join(
                [
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
                    "Subsystem sftp "
                    "internal-sftp",  # sftp that bypasses the login shell, as the guide
                    "",  # warns: ForceCommand must close it
                ]
            )
            + operators_block(login_shell, getattr(request, "param", None)),
            encoding="utf-8",
        )
        port = free_port()
        run(SSHD, "-t", "-f", str(config), "-p", str(port))
        log = folder / "sshd.log"
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            text=True,
        )

        def listening() -> bool:
            assert process is not None and process.poll() is None, log.read_text()
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_until(
            listening, f"sshd to listen on port {port}", timeout=30, details=lambda: log.read_text()
        )
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


def operators_block(login_program: Path, keep_alive: tuple[int, int] | None) -> str:
    """docs/deploy.md's Match block for the test's group, login program and keep-alive."""
    [block] = [
        block
        for block in guide_blocks("sshd_config")
        if block.startswith("Match Group ringround-operators")
    ]
    block = block.replace("Match Group ringround-operators", f"Match Group {GROUP}")
    block = block.replace(GUIDE_LOGIN, str(login_program))
    if keep_alive is not None:
        block = re.sub(r"ClientAliveInterval \d+", f"ClientAliveInterval {keep_alive[0]}", block)
        block = re.sub(r"ClientAliveCountMax \d+", f"ClientAliveCountMax {keep_alive[1]}", block)
    for setting in (
        "ForceCommand",
        "DisableForwarding yes",
        "ClientAliveInterval",
        "ClientAliveCountMax",
    ):
        assert setting in block, setting
    return block


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
            clinic = StoredClinic(conn, db)
            ids = [
                clinic.add_client(name, (f"+7 900 000-00-0{n}",))
                for n, name in enumerate(CLIENTS, start=1)
            ]
            _, items = clinic.add_call_list(LIST, ids)
        finally:
            conn.close()
        os.chmod(db, 0o660)
        policy = folder / "policy.toml"
        policy.write_text(
            f'[database]\npath = "{db}"\n[calls]\nhours = "00:00-24:00"\n', encoding="utf-8"
        )
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
        return run("tmux", "-u", "-S", str(self.socket), *args, timeout=30).stdout

    def start(self, command: list[str], term: str) -> None:
        # The shell stays to print ssh's exit status; the pane stays after that (remain-on-exit).
        line = f'{shlex.join(command)}; echo "{ENDED} $?"'
        self.tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            "80",
            "-y",
            "24",
            "env",
            f"TERM={term}",
            "LANG=C.UTF-8",
            "sh",
            "-c",
            line,
        )

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
        self.wait_still()
        out = self.socket.parent / f"{self.name}.out"
        self.tmux("pipe-pane", "-o", "-t", self.name, f"cat >> {shlex.quote(str(out))}")
        time.sleep(seconds)
        self.tmux("pipe-pane", "-t", self.name)  # stop
        return out.read_bytes() if out.exists() else b""

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_still(self) -> None:
        """Wait until the screen stops changing: the last ten looks show the same."""
        seen = [self.screen()]

        def unchanged() -> bool:
            seen.append(self.screen())
            return len(seen) > 10 and len(set(seen[-10:])) == 1

        wait_until(unchanged, "the screen to stop changing")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        shown = ""

        def check() -> bool:
            nonlocal shown
            shown = self.screen()
            if condition(shown):
                return True
            assert ENDED not in shown, (
                f"{self.name}'s ssh ended; the screen shows:\n{shown}\n{self.details()}"
            )
            return False

        wait_until(
            check,
            f"{what} on {self.name}'s screen",
            timeout,
            details=lambda: f"the screen shows:\n{shown}\n{self.details()}",
        )
        return shown

    def details(self) -> str:
        parts = []
        for log in self.logs:
            with contextlib.suppress(OSError):
                parts.append(f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def wait_for_text(self, text: str, timeout: float = 30.0) -> str:
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
        run(
            "tmux",
            "-u",
            "-S",
            str(socket_path),
            "-f",
            str(conf),
            "start-server",
            ";",
            "set",
            "-g",
            "exit-empty",
            "off",
        )
        yield socket_path
    finally:
        run("tmux", "-S", str(socket_path), "kill-server", check=False)
        shutil.rmtree(folder, ignore_errors=True)


def ssh_options(server: Server, log: Path | None = None) -> list[str]:
    """The client's options: the test's key and port, no known-hosts file, never a prompt."""
    return [
        "-F",
        "/dev/null",
        *(["-E", str(log)] if log else []),
        "-i",
        str(server.key),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=VERBOSE",
    ]


def login(
    socket_path: Path, server: Server, user: str, name: str, term: str = "xterm-256color"
) -> Terminal:
    """``ssh -tt user@host`` in a new tmux window: the operator's login shell starts ringround."""
    client_log = socket_path.parent / f"ssh-{name}.log"
    terminal = Terminal(socket_path, name, [client_log, server.log])
    terminal.start(
        [
            "ssh",
            "-tt",
            *ssh_options(server, client_log),
            "-p",
            str(server.port),
            f"{user}@127.0.0.1",
        ],
        term,
    )
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


def test_two_operators_over_ssh(
    operators: tuple[User, User], sshd: Server, shared_clinic: SharedClinic, tmux_socket: Path
) -> None:
    clinic = shared_clinic
    alice_user, bob_user = operators
    alice_name, bob_name = alice_user.name, bob_user.name
    anna, boris, carl = clinic.items

    def lock_of(item: int) -> list[tuple[object, ...]]:
        return clinic.query(
            "SELECT operator, session_id FROM locks WHERE kind = 'item' AND source_id = ?", (item,)
        )

    def sessions_of(name: str) -> list[tuple[object, ...]]:
        return clinic.query(
            "SELECT id, ended_at FROM sessions WHERE operator = ? ORDER BY id", (name,)
        )

    # 1. Both log in; Alice calls Anna, Bob sees her lock and calls Carl, Alice sees his.
    alice = login(tmux_socket, sshd, alice_name, "alice")
    bob = login(tmux_socket, sshd, bob_name, "bob", term="linux")
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
        (alice_name, "confirmed", COMMENT)
    ]
    assert clinic.query(
        "SELECT processed_at IS NOT NULL FROM call_list_items WHERE id = ?", (anna,)
    ) == [(1,)]
    assert lock_of(anna) == []
    bob.wait_for(lambda s: CLIENTS[0] not in s, "Anna's row to leave Bob's list")

    # 3. Alice calls Boris, and her SSH connection is cut mid-call.
    alice.wait_for(lambda s: active(s) == CLIENTS[1] and FREE in s, "Boris, free")
    alice.keys("c")
    alice.wait_for_text(MINE)
    [(first_session,)] = [(sid,) for sid, ended in sessions_of(alice_name)]
    assert lock_of(boris) == [(alice_name, first_session)]
    os.kill(alice.ssh_pid(), signal.SIGKILL)  # the ssh client: the network "goes away"
    wait_until(
        lambda: sessions_of(alice_name)[0][1] is not None,
        "Alice's session to end after SIGHUP",
        timeout=30,
        details=lambda: f"sessions: {sessions_of(alice_name)}",
    )
    assert lock_of(boris) == [(alice_name, first_session)]  # C9: the lock stays
    wait_until(lambda: not processes_of(alice_user.uid), "Alice's app to exit", timeout=30)
    bob.keys("Up")
    bob.wait_for_text(f"Locked by {alice_name}")
    bob.wait_for_text("session gone")
    alice.kill()

    # 4. Alice logs in again: the row is hers from an earlier session; she aborts it.
    alice = login(tmux_socket, sshd, alice_name, "alice2")
    open_list(alice, CLIENTS[1])
    alice.wait_for_text("Locked by you in an earlier session")
    alice.keys("a")
    alice.wait_for_text("Processing aborted")
    assert lock_of(boris) == []
    assert clinic.query(
        "SELECT operator FROM audit WHERE event = 'abort' AND source_id = ?", (boris,)
    ) == [(alice_name,)]
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


# -- no terminal, no session ----------------------------------------------------------------------

REFUSED = "This login only runs ringround: commands, file transfer and shells are not available."


def client(*command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """An ssh, sftp or scp client run to its end; its input is ``stdin``, never a terminal."""
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_commands_file_transfer_and_shells_get_nothing(
    operators: tuple[User, User], sshd: Server, shared_clinic: SharedClinic, tmp_path: Path
) -> None:
    alice = operators[0]
    clinic = shared_clinic
    target = f"{alice.name}@127.0.0.1"
    ssh = ["ssh", *ssh_options(sshd), "-p", str(sshd.port)]
    transfer = [*ssh_options(sshd), "-P", str(sshd.port)]  # sftp and scp: -P for the port
    ran = alice.home / "ran"

    # ssh host command: nothing runs.
    done = client(*ssh, target, f"touch {ran}")
    assert done.returncode == 2 and REFUSED in done.stderr, done.stderr
    # ssh -tt host bash: no shell, even with a terminal.
    done = client(*ssh, "-tt", target, "bash")
    assert done.returncode == 2, done.stdout + done.stderr
    assert REFUSED in done.stdout and "$" not in done.stdout.replace(REFUSED, "")
    # A login without a terminal: the login program starts ringround, which refuses.
    done = client(*ssh, "-T", target)
    assert done.returncode == 2 and "The app needs a terminal" in done.stderr, done.stderr
    assert not ran.exists()

    # sftp, scp over sftp and scp's old protocol: nothing comes out, nothing goes in.
    batch = tmp_path / "batch"
    batch.write_text(f"get {clinic.db} {tmp_path / 'by-sftp.db'}\n", encoding="utf-8")
    done = client("sftp", *transfer, "-b", str(batch), target)
    assert done.returncode != 0
    for protocol in ([], ["-O"]):
        done = client(
            "scp",
            *transfer,
            *protocol,
            f"{target}:{clinic.db}",
            str(tmp_path / f"by-scp{''.join(protocol)}.db"),
        )
        assert done.returncode != 0, done.stderr
        done = client("scp", *transfer, *protocol, str(batch), f"{target}:uploaded")
        assert done.returncode != 0, done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["batch"]
    assert not (alice.home / "uploaded").exists()

    # Nothing of Alice's is left running, and ringround never wrote a session.
    wait_until(
        lambda: not processes_of(alice.uid),
        "Alice's processes to end",
        timeout=30,
        details=lambda: str(processes_of(alice.uid)),
    )
    assert clinic.query("SELECT count(*) FROM sessions") == [(0,)]
    assert clinic.query("PRAGMA integrity_check") == [("ok",)]


# -- a silent link --------------------------------------------------------------------------------


def session_of(clinic: SharedClinic, name: str) -> tuple[int, int | None]:
    [(session, ended)] = clinic.query(
        "SELECT id, ended_at FROM sessions WHERE operator = ?"
        " AND id = (SELECT max(id) FROM sessions WHERE operator = ?)",
        (name, name),
    )
    return int(str(session)), None if ended is None else int(str(ended))


@pytest.mark.parametrize("sshd", [KEEP_ALIVE], indirect=True)
def test_a_silent_link_ends_the_app_and_the_row_is_freed_by_the_rules(
    operators: tuple[User, User], sshd: Server, shared_clinic: SharedClinic, tmux_socket: Path
) -> None:
    clinic = shared_clinic
    alice_user, bob_user = operators
    anna = clinic.items[0]
    alice = login(tmux_socket, sshd, alice_user.name, "alice")
    bob = login(tmux_socket, sshd, bob_user.name, "bob")
    open_list(alice, CLIENTS[0])
    alice.wait_for_text(FREE)
    alice.keys("c")
    alice.wait_for_text(MINE)
    session, _ = session_of(clinic, alice_user.name)
    open_list(bob, CLIENTS[0])
    bob.wait_for_text(f"Locked by {alice_user.name}")

    # The link goes silent: Alice's ssh client stops answering, and nothing says so.
    ssh_client = alice.ssh_pid()
    os.kill(ssh_client, signal.SIGSTOP)
    try:
        wait_until(
            lambda: session_of(clinic, alice_user.name)[1] is not None,
            "the keep-alive to drop the link and Alice's app to end its session",
            timeout=60,
            details=lambda: sshd.log.read_text(errors="replace")[-3000:],
        )
        assert "Timeout, client not responding" in sshd.log.read_text(errors="replace")
        wait_until(lambda: not processes_of(alice_user.uid), "Alice's app to exit", timeout=30)
        [(operator, holder, since)] = clinic.query(
            "SELECT operator, session_id, since FROM locks WHERE source_id = ?", (anna,)
        )
        assert (operator, holder) == (alice_user.name, session)  # C9: the lock stays
        bob.wait_for_text("session gone")

        # The normal rule for a gone session's lock (C11): removed once older than stale_after,
        # here by the sweep Bob's app runs, done at that moment in Bob's name.
        policy = load_policy(str(clinic.policy))
        bob_session, _ = session_of(clinic, bob_user.name)
        conn = open_database(clinic.db)
        try:
            removed = remove_stale_locks(
                conn,
                policy,
                Session(bob_session, bob_user.name),
                int(str(since)) + policy.stale_after,
            )
        finally:
            conn.close()
        assert removed == 1
        assert clinic.query("SELECT count(*) FROM locks") == [(0,)]
        bob.wait_for_text(FREE)
        assert clinic.query(
            "SELECT operator, session_id FROM audit WHERE event = 'auto-removal'"
        ) == [(bob_user.name, bob_session)]
    finally:
        os.kill(ssh_client, signal.SIGKILL)
    bob.keys("Escape")
    bob.wait_for_text("Mass calling —")
    bob.keys("q")
    assert bob.exit_status() == 0, bob.screen() + bob.details()
    alice.kill()


def test_a_killed_sshd_connection_process_ends_the_app_and_the_call_waits_for_its_operator(
    operators: tuple[User, User], sshd: Server, shared_clinic: SharedClinic, tmux_socket: Path
) -> None:
    """The server's side of the link goes (sshd's process for Alice's connection is killed)."""
    clinic = shared_clinic
    alice_user, bob_user = operators
    anna = clinic.items[0]
    alice = login(tmux_socket, sshd, alice_user.name, "alice")
    bob = login(tmux_socket, sshd, bob_user.name, "bob")
    open_list(alice, CLIENTS[0])
    alice.wait_for_text(FREE)
    alice.keys("c")
    alice.wait_for_text(MINE)
    session, _ = session_of(clinic, alice_user.name)
    open_list(bob, CLIENTS[0])
    bob.wait_for_text(f"Locked by {alice_user.name}")

    # Alice's ringround is the child of sshd's process for her connection, which runs as her.
    mine = processes_of(alice_user.uid)
    [app] = [pid for pid in mine if parent_of(pid) in mine]
    os.kill(parent_of(app), signal.SIGKILL)
    wait_until(
        lambda: session_of(clinic, alice_user.name)[1] is not None,
        "Alice's app to end its session",
        timeout=30,
        details=lambda: sshd.log.read_text(errors="replace")[-3000:],
    )
    wait_until(lambda: not processes_of(alice_user.uid), "Alice's processes to end", timeout=30)
    assert alice.exit_status() == 255  # ssh: the connection was closed by the server
    assert clinic.query("SELECT operator, session_id FROM locks WHERE source_id = ?", (anna,)) == [
        (alice_user.name, session)
    ]  # C9: the lock stays
    bob.wait_for_text("session gone")
    bob.keys("c")  # nobody else may take the call
    bob.wait_for_text("Enter or Escape to close")
    bob.keys("Escape")

    # Alice logs in again: the call is hers, from an earlier session; she continues and saves it.
    alice = login(tmux_socket, sshd, alice_user.name, "alice2")
    open_list(alice, CLIENTS[0])
    alice.wait_for_text("Locked by you in an earlier session")
    alice.keys("c")
    alice.wait_for_text(MINE)
    alice.keys("f")
    alice.wait_for_text("Result of the call")
    alice.keys("1")
    alice.keys("Enter")
    alice.wait_for(lambda s: "Result of the call" not in s, "the result dialog to close")
    again, _ = session_of(clinic, alice_user.name)
    assert clinic.query("SELECT operator, session_id, outcome FROM attempts") == [
        (alice_user.name, again, "confirmed")
    ]
    assert clinic.query("SELECT count(*) FROM locks") == [(0,)]
    for terminal in (alice, bob):
        terminal.keys("Escape")
        terminal.wait_for_text("Mass calling —")
        terminal.keys("q")
    for terminal in (alice, bob):
        assert terminal.exit_status() == 0, terminal.screen() + terminal.details()
    assert clinic.query("SELECT count(*) FROM sessions WHERE ended_at IS NULL") == [(0,)]


def test_a_terminal_not_set_to_utf8_does_not_stop_the_app(
    operators: tuple[User, User], sshd: Server, shared_clinic: SharedClinic, tmux_socket: Path
) -> None:
    """An operator's terminal left in Windows-1251 (docs/deploy.md, step 10: "odd characters")
    sends other bytes than UTF-8 for Russian letters. Typed into a comment, they show as
    replacement characters the operator can see and delete; the app goes on and saves."""
    clinic = shared_clinic
    alice = login(tmux_socket, sshd, operators[0].name, "alice")
    open_list(alice, CLIENTS[0])
    alice.wait_for_text(FREE)
    alice.keys("c")
    alice.wait_for_text(MINE)
    alice.keys("f")
    alice.wait_for_text("Result of the call")
    alice.keys("1")
    alice.tmux("send-keys", "-t", alice.name, "-H", "cf", "f0", "e8")  # "При" in Windows-1251
    alice.type(" ok")
    alice.wait_for_text("\ufffd ok")
    alice.keys("Enter")
    alice.wait_for(lambda s: "Result of the call" not in s, "the result dialog to close")
    [(comment,)] = clinic.query("SELECT comment FROM attempts")
    assert str(comment).endswith("\ufffd ok") and set(str(comment)[:-3]) == {"\ufffd"}
    alice.keys("Escape")
    alice.wait_for_text("Mass calling —")
    alice.keys("q")
    assert alice.exit_status() == 0, alice.screen() + alice.details()


# -- one operator, two windows --------------------------------------------------------------------

OTHER_WINDOW = "Your call in another window, open or closed"


def flat(screen: str) -> str:
    """The screen's words in one line, without the frames of dialogs: wrapped text is found."""
    return " ".join(re.sub(r"[┃│┏┓┗┛━]", " ", screen).split())


ASKED = "Take it over here?"


def test_two_windows_of_one_operator_do_not_steal_from_each_other(
    operators: tuple[User, User], sshd: Server, shared_clinic: SharedClinic, tmux_socket: Path
) -> None:
    clinic = shared_clinic
    name = operators[0].name
    anna, boris, _ = clinic.items

    def lock_of(item: int) -> list[tuple[object, ...]]:
        return clinic.query("SELECT operator, session_id FROM locks WHERE source_id = ?", (item,))

    first = login(tmux_socket, sshd, name, "first")
    open_list(first, CLIENTS[0])
    first.wait_for_text(FREE)
    first.keys("c")
    first.wait_for_text(MINE)
    [(_, first_session)] = lock_of(anna)
    second = login(tmux_socket, sshd, name, "second", term="linux")
    open_list(second, CLIENTS[0])
    second.wait_for_text(OTHER_WINDOW)
    [(tty,)] = clinic.query("SELECT tty FROM sessions WHERE id = ?", (first_session,))
    assert str(tty).startswith("/dev/pts/")

    # c asks, saying where that window is; n moves nothing; a and f leave the call alone.
    second.keys("c")
    asked = second.wait_for_text(ASKED)
    assert f"/{str(tty).removeprefix('/dev/')})" in flat(asked)  # (since …, on HOST/pts/N)
    second.keys("n")
    second.wait_for(lambda s: ASKED not in s, "the question to close")
    for key in ("a", "f"):
        second.keys(key)
        second.wait_for(lambda s: "held by another window of yours" in flat(s), "the refusal")
        second.keys("Escape")
        second.wait_for(lambda s: "Enter or Escape to close" not in s, "the notice to close")
    assert lock_of(anna) == [(name, first_session)]

    # The first window saves its call as if the second did not exist.
    first.keys("f")
    first.wait_for_text("Result of the call")
    first.keys("1")
    first.type(COMMENT)
    first.wait_for_text(COMMENT)
    first.keys("Enter")
    first.wait_for(lambda s: "Result of the call" not in s, "the result dialog to close")
    assert clinic.query("SELECT session_id, outcome FROM attempts") == [
        (first_session, "confirmed")
    ]
    second.wait_for(lambda s: CLIENTS[0] not in s, "Anna's row to leave the second window")

    # Only a yes moves a call: the first window calls Boris, the second takes it over.
    first.wait_for(lambda s: active(s) == CLIENTS[1] and FREE in s, "Boris, free")
    first.keys("c")
    first.wait_for_text(MINE)
    second.wait_for(
        lambda s: active(s) == CLIENTS[1] and OTHER_WINDOW in s, "Boris open in the other window"
    )
    second.keys("c")
    second.wait_for_text(ASKED)
    second.keys("y")
    second.wait_for_text(MINE)
    second_session, _ = session_of(clinic, name)
    assert lock_of(boris) == [(name, second_session)]
    # The first window is told at once, and cannot save there.
    first.wait_for(lambda s: "taken over in your other window" in flat(s), "the notice")
    first.keys("Escape")
    first.wait_for(lambda s: "Your call was taken" not in s, "the notice to close")
    first.wait_for_text(OTHER_WINDOW)
    first.keys("f")
    first.wait_for(lambda s: "held by another window of yours" in flat(s), "the refusal")
    first.keys("Escape")
    [(detail,)] = clinic.query("SELECT detail FROM audit WHERE event = 'takeover'")
    assert '"holder_alive": true' in str(detail) and f'"holder_session": {first_session}' in str(
        detail
    )
    second.keys("a")
    second.wait_for_text("Processing aborted")
    for terminal in (first, second):
        terminal.keys("Escape")
        terminal.wait_for_text("Mass calling —")
        terminal.keys("q")
    for terminal in (first, second):
        assert terminal.exit_status() == 0, terminal.screen() + terminal.details()
    assert clinic.query("SELECT count(*) FROM attempts") == [(1,)]
    assert clinic.query("SELECT count(*) FROM sessions WHERE ended_at IS NULL") == [(0,)]


# -- the guide's SSH set-up ----------------------------------------------------------------------


def test_the_guides_sshd_blocks_and_login_wrapper_are_valid(tmp_path: Path) -> None:
    """docs/deploy.md's sshd_config blocks pass ``sshd -t``; its login wrapper is valid sh."""
    if not os.access(SSHD, os.X_OK):
        pytest.skip(f"{SSHD} is missing (apt-get install openssh-server)")
    blocks = guide_blocks("sshd_config")
    assert len(blocks) == 3 and "ForceCommand /usr/local/bin/ringround-login" in blocks[0]
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host_key"))
    config = tmp_path / "sshd_config"
    config.write_text(
        f"HostKey {tmp_path / 'host_key'}\nUsePAM no\n" + "".join(blocks), encoding="utf-8"
    )
    result = run(SSHD, "-t", "-f", str(config), check=False)
    assert result.returncode == 0, result.stderr
    [wrapper] = [block for block in guide_blocks("sh") if block.startswith("#!/bin/sh")]
    assert "umask 002" in wrapper and "--policy /etc/ringround/policy.toml" in wrapper
    assert run("sh", "-n", "-c", wrapper, check=False).returncode == 0


# Step 7's groups, by the guide's names; the test's own for the server.
STEP_7_GROUPS = {
    "ringround-operators": GROUP,
    "ringround-supervisors": "rr-e2e-sups",
    "ringround-shell": "rr-e2e-shell",
}


def effective_settings(config: Path, user: str) -> dict[str, str]:
    """What sshd applies to a connection of ``user`` (sshd -T: every Match block evaluated)."""
    shown = run(SSHD, "-T", "-f", str(config), "-C", f"user={user},host=client,addr=127.0.0.1")
    return dict(line.split(" ", 1) for line in shown.stdout.splitlines() if " " in line)


def test_a_supervisor_who_keeps_the_login_program_stays_in_the_operators_block(
    operators: tuple[User, User], tmp_path: Path
) -> None:
    """Step 7 as written: Bob, a supervisor, gets a shell and is left out of step 6's block
    (but not out of its keep-alive); Alice, a supervisor who works in the app only, keeps the
    login program - and with it the block's forced ringround, no forwarding (nor, with
    internal-sftp, file transfer) and the keep-alive that notices her dropped connection."""
    alice, bob = operators
    [line] = re.findall(r"`(Match Group [^`]*)`", "\n".join(guide_text().split("## 7.")[1:2]))
    for guide_name, name in STEP_7_GROUPS.items():
        line = re.sub(rf"\b{guide_name}\b", name, line)
    made = [name for name in STEP_7_GROUPS.values() if name != GROUP]
    try:
        for name in made:
            run("groupadd", name)
        run("usermod", "--append", "--groups", STEP_7_GROUPS["ringround-supervisors"], alice.name)
        run("usermod", "--append", "--groups", ",".join(made), "--shell", "/bin/bash", bob.name)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host_key"))
        block = operators_block(Path(GUIDE_LOGIN), None).replace(f"Match Group {GROUP}", line)
        # The step's other blocks (those for the group given a shell), as the guide has them.
        for other in guide_blocks("sshd_config"):
            if other.startswith("Match Group ringround-shell"):
                block += other.replace("ringround-shell", STEP_7_GROUPS["ringround-shell"])
        config = tmp_path / "sshd_config"
        config.write_text(
            f"HostKey {tmp_path / 'host_key'}\nUsePAM no\nSubsystem sftp internal-sftp\n{block}",
            encoding="utf-8",
        )
        kept = effective_settings(config, alice.name)
        shell = effective_settings(config, bob.name)
    finally:
        for name in made:
            run("groupdel", name, check=False)
    assert (
        kept["forcecommand"],
        kept["disableforwarding"],
        kept["clientaliveinterval"],
    ) == (GUIDE_LOGIN, "yes", "10"), line
    # Bob runs ringround from his shell: his dropped connection must be noticed all the same.
    assert (shell["forcecommand"], shell["clientaliveinterval"]) == ("none", "10"), line
