"""``ringround check`` with telephony on logs in to the exchange, pings it and logs off.

The exchange is tests/fake_ami.py, a real TCP server on 127.0.0.1; the
command runs in a thread (asyncio.to_thread) while the fake serves on the
test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from cli.main import main
from storage.database import open_database
from storage.demo import make_demo
from storage.policy import default_policy
from tests.fake_ami import FakeAmi
from tests.stored_clinic import NOW
from tests.waiting import wait_until_async


def _setup(tmp_path: Path, port: int, secret: str = "s3cret") -> list[str]:
    """A demo database and a policy with telephony on; the arguments for ``check``."""
    secret_file = tmp_path / "ami.secret"
    secret_file.write_text(secret + "\n", encoding="utf-8")
    os.chmod(secret_file, 0o640)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'[telephony]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
        f'secret_file = "{secret_file}"\n',
        encoding="utf-8",
    )
    db = tmp_path / "clinic.db"
    conn = open_database(db, create=True)
    make_demo(conn, default_policy(), clients=10, now=NOW)
    conn.close()
    return ["check", "--db", str(db), "--policy", str(policy)]


def _pbx_line(out: str) -> str:
    """The exchange's finding: the last one, just before the summary."""
    return out.splitlines()[-2]


async def test_check_logs_in_pings_and_logs_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeAmi() as pbx:
        args = _setup(tmp_path, pbx.port)
        await asyncio.to_thread(main, args)
        line = _pbx_line(capsys.readouterr().out)
        assert line == (
            f'ok       The phone exchange at 127.0.0.1:{pbx.port} ("Asterisk Call '
            'Manager/5.0.1") accepted the login of ringround ("Authentication accepted") and '
            "answered a ping (Pong); ringround logged off again."
        )
        # The Logoff was sent before the command ended; the fake reads it on this loop.
        await wait_until_async(lambda: pbx.received("Logoff"), "the Logoff")
        assert [m["Action"] for m in pbx.actions] == ["Login", "Ping", "Logoff"]
        assert pbx.actions[0]["Username"] == "ringround"
        assert pbx.actions[0]["Secret"] == "s3cret"
        assert not pbx.received("Originate")


async def test_a_refused_login_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeAmi() as pbx:
        args = _setup(tmp_path, pbx.port, secret="wrong")
        assert await asyncio.to_thread(main, args) == 1
        line = _pbx_line(capsys.readouterr().out)
        assert line == (
            "PROBLEM  The phone exchange refused the login of 'ringround'; check the username and "
            "the secret file in the policy's [telephony] section."
        )


async def test_an_exchange_that_is_not_running_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = _setup(tmp_path, port)
    assert await asyncio.to_thread(main, args) == 1
    out, err = capsys.readouterr()
    assert _pbx_line(out) == (
        f"PROBLEM  Cannot reach the phone exchange at 127.0.0.1:{port} (connection refused); "
        "check that it is running and the policy's [telephony] host and port."
    )
    assert err == ""


async def test_a_service_that_does_not_greet_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Something else listens on the port and says nothing (or not what Asterisk says)."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        args = _setup(tmp_path, port)
        assert await asyncio.to_thread(main, args) == 1
    assert _pbx_line(capsys.readouterr().out) == (
        f"PROBLEM  The service at 127.0.0.1:{port} did not greet like an Asterisk manager "
        "interface; check that it is running and the policy's [telephony] host and port."
    )


def test_check_leaves_the_exchange_alone_when_telephony_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "clinic.db"
    conn = open_database(db, create=True)
    make_demo(conn, default_policy(), clients=10, now=NOW)
    conn.close()
    main(["check", "--db", str(db)])
    assert "phone exchange" not in capsys.readouterr().out


async def test_an_unusable_secret_file_is_reported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The secret file's own finding says why; no login is tried without the secret."""
    async with FakeAmi() as pbx:
        args = _setup(tmp_path, pbx.port)
        os.chmod(tmp_path / "ami.secret", 0o644)
        assert await asyncio.to_thread(main, args) == 1
        assert pbx.actions == []
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "1 problem found."
    assert "PROBLEM  Every user of this server may read or change the PBX password file" in out
