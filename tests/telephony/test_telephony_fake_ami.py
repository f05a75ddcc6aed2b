"""The fake exchange itself keeps the AMI rules the backend relies on (raw socket, no backend)."""

from __future__ import annotations

import asyncio

import pytest

from tests.fake_ami import BANNER, FakeAmi


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *lines: str
) -> dict[str, str]:
    writer.write(("".join(f"{line}\r\n" for line in lines) + "\r\n").encode())
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1)
    return dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if line)


async def test_banner_and_permission_denied_before_login() -> None:
    async with FakeAmi() as pbx:
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
        assert await reader.readline() == BANNER
        reply = await exchange(
            reader, writer, "Action: Originate", "Channel: PJSIP/101", "ActionID: 7"
        )
        assert reply == {"Response": "Error", "ActionID": "7", "Message": "Permission denied"}
        writer.close()


async def test_refused_login_comes_late_then_the_connection_closes() -> None:
    async with FakeAmi(auth_delay=0.2) as pbx:
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
        await reader.readline()
        started = asyncio.get_running_loop().time()
        reply = await exchange(
            reader, writer, "Action: Login", "Username: ringround", "Secret: wrong"
        )
        assert asyncio.get_running_loop().time() - started >= 0.2
        assert reply["Message"] == "Authentication failed"
        assert await asyncio.wait_for(reader.read(), 1) == b""
        writer.close()


async def read_message(reader: asyncio.StreamReader) -> dict[str, str]:
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1)
    return dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if line)


async def logged_in(port: int, events: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    reply = await exchange(
        reader,
        writer,
        "Action: Login",
        "Username: ringround",
        "Secret: s3cret",
        f"Events: {events}",
    )
    assert reply["Message"] == "Authentication accepted"
    return reader, writer


async def test_call_events_only_reach_sessions_that_asked_for_them() -> None:
    async with FakeAmi() as pbx:
        listening, listener = await logged_in(pbx.port, "call")
        quiet_reader, quiet = await logged_in(pbx.port, "off")
        reply = await exchange(
            quiet_reader,
            quiet,
            "Action: Originate",
            "Channel: PJSIP/101",
            "Context: from-internal",
            "Exten: 100",
            "Async: true",
            "ChannelId: abc",
            "ActionID: 1",
        )
        assert reply["Message"] == "Originate successfully queued"
        event = await read_message(listening)
        while event["Event"] != "OriginateResponse":
            event = await read_message(listening)
        assert (event["Privilege"], event["ActionID"], event["Uniqueid"], event["Reason"]) == (
            "call,all",
            "1",
            "abc",
            "4",
        )
        # Without Events: call the OriginateResponse never comes: a client can only time out.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(quiet_reader.read(1), 0.2)
        listener.close()
        quiet.close()
