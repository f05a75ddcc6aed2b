"""``ringround check`` on a clinic server set up as docs/deploy.md says, and on each mistake.

Two kinds of tests. Those about modes, groups, the umask and the policy and
secret files read ``os.stat`` and work as any user. Those about what an
operator may actually do run ``ringround check`` as an operator: as root (where
chmod stops nothing) a throw-away Unix user in a group of its own
(tests/unix_users.py), otherwise the user running the tests.

The last test is about terminals: Escape must be told from an arrow key
quickly, whatever ESCDELAY the operator's profile sets.
"""

from __future__ import annotations

import grp
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.main import main
from storage.connection import Connection
from storage.database import open_database
from storage.engine import write
from storage.health import OK, PROBLEM, WARNING, Finding, check, current_umask, exit_status
from storage.policy import Policy, default_policy, load_policy
from tests.command_env import command_env
from tests.fake_ami import fake_ami_in_background
from tests.unix_users import need_root_tools, reachable, ringround_command, run, temporary_users
from tui.start import keep_escape_short

ROOT = Path(__file__).resolve().parents[2]


def levels(findings: list[Finding]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {OK: [], WARNING: [], PROBLEM: []}
    for finding in findings:
        result[finding.level].append(finding.text)
    return result


def only(texts: list[str], *words: str) -> str:
    """The one text containing every word (fails with all texts shown otherwise)."""
    found = [t for t in texts if all(word in t for word in words)]
    assert len(found) == 1, (words, texts)
    return found[0]


@dataclass
class Server:
    """A clinic's files as deploy.md lays them out, in a fresh folder under /tmp."""

    top: Path  # stands for /var/lib: open to all
    folder: Path  # /var/lib/ringround: 2770, the operators' group
    db: Path
    policy_file: Path
    secret: Path

    def policy(self) -> Policy:
        return load_policy(self.policy_file)


def lay_out(gid: int, pbx_port: int = 5038) -> Server:
    top = Path(tempfile.mkdtemp(prefix="rr-deploy-"))  # under /tmp, which all may enter
    os.chmod(top, 0o755)
    folder = top / "ringround"
    folder.mkdir()
    os.chown(folder, -1, gid)
    os.chmod(folder, 0o2770)
    db = folder / "clinic.db"
    open_database(db, create=True).close()
    os.chmod(db, 0o660)
    etc = top / "etc"
    etc.mkdir()
    os.chmod(etc, 0o755)
    secret = etc / "ami.secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    os.chown(secret, -1, gid)
    os.chmod(secret, 0o640)
    policy_file = etc / "policy.toml"
    log = top / "log"  # as /var/log/ringround: the operators' group appends to the log
    log.mkdir()
    os.chown(log, -1, gid)
    os.chmod(log, 0o2770)
    policy_file.write_text(
        f'[telephony]\nenabled = true\nport = {pbx_port}\nsecret_file = "{secret}"\n'
        f'[log]\nto = "file"\nfile = "{log / "ringround.log"}"\n',
        encoding="utf-8",
    )
    os.chown(policy_file, -1, gid)
    os.chmod(policy_file, 0o640)
    return Server(top, folder, db, policy_file, secret)


def remove(server: Server) -> None:
    """Delete the layout, even folders a test made read-only (which binds a non-root owner)."""
    for folder, _, _ in os.walk(server.top):
        os.chmod(folder, 0o700)
    shutil.rmtree(server.top, ignore_errors=True)


@pytest.fixture
def pbx_port() -> Iterator[int]:
    """The phone exchange the deployment's policy names (check logs in to it)."""
    with fake_ami_in_background() as pbx:
        yield pbx.port


@pytest.fixture
def server(group_umask: None, pbx_port: int) -> Iterator[Server]:
    made = lay_out(os.getgid(), pbx_port)
    yield made
    remove(made)


# -- what os.stat shows --------------------------------------------------------------------------


def test_the_documented_layout_is_all_well(server: Server) -> None:
    findings = check(server.db, server.policy())
    found = levels(findings)
    assert found[PROBLEM] == [] and found[WARNING] == [], findings
    assert exit_status(findings) == 0
    only(found[OK], "PBX password file", "readable by its group", "nobody else")
    assert all("\n" not in f.text for f in findings)


def test_database_open_to_every_user(server: Server) -> None:
    os.chmod(server.db, 0o664)
    warnings = levels(check(server.db, server.policy()))[WARNING]
    only(
        warnings,
        f"Every user of this server may read {server.db}",
        "patients' data",
        f"chmod o-rwx {server.db}",
    )
    os.chmod(server.db, 0o666)
    warnings = levels(check(server.db, server.policy()))[WARNING]
    only(warnings, "may read and change", f"chmod o-rwx {server.db}")


def test_wal_and_shm_not_writable_by_the_group(server: Server) -> None:
    holder = busy_database(server.db)
    try:
        os.chmod(f"{server.db}-wal", 0o640)
        warnings = levels(check(server.db, server.policy()))[WARNING]
        only(
            warnings, f"{server.db}-wal is not writable by its group", f"chmod g+rw {server.db}-wal"
        )
    finally:
        holder.close()


def busy_database(path: Path) -> Connection:
    """A connection that keeps -wal and -shm in place, with saves in the -wal.

    (SQLite gives an empty -wal the database file's mode again when it opens it.)
    """
    conn = open_database(path)
    with write(conn):
        conn.execute("INSERT INTO clients (name) VALUES ('Still in the WAL')")
    return conn


def test_folder_without_setgid_or_group_write(server: Server) -> None:
    os.chmod(server.folder, 0o770)
    only(
        levels(check(server.db, server.policy()))[WARNING],
        "creator's own group",
        f"chmod g+s {server.folder}",
    )
    os.chmod(server.folder, 0o2750)
    only(
        levels(check(server.db, server.policy()))[WARNING],
        "not writable by its group",
        f"chmod g+rwx {server.folder}",
    )


def _another_group() -> int:
    if os.geteuid() == 0:
        for name in ("nogroup", "daemon", "users"):
            try:
                return grp.getgrnam(name).gr_gid
            except KeyError:
                continue
        return 65534
    others = [g for g in os.getgroups() if g != os.getgid()]
    if not others:
        pytest.skip("needs root, or a user in a second group, to change a file's group")
    return others[0]


def test_database_in_another_group_than_its_folder(server: Server) -> None:
    other = _another_group()
    os.chown(server.db, -1, other)
    group = grp.getgrgid(os.stat(server.folder).st_gid).gr_name
    only(
        levels(check(server.db, server.policy()))[WARNING],
        "not to its folder's group",
        f"chgrp {group} {server.db}",
    )


def test_a_closed_folder_on_the_way(server: Server) -> None:
    os.chmod(server.top, 0o700)
    warnings = levels(check(server.db, server.policy()))[WARNING]
    only(
        warnings,
        f"cannot reach {server.folder}",
        f"{server.top} is closed to them",
        f"chmod o+x {server.top}",
    )
    os.chmod(server.top, 0o711)  # search only is enough
    assert levels(check(server.db, server.policy()))[WARNING] == []


def test_umask_advice(server: Server) -> None:
    os.umask(0o022)
    assert current_umask() == 0o022
    only(levels(check(server.db, server.policy()))[WARNING], "Your umask is 0022", "umask 002")
    os.umask(0o077)
    only(levels(check(server.db, server.policy()))[WARNING], "Your umask is 0077")
    os.umask(0o002)
    assert levels(check(server.db, server.policy()))[WARNING] == []
    os.umask(0o022)  # a folder that is not shared: the group findings come first
    os.chmod(server.folder, 0o755)
    assert not [t for t in levels(check(server.db, server.policy()))[WARNING] if "umask" in t]


def test_policy_file_modes(server: Server) -> None:
    policy = server.policy()  # loaded first: root could read it anyway
    os.chmod(server.policy_file, 0o600)
    findings = check(server.db, policy)
    only(
        levels(findings)[PROBLEM],
        f"Only its owner may read the policy {server.policy_file}",
        f"chmod 640 {server.policy_file}",
    )
    assert exit_status(findings) == 1
    os.chmod(server.policy_file, 0o664)
    only(
        levels(check(server.db, policy))[WARNING],
        "may be changed by its group",
        "supervisor",
        f"chmod go-w {server.policy_file}",
    )
    os.chmod(server.policy_file, 0o646)
    only(levels(check(server.db, policy))[WARNING], "may be changed by everyone")
    os.chmod(server.policy_file, 0o644)
    assert levels(check(server.db, policy))[WARNING] == []


def test_secret_file_modes(server: Server) -> None:
    policy = server.policy()
    os.chmod(server.secret, 0o644)
    findings = check(server.db, policy)
    only(
        levels(findings)[PROBLEM],
        f"may read or change the PBX password file {server.secret}",
        "refuses it",
        f"chmod 640 {server.secret}",
    )
    assert exit_status(findings) == 1
    os.chmod(server.secret, 0o600)
    only(
        levels(check(server.db, policy))[WARNING],
        "may read the PBX password file",
        "other operators cannot place PBX calls",
        f"chmod 640 {server.secret}",
    )
    server.secret.unlink()
    server.secret.mkdir()
    only(levels(check(server.db, policy))[PROBLEM], "is not a plain file")
    server.secret.rmdir()
    only(
        levels(check(server.db, policy))[PROBLEM],
        "cannot read the PBX password file",
        f"chmod 640 {server.secret}",
        "enabled = false",
    )
    disabled = default_policy()
    assert not [t for t in levels(check(server.db, disabled))[PROBLEM] if "PBX" in t]


def test_the_command_prints_one_line_per_finding(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chmod(server.db, 0o664)
    os.chmod(server.secret, 0o644)
    code = main(["check", "--db", str(server.db), "--policy", str(server.policy_file)])
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "1 problem found."
    labels = [line.split()[0] for line in lines[:-1]]
    assert set(labels) <= {"ok", "warning", "PROBLEM"}, lines
    assert labels.count("PROBLEM") == 1 and labels.count("warning") == 1
    for line in lines[:-1]:
        if not line.startswith("ok"):
            assert re.search(r"; (run|make|move|create|give|stop|ask|put|check) ", line), line


# -- what an operator may really do --------------------------------------------------------------

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def as_operator(group_umask: None, pbx_port: int) -> Iterator[tuple[Server, str, Run]]:
    """A deployment and a way to run ``ringround ARGS`` as an operator in its group."""
    if os.geteuid() != 0:  # chmod binds this user: they can be the operator
        made = lay_out(os.getgid(), pbx_port)

        def as_me(*args: str) -> subprocess.CompletedProcess[str]:
            return run(str(ringround_command()), *args, check=False, env=_environment())

        try:
            yield made, _login(), as_me
        finally:
            remove(made)
        return
    need_root_tools()
    with temporary_users("rr-check-ops", ("rr_check_op",)) as (gid, users):
        user = users[0]
        made = lay_out(gid, pbx_port)
        try:
            with reachable(user) as command:

                def as_user(*args: str) -> subprocess.CompletedProcess[str]:
                    return run(
                        "runuser",
                        "-u",
                        user.name,
                        "--",
                        str(command),
                        *args,
                        check=False,
                        env=_environment(),
                    )

                yield made, user.name, as_user
        finally:
            remove(made)


def _environment() -> dict[str, str]:
    return command_env()


def _login() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _check(server: Server, ringround: Run) -> subprocess.CompletedProcess[str]:
    return ringround("check", "--db", str(server.db), "--policy", str(server.policy_file))


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]


def test_operator_on_a_correct_deployment(as_operator: tuple[Server, str, Run]) -> None:
    server, name, ringround = as_operator
    result = _check(server, ringround)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"You ({name}) may read and write {server.db} and its folder." in result.stdout
    assert "You can save to" in result.stdout
    assert "warning" not in result.stdout, result.stdout


def test_operator_may_not_write_the_database(as_operator: tuple[Server, str, Run]) -> None:
    server, name, ringround = as_operator
    os.chmod(server.db, 0o440)  # read-only for the group (and for its owner, if that is us)
    result = _check(server, ringround)
    assert result.returncode == 1, result.stdout
    found = problems(result)
    only(found, f"You ({name}) may not write {server.db};", f"chmod g+rw {server.db})")


def test_operator_may_not_write_the_folder(as_operator: tuple[Server, str, Run]) -> None:
    server, _, ringround = as_operator
    os.chmod(server.folder, 0o2550)
    result = _check(server, ringround)
    assert result.returncode == 1, result.stdout
    found = problems(result)
    assert [
        t
        for t in found
        if ("folder" in t and "writable by the operators' group" in t)
        or f"may not create files in {server.folder}" in t
    ], found


def test_operator_may_not_write_the_wal(as_operator: tuple[Server, str, Run]) -> None:
    server, _, ringround = as_operator
    holder = busy_database(server.db)  # another operator working: -wal and -shm exist
    try:
        os.chmod(f"{server.db}-wal", 0o440)
        result = _check(server, ringround)
    finally:
        holder.close()
    assert result.returncode == 1, result.stdout
    only(problems(result), f"may not write {server.db}-wal", f"chmod g+rw {server.db}-wal")


def test_operator_may_not_read_the_policy(as_operator: tuple[Server, str, Run]) -> None:
    server, _, ringround = as_operator
    os.chmod(server.policy_file, 0o600 if os.geteuid() == 0 else 0o000)
    result = _check(server, ringround)
    assert result.returncode == 2
    assert result.stderr == (
        f"ringround: {server.policy_file}: the policy file cannot be read (permission denied).\n"
    )


def test_operator_may_not_read_the_secret(as_operator: tuple[Server, str, Run]) -> None:
    server, _, ringround = as_operator
    os.chmod(server.secret, 0o600 if os.geteuid() == 0 else 0o000)
    result = _check(server, ringround)
    assert result.returncode == 1, result.stdout
    only(
        problems(result),
        f"cannot read the PBX password file {server.secret}",
        f"chmod 640 {server.secret}",
    )


# -- terminals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "used"), [(None, "100"), ("1000", "250"), ("25", "25"), ("soon", "100"), ("0", "1")]
)
def test_escape_delay_is_kept_short(given: str | None, used: str) -> None:
    """ESCDELAY (ms) as Textual reads it when the app starts; curses' 1000 would feel dead."""
    code = (
        "import os, sys\n"
        "from tui.start import keep_escape_short\n"
        "keep_escape_short()\n"
        "import textual.constants as c\n"
        "print(os.environ['ESCDELAY'], round(c.ESCAPE_DELAY * 1000))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "ESCDELAY"}
    if given is not None:
        environment["ESCDELAY"] = given
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [used, used]


def test_escape_delay_when_textual_is_already_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import textual.constants

    monkeypatch.setattr(textual.constants, "ESCAPE_DELAY", 1.0)
    monkeypatch.setenv("ESCDELAY", "1000")
    keep_escape_short()
    assert textual.constants.ESCAPE_DELAY == 0.25


def test_sqlite_gives_wal_and_shm_the_database_file_mode(server: Server) -> None:
    """Why deploy.md can promise group-writable -wal/-shm whatever the umask of their maker."""
    os.umask(0o077)
    conn = sqlite3.connect(server.db)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        for suffix in ("-wal", "-shm"):
            assert os.stat(f"{server.db}{suffix}").st_mode & 0o777 == 0o660
    finally:
        conn.close()
