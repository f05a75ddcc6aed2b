"""A fake Asterisk Manager Interface (AMI) on 127.0.0.1: the wire protocol without a PBX.

It follows docs/telephony.md: the banner, ``Key: Value`` lines ending in CRLF
with a blank line after each message, the login rules (a refusal comes after a
pause and then the connection closes; anything before login is "Permission
denied"), Originate's immediate errors, ``Async: true`` queuing, and then the
event sequence of the scenario that the client number (``Exten``) picks. Call
events go only to sessions whose login asked for them. Every received message
is kept in :attr:`FakeAmi.actions` for the tests to inspect.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

BANNER = b"Asterisk Call Manager/5.0.1\r\n"

# Client numbers (Exten) that pick a scenario; any other number answers and talks.
OPERATOR_NO_ANSWER = "5550003"
OPERATOR_BUSY = "5550005"
CLIENT_BUSY = "5550017"
CLIENT_NO_ANSWER = "5550019"
UNKNOWN_EXTENSION = "5550404"  # refused at once: "Extension does not exist."
SILENT = "5550000"  # queued, then no event at all (as when the user lacks read=call)

Fields = list[tuple[str, str]]
Respond = Callable[[str, str], None]  # answers the action being handled

# Operator-leg failures: OriginateResponse Reason, Hangup Cause and Cause-txt.
_OPERATOR_FAILURES = {
    OPERATOR_NO_ANSWER: ("3", "19", "No answer"),
    OPERATOR_BUSY: ("5", "17", "User busy"),
}
_CLIENT_STATUSES = {CLIENT_BUSY: "BUSY", CLIENT_NO_ANSWER: "NOANSWER"}


@dataclass(eq=False)  # kept in a set: identity, not value
class _Session:
    writer: asyncio.StreamWriter
    user: str | None = None
    call_events: bool = False

    def send(self, fields: Fields) -> None:
        if not self.writer.is_closing():
            text = "".join(f"{key}: {value}\r\n" for key, value in fields) + "\r\n"
            self.writer.write(text.encode("utf-8"))


@dataclass
class _Channel:
    name: str
    uniqueid: str
    linkedid: str
    exten: str
    context: str

    def fields(self, prefix: str = "") -> Fields:
        return [
            (prefix + key, value)
            for key, value in (
                ("Channel", self.name),
                ("ChannelState", "6"),
                ("ChannelStateDesc", "Up"),
                ("CallerIDNum", self.exten),
                ("Context", self.context),
                ("Exten", self.exten),
                ("Priority", "1"),
                ("Uniqueid", self.uniqueid),
                ("Linkedid", self.linkedid),
            )
        ]


@dataclass
class _Call:
    operator: _Channel
    action_id: str | None
    hangup: asyncio.Event = field(default_factory=asyncio.Event)
    client: _Channel | None = None


class FakeAmi:
    """The fake exchange. ``async with FakeAmi() as pbx`` listens on ``pbx.port``.

    ``stop()`` then ``start()`` restarts it on the same port (a PBX restart).
    ``step`` is the pause between a call's stages; ``call_length`` ends an
    answered call by itself (None: only a Hangup action or a stop ends it).
    """

    def __init__(
        self,
        *,
        username: str = "ringround",
        secret: str = "s3cret",
        endpoints: tuple[str, ...] = ("PJSIP/101", "PJSIP/102", "Local/101@from-internal"),
        contexts: tuple[str, ...] = ("from-internal",),
        auth_delay: float = 0.05,
        step: float = 0.02,
        call_length: float | None = None,
        originate_allowed: bool = True,
        hangup_before_response: bool = False,
    ) -> None:
        self.username, self.secret = username, secret
        self.endpoints, self.contexts = endpoints, contexts
        self.auth_delay = auth_delay  # Asterisk pauses about 1 s before refusing a login
        self.step, self.call_length = step, call_length
        self.originate_allowed = originate_allowed  # write=originate in manager.conf
        self.hangup_before_response = hangup_before_response  # the other order Asterisk allows
        self.actions: list[dict[str, str]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._calls: dict[str, _Call] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._numbers = itertools.count(10)

    async def __aenter__(self) -> FakeAmi:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for session in list(self._sessions):
            session.writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._calls.clear()

    def received(self, action: str) -> list[dict[str, str]]:
        """The messages received with this Action (case as Asterisk ignores it)."""
        return [m for m in self.actions if m.get("Action", "").lower() == action.lower()]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.add(session)
        writer.write(BANNER)
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                message: dict[str, str] = {}
                for line in raw.decode("utf-8").split("\r\n"):
                    key, sep, value = line.partition(": ")
                    if sep and key == "Variable" and key in message:
                        message[key] += "," + value  # Asterisk reads both forms alike
                    elif sep:
                        message[key] = value
                self.actions.append(message)
                if not await self._handle(session, message):
                    await writer.drain()
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._sessions.discard(session)
            writer.close()

    async def _handle(self, session: _Session, message: dict[str, str]) -> bool:
        """Answer one action; False closes the connection."""
        action = message.get("Action", "").lower()
        echo = [("ActionID", message["ActionID"])] if "ActionID" in message else []

        def respond(response: str, text: str) -> None:
            session.send([("Response", response), *echo, ("Message", text)])

        if not action:
            respond("Error", "Missing action in request")
        elif action == "login":
            if message.get("Username") != self.username or message.get("Secret") != self.secret:
                await asyncio.sleep(self.auth_delay)
                respond("Error", "Authentication failed")
                return False
            wanted = message.get("Events", "on").lower()
            session.user = self.username
            session.call_events = wanted in ("on", "yes", "true", "all") or "call" in [
                part.strip() for part in wanted.split(",")
            ]
            respond("Success", "Authentication accepted")
        elif action == "logoff":
            respond("Goodbye", "Thanks for all the fish.")
            return False
        elif session.user is None:
            respond("Error", "Permission denied")
        elif action == "ping":
            session.send(
                [
                    ("Response", "Success"),
                    *echo,
                    ("Ping", "Pong"),
                    ("Timestamp", f"{time.time():.6f}"),
                ]
            )
        elif action == "originate":
            self._originate(message, respond)
        elif action == "hangup":
            self._hangup(message.get("Channel", ""), respond)
        else:
            respond(
                "Error",
                f"Invalid/unknown command: {message['Action']}. Use Action: "
                "ListCommands to show available commands.",
            )
        return True

    def _refusal(self, message: dict[str, str]) -> str | None:
        """Originate's immediate error, checked in Asterisk's order; None when it is queued."""
        name, exten = message.get("Channel", ""), message.get("Exten", "")
        if not self.originate_allowed:
            return "Permission denied"
        if not name:
            return "Channel not specified"
        if not message.get("Priority", "1").isdigit():
            return "Invalid priority"
        if not message.get("Timeout", "30000").isdigit():
            return "Invalid timeout"
        if "/" not in name:
            return "Invalid channel"
        if message.get("Context") not in self.contexts or not exten or exten == UNKNOWN_EXTENSION:
            return "Extension does not exist."
        if message.get("Async", "").lower() not in ("true", "yes", "1"):
            # ringround always sends Async; the synchronous form is not modelled.
            return "Originate failed"
        return None

    def _originate(self, message: dict[str, str], respond: Respond) -> None:
        refusal = self._refusal(message)
        if refusal is not None:
            respond("Error", refusal)
            return
        name, number = message["Channel"], next(self._numbers)
        uniqueid = message.get("ChannelId") or f"{time.time():.0f}.{number}"
        suffix = ";1" if name.startswith("Local/") else ""
        operator = _Channel(
            f"{name}-{number:08x}{suffix}", uniqueid, uniqueid, message["Exten"], message["Context"]
        )
        call = _Call(operator, message.get("ActionID"))
        self._calls[uniqueid] = call
        respond("Success", "Originate successfully queued")
        task = asyncio.create_task(self._run(call, name in self.endpoints))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _hangup(self, name: str, respond: Respond) -> None:
        for call in self._calls.values():
            # Asterisk looks the name up as a channel name, then as a Uniqueid.
            if name and name in (call.operator.name, call.operator.uniqueid):
                call.hangup.set()
                respond("Success", "Channel Hungup")
                return
        respond("Error", "No such channel" if name else "No channel specified")

    def _event(self, name: str, fields: Fields) -> None:
        for session in self._sessions:
            if session.user and session.call_events:
                session.send([("Event", name), ("Privilege", "call,all"), *fields])

    def _originate_response(self, call: _Call, reason: str) -> None:
        op = call.operator
        self._event(
            "OriginateResponse",
            [
                *([("ActionID", call.action_id)] if call.action_id else []),
                ("Response", "Success" if reason == "4" else "Failure"),
                ("Channel", op.name),
                ("Context", op.context),
                ("Exten", op.exten),
                ("Reason", reason),
                ("Uniqueid", op.uniqueid),
                ("CallerIDNum", op.exten),
                ("CallerIDName", op.exten),
            ],
        )

    def _hangup_event(self, channel: _Channel, cause: str, text: str) -> None:
        self._event("Hangup", [*channel.fields(), ("Cause", cause), ("Cause-txt", text)])

    async def _wait(self, call: _Call, seconds: float | None) -> bool:
        """Pause; True when a Hangup action came meanwhile."""
        try:
            await asyncio.wait_for(call.hangup.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _run(self, call: _Call, available: bool) -> None:
        op = call.operator
        try:
            if not available:  # no such endpoint: no channel is ever created
                await asyncio.sleep(self.step)
                self._originate_response(call, "0")
                return
            if op.exten == SILENT:
                await call.hangup.wait()
                return
            self._event("Newchannel", op.fields())
            hung_up = await self._wait(call, self.step)  # the operator's phone rings
            reason, cause, text = (
                ("1", "16", "Normal Clearing")
                if hung_up
                else _OPERATOR_FAILURES.get(op.exten, ("4", "", ""))
            )
            if reason != "4":
                if self.hangup_before_response:
                    self._hangup_event(op, cause, text)
                self._originate_response(call, reason)
                if not self.hangup_before_response:
                    self._hangup_event(op, cause, text)
                return
            self._originate_response(call, reason)
            await self._client_leg(call)
        finally:
            self._calls.pop(op.uniqueid, None)

    async def _client_leg(self, call: _Call) -> None:
        op = call.operator
        number = next(self._numbers)
        client = _Channel(
            f"PJSIP/trunk-{number:08x}", f"{op.uniqueid}.client", op.uniqueid, op.exten, op.context
        )
        dial = [*op.fields(), *client.fields("Dest"), ("DialString", f"trunk/{op.exten}")]
        self._event("DialBegin", dial)
        cancelled = await self._wait(call, self.step)
        status = "CANCEL" if cancelled else _CLIENT_STATUSES.get(op.exten, "ANSWER")
        self._event("DialEnd", [*dial, ("DialStatus", status)])
        if status != "ANSWER":
            self._hangup_event(client, "16", "Normal Clearing")
            if not cancelled:
                await self._wait(call, self.step)  # the operator hears the tone, then hangs up
            self._hangup_event(op, "16", "Normal Clearing")
            return
        bridge = [
            ("BridgeUniqueid", f"bridge-{number}"),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeNumChannels", "2"),
        ]
        for channel in (op, client):
            self._event("BridgeEnter", [*bridge, *channel.fields()])
        await self._wait(call, self.call_length)
        for channel in (client, op):
            self._event("BridgeLeave", [*bridge, *channel.fields()])
            self._hangup_event(channel, "16", "Normal Clearing")


@contextmanager
def fake_ami_in_background(**options: Any) -> Iterator[FakeAmi]:
    """A FakeAmi serving from a thread of its own, for tests that run commands synchronously
    (in this process, or as other processes such as ``runuser ... ringround check``)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-ami", daemon=True)
    thread.start()
    pbx = FakeAmi(**options)
    asyncio.run_coroutine_threadsafe(pbx.start(), loop).result(timeout=30)
    try:
        yield pbx
    finally:
        asyncio.run_coroutine_threadsafe(pbx.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
