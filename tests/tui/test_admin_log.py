"""The administrator's log: real lines in a real file and on a real syslog socket.

Lines are read back from where they went: a log file (rotated while several
processes append to it) and a Unix datagram socket bound by the test, which
stands for /dev/log. The events: lock takeovers and removals (only once
committed), refused logins, crashes of a command and of the app, failed PBX
calls and an exchange that is down.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import re
import socket
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from cli.main import main
from storage import admin_log
from storage.admin_log import LogTarget, configure, field, log_event, log_refused_login
from storage.audit import audit
from storage.engine import write
from storage.health import WARNING, Finding, policy_findings
from storage.locks import Claim, claim_row, remove_stale_locks
from storage.policy import Policy, default_policy
from storage.rows import APPOINTMENT, RowKey
from storage.sessions import heartbeat
from tests.clinic_fixtures import wait_until
from tests.fake_ami import FakeAmi
from tests.pty_app import PtyApp, ringround_argv, terminal_env
from tests.stored_clinic import NOW, StoredClinic, release_held
from tests.tui.test_tui_telephony import (
    build_db,
    free_port,
    make_app,
    notice,
    on_work_screen,
    telephony_policy,
)

OFF = LogTarget("off", "/dev/log", "/var/log/ringround/ringround.log", 10, 5)
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ringround\[(\d+)\]: (.*)$")


def file_target(path: Path, *, max_mb: int = 10, keep: int = 5) -> LogTarget:
    return LogTarget(to="file", syslog_socket="/dev/log", file=str(path), max_mb=max_mb, keep=keep)


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """The log goes to a file for this test; the lines are read back from it."""
    path = tmp_path / "log" / "ringround.log"
    path.parent.mkdir()
    configure(file_target(path))
    yield path
    configure(OFF)


def lines(path: Path) -> list[str]:
    """The messages of the log file's lines (time and process checked, then dropped)."""
    if not path.exists():
        return []
    found = []
    for text in path.read_text(encoding="utf-8").splitlines():
        match = LINE.match(text)
        assert match, text
        found.append(match.group(2))
    return found


def test_field_escapes_what_could_forge_a_line_or_paint_a_terminal() -> None:
    assert field(None) == "-"
    assert field("anna") == "anna"
    assert field("") == '""'
    assert field("Anna Petrova") == '"Anna Petrova"'
    assert field('say "hi"') == '"say \\"hi\\""'
    assert field("a\nb") == "a\\x0ab"
    assert field("\x1b[31mred") == "\\x1b[31mred"
    assert field("back\\slash") == "back\\\\slash"
    assert field("evil\u202egnp.exe") == "evil\\u202egnp.exe"  # right-to-left override
    assert field("one\u2028two") == "one\\u2028two"  # Unicode's line separator
    assert field("Иванова") == "Иванова"


def test_a_line_in_the_file(log_file: Path) -> None:
    log_event(
        logging.ERROR,
        "pbx-error",
        operator="anna\nfake-line",
        session=7,
        row=RowKey(APPOINTMENT, 5),
        reason="Cannot reach the exchange.",
    )
    (text,) = log_file.read_text(encoding="utf-8").splitlines()
    match = LINE.match(text)
    assert match and int(match.group(1)) == os.getpid()
    assert match.group(2) == (
        "pbx-error operator=anna\\x0afake-line session=7 "
        'row=appointment:5 reason="Cannot reach the exchange."'
    )
    assert oct(os.stat(log_file).st_mode & 0o777) == oct(0o660)


def test_a_line_on_the_system_log_socket(tmp_path: Path) -> None:
    """The socket stands for /dev/log: journald and rsyslog read datagrams like this one."""
    address = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        try:
            configure(LogTarget("syslog", address, "/unused", 10, 5))
            log_refused_login("boris", "--operator not allowed by the policy", requested="anna")
            datagram = server.recv(4096).decode("utf-8")
        finally:
            configure(OFF)
    # <12>: facility user (1 × 8) + priority warning (4); journald takes the name and pid.
    assert datagram == (
        f"<12>ringround[{os.getpid()}]: login-refused operator=boris session=- "
        'row=- reason="--operator not allowed by the policy" requested=anna\x00'
    )


def test_a_log_that_cannot_be_written_stays_quiet(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Not a word on the operator's terminal (check reports it to the administrator)."""
    for target in (
        LogTarget("syslog", str(tmp_path / "no.sock"), "/unused", 10, 5),
        file_target(tmp_path / "no-such-folder" / "ringround.log"),
    ):
        configure(target)
        log_event(logging.ERROR, "pbx-error", operator="anna", session=1)
    configure(OFF)
    assert capfd.readouterr() == ("", "")


def test_check_says_when_the_log_file_is_a_folder(tmp_path: Path) -> None:
    """[log] file naming a folder: no line could ever be written there, even by root."""
    folder = tmp_path / "log"
    folder.mkdir()
    finding = policy_findings(
        dataclasses.replace(default_policy(), log=file_target(folder)), "", "ringround-operators"
    )[-1]
    assert finding == Finding(
        WARNING,
        f"The log file {folder} is not a file but a folder, so ringround's log is lost; set "
        f'[log] file to a file in it, such as file = "{folder}/ringround.log".',
    )


# -- lock events, once committed ------------------------------------------------------------


def test_takeover_and_removal_are_logged(
    log_file: Path, clinic: StoredClinic, policy: Policy
) -> None:
    key = RowKey(APPOINTMENT, clinic.add_appointment(clinic.add_client(), NOW + 86400))
    boris = clinic.session("boris", NOW - 3600)
    claim = claim_row(clinic.conn, policy, boris, key, NOW - 3600)
    assert isinstance(claim, Claim)
    heartbeat(clinic.conn, boris, NOW)  # boris is still working, but his lock is stale
    anna = clinic.session("anna", NOW)
    state = claim_row(clinic.conn, policy, anna, key, NOW)
    assert not isinstance(state, Claim) and state.lock is not None
    assert isinstance(claim_row(clinic.conn, policy, anna, key, NOW, take_over=state.lock), Claim)
    assert lines(log_file) == [
        f"lock-takeover operator=anna session={anna.id} row={key} client={claim.client_id} "
        f"holder=boris holder_session={boris.id} since={NOW - 3600} holder_alive=True"
    ]

    # anna's app stops; an hour later the sweep of carla's app removes the stale lock.
    carla = clinic.session("carla", NOW + 3600)
    assert remove_stale_locks(clinic.conn, policy, carla, NOW + 3600) == 1
    assert lines(log_file)[1] == (
        f"lock-auto-removal operator=carla session={carla.id} row={key} "
        f"client={claim.client_id} holder=anna holder_session={anna.id} since={NOW}"
    )


def test_a_supervisor_release_is_logged(
    log_file: Path, clinic: StoredClinic, policy: Policy
) -> None:
    key = RowKey(APPOINTMENT, clinic.add_appointment(clinic.add_client(), NOW + 86400))
    anna = clinic.session("anna")
    assert isinstance(claim_row(clinic.conn, policy, anna, key, NOW), Claim)
    olga = clinic.session("olga", supervisor=True)
    release_held(clinic.conn, olga, key, NOW + 60)
    (text,) = lines(log_file)
    assert text.startswith(f"lock-release-by-supervisor operator=olga session={olga.id} row={key} ")
    assert f"holder=anna holder_session={anna.id}" in text


def test_nothing_is_logged_for_a_transaction_rolled_back(
    log_file: Path, clinic: StoredClinic
) -> None:
    key = RowKey(APPOINTMENT, 1)
    with pytest.raises(RuntimeError), write(clinic.conn):
        audit(clinic.conn, NOW, "anna", 1, "takeover", key, 1, holder="boris")
        raise RuntimeError("the save failed")
    with write(clinic.conn):
        try:
            with write(clinic.conn):  # a savepoint, undone alone
                audit(clinic.conn, NOW, "anna", 1, "takeover", key, 1, holder="boris")
                raise RuntimeError("this row failed")
        except RuntimeError:
            pass
        audit(clinic.conn, NOW, "anna", 1, "auto-removal", key, 1, holder="carla")
    assert lines(log_file) == [
        f"lock-auto-removal operator=anna session=1 row={key} client=1 holder=carla"
    ]
    assert admin_log._pending == {}


# -- refused logins and crashes through the command line ---------------------------------


def _policy_with_file_log(folder: Path, log: Path, extra: str = "") -> Path:
    policy = folder / "policy.toml"
    policy.write_text(f'{extra}[log]\nto = "file"\nfile = "{log}"\n', encoding="utf-8")
    return policy


def test_a_refused_operator_override_is_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "ringround.log"
    policy = _policy_with_file_log(tmp_path, log)
    try:
        assert (
            main(["--policy", str(policy), "--db", str(tmp_path / "x.db"), "--operator", "olga"])
            == 2
        )
    finally:
        configure(OFF)
    assert "does not allow --operator" in capsys.readouterr().err
    (text,) = lines(log)
    assert re.fullmatch(
        r'login-refused operator=\S+ session=- row=- reason="--operator not '
        r'allowed by the policy" requested=olga',
        text,
    ), text


def test_a_crashing_command_logs_the_traceback_and_says_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import storage.backup

    def broken(*args: object) -> None:
        raise ZeroDivisionError("division by zero in the backup")

    monkeypatch.setattr(storage.backup, "backup_database", broken)
    monkeypatch.delenv("RINGROUND_DEBUG", raising=False)
    log = tmp_path / "ringround.log"
    policy = _policy_with_file_log(tmp_path, log)
    try:
        assert (
            main(
                [
                    "backup",
                    str(tmp_path / "copy.db"),
                    "--policy",
                    str(policy),
                    "--db",
                    str(tmp_path / "x.db"),
                ]
            )
            == 1
        )
    finally:
        configure(OFF)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    (text,) = lines(log)
    assert text.startswith("crash operator=")
    assert 'error="ZeroDivisionError: division by zero in the backup"' in text
    assert 'traceback="Traceback (most recent call last):\\x0a' in text
    assert "in broken\\x0a" in text


# -- several processes rotate one file ------------------------------------------------------

LINES_EACH = 4000


def _writer(path: str, number: int, start: Barrier) -> None:
    configure(file_target(Path(path), max_mb=1, keep=20))
    start.wait(timeout=120)
    padding = "x" * 100
    for n in range(LINES_EACH):
        log_event(
            logging.INFO, "probe", operator=f"op{number}", session=number, row=n, padding=padding
        )


def test_processes_share_and_rotate_one_file(tmp_path: Path) -> None:
    """About 2.5 MB from three processes at once: rotated at 1 MB, no line lost or torn."""
    path = tmp_path / "log" / "ringround.log"
    path.parent.mkdir()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(3)
    workers = [context.Process(target=_writer, args=(str(path), n, start)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    files = sorted(path.parent.iterdir())
    assert path in files and len(files) >= 3  # ringround.log, .1, .2
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}
    for file in files:
        assert file.stat().st_size <= 1024 * 1024
        for text in lines(file):
            match = re.fullmatch(r"probe operator=op(\d) session=\d row=(\d+) padding=x{100}", text)
            assert match, text
            seen[int(match.group(1))].append(int(match.group(2)))
    for rows in seen.values():
        assert sorted(rows) == list(range(LINES_EACH))


# -- the app: a crash, and the phone exchange ---------------------------------------------


async def test_an_app_crash_is_logged_and_the_operator_gets_a_sentence(
    log_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Textual would print a traceback with local variables; the operator gets one sentence."""
    monkeypatch.delenv("RINGROUND_DEBUG", raising=False)
    path = tmp_path / "clinic.db"
    build_db(path)
    policy = telephony_policy(tmp_path, free_port())
    app = make_app(path, policy)

    def boom() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        async with on_work_screen(app) as pilot:
            app.call_later(boom)
            await wait_until(pilot, lambda: not app.is_running, "the app to stop on the bug")
    crash = [text for text in lines(log_file) if text.startswith("crash ")]
    assert len(crash) == 1, lines(log_file)
    assert crash[0].startswith(
        f"crash operator=alice session={app.session.id} "
        "row=appointment:1 error=\"KeyError: 'a bug'\" "
    )
    shown = capfd.readouterr().err
    assert " ".join(shown.split()) == (
        "ringround stopped because of an unexpected error; the details went to the "
        "administrator's log. What you saved is kept, and a call you were on stays yours: "
        "start ringround again to go on."
    )


def test_a_failure_of_textuals_input_thread_is_an_app_crash_like_any_other(
    tmp_path: Path,
) -> None:
    """Textual reads the terminal on a thread of its own. A key sequence its parser cannot
    take (a kitty keyboard code past any character, from a misbehaving terminal) stopped that
    thread: Textual printed its traceback on the operator's screen, the app exited with 0 and
    the log had nothing. Now it ends as an app crash does (the real program, on a pty)."""
    db = tmp_path / "clinic.db"
    build_db(db)
    log = tmp_path / "ringround.log"
    policy = _policy_with_file_log(tmp_path, log)
    env = terminal_env()
    env.pop("RINGROUND_DEBUG", None)
    app = PtyApp([*ringround_argv(), "--db", str(db), "--policy", str(policy)], env=env)
    try:
        app.wait_for("Mass calling", timeout=60)
        app.send(b"\x1b[99999999999999999999u")
        code = app.wait_exit(30)
        app.wait_until(lambda: app.closed, "the program's last words")
        shown = " ".join(app.text().split())
    finally:
        app.close()
    assert code == 1
    assert "Traceback" not in shown and "OverflowError" not in shown
    assert shown.endswith(
        "ringround stopped because of an unexpected error; the details went to the "
        "administrator's log. What you saved is kept, and a call you were on stays yours: "
        "start ringround again to go on."
    ), shown[-600:]
    crash = [text for text in lines(log) if text.startswith("crash ")]
    assert len(crash) == 1 and 'error="OverflowError: ' in crash[0], lines(log)


async def test_pbx_trouble_is_logged(log_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    ids = build_db(path)
    async with FakeAmi() as pbx:
        app = make_app(path, telephony_policy(tmp_path, pbx.port))
        async with on_work_screen(app, row=2) as pilot:
            await pilot.press("1")  # the operator's phone rings without an answer
            await wait_until(pilot, lambda: "rang without an answer" in notice(app), "notice")
    assert (
        f"pbx-call-failed operator=alice session={app.session.id} "
        f"row=appointment:{ids['no-pickup']} reason=\"The operator's phone rang without an "
        'answer."'
    ) in lines(log_file)

    down = free_port()
    app = make_app(path, telephony_policy(tmp_path, down))
    async with on_work_screen(app) as pilot:
        await wait_until(
            pilot, lambda: any("pbx-error" in t for t in lines(log_file)), "the log line"
        )
    (error,) = [t for t in lines(log_file) if t.startswith("pbx-error")]
    assert error == (
        f'pbx-error operator=alice session={app.session.id} row=- reason="Cannot '
        f"reach the phone exchange at 127.0.0.1:{down} (connection refused); check "
        "that it is running and the policy's [telephony] host and port.\""
    )


def test_an_app_start_without_a_terminal_is_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under pytest standard output is not a terminal, as with ssh host cmd, sftp or scp."""
    db = tmp_path / "clinic.db"
    build_db(db)
    log = tmp_path / "ringround.log"
    policy = _policy_with_file_log(tmp_path, log)
    try:
        assert main(["--policy", str(policy), "--db", str(db)]) == 2
    finally:
        configure(OFF)
    assert "The app needs a terminal" in capsys.readouterr().err
    (text,) = lines(log)
    assert re.fullmatch(
        r'login-refused operator=\S+ session=- row=- reason="no terminal \(ssh '
        r'without a tty, sftp, scp\)"',
        text,
    ), text
