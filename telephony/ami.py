"""Click-to-call through the Asterisk Manager Interface (AMI): our own small asyncio client.

``Originate`` rings the operator's channel; when the operator answers, the
dialplan (``context``) dials the client and bridges the two. We send our own
``ChannelId`` (it becomes the operator channel's ``Uniqueid`` and every other
channel's ``Linkedid``) and use it as the call id, so each event maps to its
call without guessing. Wire facts: docs/telephony.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from storage.i18n import N_, _
from storage.policy import TelephonyPolicy
from storage.shown import in_quotes
from telephony.calls import CallEvent, CallStage, ClientResult, TelephonyError, normalise_number
from telephony.secret import read_secret

Message = dict[str, str]

_LOST = N_("Lost the connection to the phone exchange.")  # translated where used

# OriginateResponse Reason codes (Asterisk's AST_CONTROL_* numbers) for the operator's leg.
_OPERATOR_REASONS = {
    "0": N_("The operator's phone is unavailable (not registered or switched off)."),
    "1": N_("The operator's phone hung up before the call started."),
    "3": N_("The operator's phone rang without an answer."),
    "5": N_("The operator's phone is busy."),
    "8": N_("The operator's phone rejected the call (congestion)."),
}
# Asterisk may report the Hangup of an unanswered operator channel before its
# OriginateResponse; its Q.850 cause then tells the same story as a Reason code.
_CAUSE_REASONS = {
    "16": "1",
    "17": "5",
    "18": "3",
    "19": "3",
    "21": "8",
    "34": "8",
    "38": "8",
    "41": "8",
    "42": "8",
}

# DialEnd DialStatus of the client's leg, when it did not answer.
_CLIENT_FAILURES: dict[str, tuple[CallStage, ClientResult | None, str]] = {
    "BUSY": (CallStage.FAILED, "busy", N_("The client's line is busy.")),
    "NOANSWER": (CallStage.FAILED, "no-answer", N_("The client did not answer.")),
    "CONGESTION": (
        CallStage.FAILED,
        "congestion",
        N_("The client's number is unreachable (congestion)."),
    ),
    "CHANUNAVAIL": (CallStage.FAILED, "unavailable", N_("The client's number is unavailable.")),
    "CANCEL": (CallStage.ENDED, None, N_("The call was hung up before the client answered.")),
}

_ORDER = {stage: index for index, stage in enumerate(CallStage)}


# The system's reasons for a failed connection are English whatever the language: the
# usual ones in the staff's words, the rare rest as the system says them.
_NETWORK_REASONS = {
    errno.ECONNREFUSED: N_("connection refused"),
    errno.EHOSTUNREACH: N_("no route to host"),
    errno.ENETUNREACH: N_("network is unreachable"),
    errno.ETIMEDOUT: N_("connection timed out"),
    errno.ECONNRESET: N_("connection reset by peer"),
}
_NAME_REASONS = {
    socket.EAI_NONAME: N_("name or service not known"),
    socket.EAI_AGAIN: N_("temporary failure in name resolution"),
}


def _network_reason(error: OSError) -> str:
    """Why a connection failed, in a few lower-case words of the staff's language."""
    if isinstance(error, socket.gaierror):
        known, why = _NAME_REASONS.get(error.errno or 0), error.strerror
    else:
        known = _NETWORK_REASONS.get(error.errno or 0)
        why = os.strerror(error.errno) if error.errno else error.strerror
    if known is not None:
        return _(known)
    return (why or str(error)).lower()


class _Unreachable(TelephonyError):
    """A network problem, worth retrying (unlike a refused login or a wrong setting)."""


def _operator_reason(code: str) -> str:
    if code in _OPERATOR_REASONS:
        return _(_OPERATOR_REASONS[code])
    return _("The phone exchange could not ring the operator's phone (reason {code}).").format(
        code=code
    )


def _refusal(message: str, channel: str, exten: str, context: str) -> str:
    """The exchange's immediate refusal of an Originate, as a sentence for the operator."""
    text = message.strip().rstrip(".")
    lowered = text.lower()
    if lowered == "invalid channel":
        return _(
            "The phone exchange does not accept the operator's channel {channel}; "
            "check [telephony.extensions] in the policy."
        ).format(channel=channel)
    if lowered == "extension does not exist":
        return _(
            "The phone exchange cannot dial {exten} from context {context}; check "
            "the number and the policy's [telephony] context."
        ).format(exten=exten, context=context)
    if lowered == "permission denied" or lowered.startswith("originate access forbidden"):
        return _(
            "The phone exchange does not let ringround place calls; its manager user needs "
            "write=originate."
        )
    if lowered == "invalid timeout":
        return _("The phone exchange refused the ring timeout; check ring_timeout in the policy.")
    return _("The phone exchange refused the call: {reason}.").format(
        reason=text or _("no reason given")
    )


_LINE_BREAKS = re.compile(r"[\r\n]+")


def _encode(fields: Sequence[tuple[str, str]]) -> bytes:
    # A CR or LF inside a value would end the header and smuggle in another one.
    lines = (f"{key}: {_LINE_BREAKS.sub(' ', value)}\r\n" for key, value in fields)
    return ("".join(lines) + "\r\n").encode("utf-8")


async def _read_message(reader: asyncio.StreamReader) -> Message | None:
    """The next message (headers up to a blank line), or None at the end of the stream."""
    message: Message = {}
    while line := await reader.readline():
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if message:
                return message
            continue
        key, _, value = text.partition(":")
        message[key.strip()] = value.strip()
    return None


def _caller_id(channel: str, exten: str) -> str:
    # The operator's phone shows the client's number as the name; the number part is the
    # operator's own extension, so the client leg presents what a hand-dialled call would.
    extension = re.search(r"/(\d+)", channel)
    return f'"{exten}" <{extension.group(1)}>' if extension else f'"{exten}"'


def _keep_alive(writer: asyncio.StreamWriter) -> None:
    # TCP keepalive notices a PBX host that vanished without closing the connection.
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):  # Linux knobs: dead peer noticed within about a minute
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


@dataclass
class _Call:
    call_id: str  # our ChannelId: the operator channel's Uniqueid, the others' Linkedid
    channel: str | None = None  # the operator channel's exact name, once an event names it
    stage: CallStage | None = None  # None until the exchange has queued the Originate
    answered: bool = False  # the operator's phone answered
    client_answered: bool = False
    timer: asyncio.TimerHandle | None = None  # gives up when the operator leg never reports

    @property
    def final(self) -> bool:
        return self.stage is not None and self.stage.final

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class AmiBackend:
    """Click-to-call through Asterisk's manager interface, following :class:`Backend`.

    A dropped connection fails the calls in progress, makes :attr:`connected`
    False and starts reconnecting in the background (with growing pauses);
    :meth:`place_call` also reconnects on demand. Every network wait is bounded.
    """

    def __init__(
        self,
        policy: TelephonyPolicy,
        *,
        connect_timeout: float = 5.0,
        reply_timeout: float = 10.0,
        answer_margin: float = 10.0,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
    ) -> None:
        self._policy = policy
        self._connect_timeout = connect_timeout
        self._reply_timeout = reply_timeout  # above Asterisk's ~1 s pause on a refused login
        self._answer_margin = answer_margin  # past ring_timeout before we stop waiting
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._writer: asyncio.StreamWriter | None = None
        self.greeting = ""  # the exchange's banner line, e.g. "Asterisk Call Manager/5.0.1"
        self.login_answer = ""  # the Message of its reply to our Login
        self._logged_in = False
        self._closed = False
        self._reader_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._connect_lock = asyncio.Lock()
        self._replies: dict[str, asyncio.Future[Message]] = {}
        self._calls: dict[str, _Call] = {}
        self._events: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._action_ids = itertools.count(1)

    @property
    def connected(self) -> bool:
        return self._logged_in and self._writer is not None

    async def connect(self) -> None:
        async with self._connect_lock:
            if self._closed:
                raise TelephonyError(_("The connection to the phone exchange has been closed."))
            if self.connected:
                return
            await self._log_in(read_secret(self._policy.secret_file))

    async def _log_in(self, secret: str) -> None:
        host, port = self._policy.host, self._policy.port
        advice = _("check that it is running and the policy's [telephony] host and port")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self._connect_timeout
            )
        except TimeoutError:
            raise _Unreachable(
                _(
                    "The phone exchange at {host}:{port} did not answer "
                    "within {connect_timeout:g} s; {advice}."
                ).format(host=host, port=port, connect_timeout=self._connect_timeout, advice=advice)
            ) from None
        except OSError as error:
            raise _Unreachable(
                _("Cannot reach the phone exchange at {host}:{port} ({reason}); {advice}.").format(
                    host=host, port=port, reason=_network_reason(error), advice=advice
                )
            ) from None
        greeted = False
        try:
            banner = await asyncio.wait_for(reader.readline(), self._connect_timeout)
            greeted = banner.startswith(b"Asterisk Call Manager/")
        except (TimeoutError, OSError, ValueError):  # ValueError: no line break in 64 KiB
            pass
        finally:
            if not greeted:  # also when cancelled: no connection is left open behind us
                writer.close()
        if not greeted:
            raise _Unreachable(
                _(
                    "The service at {host}:{port} did not greet like an "
                    "Asterisk manager interface; {advice}."
                ).format(host=host, port=port, advice=advice)
            )
        self.greeting = banner.decode("utf-8", "replace").strip()
        _keep_alive(writer)
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_loop(reader, writer))
        # Events: call is what makes OriginateResponse, Dial*, Bridge* and Hangup arrive.
        reply = await self._request(
            [
                ("Action", "Login"),
                ("Username", self._policy.username),
                ("Secret", secret),
                ("Events", "call"),
            ]
        )
        if reply.get("Response") != "Success":
            self._connection_ended(writer)
            raise TelephonyError(
                _(
                    "The phone exchange refused the login of '{username}'; check the "
                    "username and the secret file in the policy's [telephony] section."
                ).format(username=in_quotes(self._policy.username))
            )
        self.login_answer = reply.get("Message", "")
        self._logged_in = True

    async def ping(self) -> Message:
        """Log in if needed and send a Ping; the exchange's reply (``ringround check``)."""
        await self.connect()
        return await self._request([("Action", "Ping")])

    async def place_call(self, operator: str, number: str, reference: str) -> str:
        channel = self._policy.extensions.get(operator)
        if not channel:
            raise TelephonyError(
                _(
                    "No phone extension is configured for operator "
                    "'{operator}'; add one under [telephony.extensions] "
                    "in the policy."
                ).format(operator=in_quotes(operator))
            )
        exten = normalise_number(number, self._policy.dial_prefix)
        if exten == self._policy.dial_prefix:
            raise TelephonyError(
                _("The number '{number}' has no digits to dial.").format(number=in_quotes(number))
            )
        await self.connect()
        call = _Call(str(uuid.uuid4()))
        # Registered before sending: events may follow the reply before we resume.
        self._calls[call.call_id] = call
        try:
            reply = await self._request(
                [
                    ("Action", "Originate"),
                    ("Channel", channel),
                    ("Context", self._policy.context),
                    ("Exten", exten),
                    ("Priority", "1"),
                    ("CallerID", _caller_id(channel, exten)),
                    ("Timeout", str(self._policy.ring_timeout * 1000)),
                    ("Async", "true"),
                    ("ChannelId", call.call_id),
                    # Commas would split the value into several variables.
                    ("Variable", "RINGROUND_REF=" + re.sub(r"[^\w.:/@-]", "_", reference)),
                ],
                action_id=call.call_id,
            )
        except TelephonyError:
            self._forget(call)
            raise
        if reply.get("Response") != "Success":
            # An immediate refusal is a setting or a number problem: retrying cannot help.
            self._forget(call)
            raise TelephonyError(
                _refusal(reply.get("Message", ""), channel, exten, self._policy.context)
            )
        return call.call_id

    async def events(self) -> AsyncIterator[CallEvent]:
        while (event := await self._events.get()) is not None:
            yield event
        self._events.put_nowait(None)  # the end mark stays for any later reader

    async def hang_up(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None or not self.connected:
            return  # already over: ended, failed at once, or lost with the connection
        # Asterisk takes a Uniqueid where a channel name is expected, so the hang-up
        # works even before any event has told us the channel's name.
        reply = await self._request(
            [("Action", "Hangup"), ("Channel", call.channel or call.call_id)]
        )
        message = reply.get("Message", "")
        if reply.get("Response") != "Success" and message.lower() != "no such channel":
            raise TelephonyError(
                _("The phone exchange would not hang up the call: {reason}.").format(
                    reason=message or _("no reason given")
                )
            )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        # The lock lets a connect in progress finish first, so it leaves nothing open.
        async with self._connect_lock:
            writer = self._writer
            if writer is not None:
                if self._logged_in:
                    # A Logoff lets Asterisk log a clean goodbye, not a dropped session.
                    with contextlib.suppress(OSError, TimeoutError):
                        writer.write(_encode([("Action", "Logoff"), ("ActionID", "ringround-bye")]))
                        await asyncio.wait_for(writer.drain(), 1.0)
                self._connection_ended(writer)
        for task in (self._reader_task, self._reconnect_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._events.put_nowait(None)

    async def _request(
        self, fields: Sequence[tuple[str, str]], action_id: str | None = None
    ) -> Message:
        """Send one action and wait, bounded, for the response with its ActionID."""
        writer = self._writer
        if writer is None:
            raise _Unreachable(_(_LOST))
        action_id = action_id or f"ringround-{next(self._action_ids)}"
        reply: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._replies[action_id] = reply
        try:
            writer.write(_encode([*fields, ("ActionID", action_id)]))
            async with asyncio.timeout(self._reply_timeout):
                await writer.drain()
                return await reply
        except TimeoutError:
            # An exchange that stops replying is as good as gone; start afresh next time.
            self._connection_ended(writer)
            raise _Unreachable(_("The phone exchange did not reply in time.")) from None
        except OSError:
            self._connection_ended(writer)
            raise _Unreachable(_(_LOST)) from None
        finally:
            self._replies.pop(action_id, None)

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (message := await _read_message(reader)) is not None:
                self._dispatch(message)
        except (OSError, ValueError):  # ValueError: a line longer than the stream's limit
            pass
        finally:
            self._connection_ended(writer)

    def _connection_ended(self, writer: asyncio.StreamWriter) -> None:
        if writer is not self._writer:
            return  # the reader of an earlier connection, already dealt with
        was_logged_in = self._logged_in
        self._writer, self._logged_in = None, False
        writer.close()
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(_Unreachable(_(_LOST)))
        for call in list(self._calls.values()):
            # A call not yet queued is reported by place_call's exception instead.
            if call.stage is not None and not self._closed:
                self._finish(call, CallStage.FAILED, _(_LOST))
            self._forget(call)
        if (
            was_logged_in
            and not self._closed
            and (self._reconnect_task is None or self._reconnect_task.done())
        ):
            self._reconnect_task = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = self._retry_delay
        while not self._closed and not self.connected:
            await asyncio.sleep(delay)
            try:
                await self.connect()
            except _Unreachable:
                delay = min(delay * 2, self._max_retry_delay)
            except TelephonyError:
                # A refused login or a bad secret file does not mend itself, and repeated
                # failed logins can get this server banned; place_call will say why.
                return

    def _dispatch(self, message: Message) -> None:
        # OriginateResponse carries Response and ActionID too, so test for Event first.
        if "Event" in message:
            self._on_event(message)
            return
        action_id = message.get("ActionID", "")
        call = self._calls.get(action_id)
        if call is not None and call.stage is None and message.get("Response") == "Success":
            # Handled here, not in place_call: the events that follow are dispatched first.
            self._advance(call, CallStage.OPERATOR_RINGING)
            call.timer = asyncio.get_running_loop().call_later(
                self._policy.ring_timeout + self._answer_margin, self._ring_expired, call
            )
        reply = self._replies.get(action_id)
        if reply is not None and not reply.done():
            reply.set_result(message)

    def _on_event(self, event: Message) -> None:
        call = next(
            (
                self._calls[key]
                for key in (event.get("ActionID"), event.get("Uniqueid"), event.get("Linkedid"))
                if key in self._calls
            ),
            None,
        )
        if call is None:
            return
        name = event["Event"]
        # Events of the operator's own channel; with Local/... extensions the other
        # channels' Dial and Bridge events before the answer are about the operator leg.
        own = event.get("Uniqueid") == call.call_id
        if own and event.get("Channel"):
            call.channel = event["Channel"]
        client_leg = own or call.answered
        if name == "OriginateResponse":
            if event.get("Response") == "Success":
                self._operator_answered(call)
            else:
                self._finish(call, CallStage.FAILED, _operator_reason(event.get("Reason", "0")))
                self._forget(call)  # no channel is left whose Hangup would come later
        elif name == "DialBegin" and client_leg:
            # The operator channel only dials once answered, even if its OriginateResponse
            # has not arrived yet.
            self._operator_answered(call)
            self._advance(call, CallStage.CLIENT_RINGING)
        elif name == "DialEnd" and client_leg:
            status = event.get("DialStatus", "")
            if status == "ANSWER":
                call.client_answered = True
            else:
                stage, result, reason = _CLIENT_FAILURES.get(
                    status,
                    (
                        CallStage.FAILED,
                        None,
                        _("The client's line could not be reached ({status}).").format(
                            status=status
                        ),
                    ),
                )
                self._finish(call, stage, _(reason), result)
        elif name == "BridgeEnter" and (own or call.client_answered):
            self._advance(call, CallStage.CONNECTED, "answered")
        elif name == "Hangup" and own:
            if not call.answered:
                code = _CAUSE_REASONS.get(event.get("Cause", ""), "0")
                self._finish(call, CallStage.FAILED, _operator_reason(code))
            elif call.stage is CallStage.CONNECTED:
                self._finish(call, CallStage.ENDED, None, "answered")
            else:
                self._finish(call, CallStage.ENDED, _("The call ended before the client answered."))
            self._forget(call)

    def _operator_answered(self, call: _Call) -> None:
        if not call.answered:
            call.answered = True
            call.stop_timer()
            self._advance(call, CallStage.OPERATOR_ANSWERED)

    def _ring_expired(self, call: _Call) -> None:
        if not call.answered:
            # Also what happens when the manager user lacks read=call: no event ever comes.
            self._finish(call, CallStage.FAILED, _("The operator's phone did not answer in time."))

    def _advance(self, call: _Call, stage: CallStage, result: ClientResult | None = None) -> None:
        """Move forward only: a late or repeated event never takes a call back."""
        if call.stage is None or _ORDER[stage] > _ORDER[call.stage]:  # final stages come last
            self._emit(call, stage, None, result)

    def _finish(
        self, call: _Call, stage: CallStage, reason: str | None, result: ClientResult | None = None
    ) -> None:
        if not call.final:
            call.stop_timer()
            self._emit(call, stage, reason, result)

    def _emit(
        self, call: _Call, stage: CallStage, reason: str | None, result: ClientResult | None
    ) -> None:
        call.stage = stage
        self._events.put_nowait(CallEvent(call.call_id, stage, reason, result))

    def _forget(self, call: _Call) -> None:
        call.stop_timer()
        self._calls.pop(call.call_id, None)
