"""The Asterisk AMI backend against the fake exchange in tests/fake_ami.py, scenario by scenario."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.policy import TelephonyPolicy
from telephony import AmiBackend, CallEvent, CallStage, TelephonyError
from tests.fake_ami import (
    CLIENT_BUSY,
    CLIENT_NO_ANSWER,
    OPERATOR_BUSY,
    OPERATOR_NO_ANSWER,
    SILENT,
    UNKNOWN_EXTENSION,
    FakeAmi,
)
from tests.waiting import PATIENCE, wait_until_async
from tui.i18n import set_language

S = CallStage
ANSWERING = "+7 (916) 123-45-67"

Backends = Callable[..., AmiBackend]


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "ami.secret"
    path.write_text("s3cret\n")
    path.chmod(0o640)
    return path


@pytest.fixture
async def pbx() -> AsyncIterator[FakeAmi]:
    async with FakeAmi() as server:
        yield server


@pytest.fixture
async def make_backend(secret_file: Path) -> AsyncIterator[Backends]:
    """Builds backends with short timeouts for a port; closes them all afterwards."""
    made: list[AmiBackend] = []

    def make(
        port: int,
        *,
        ring_timeout: int = 5,
        dial_prefix: str = "",
        extensions: dict[str, str] | None = None,
        **timing: float,
    ) -> AmiBackend:
        policy = TelephonyPolicy(
            enabled=True,
            backend="asterisk-ami",
            host="127.0.0.1",
            port=port,
            username="ringround",
            secret_file=str(secret_file),
            context="from-internal",
            ring_timeout=ring_timeout,
            dial_prefix=dial_prefix,
            extensions=extensions if extensions is not None else {"alice": "PJSIP/101"},
        )
        options = {
            "connect_timeout": 1.0,
            "reply_timeout": 1.0,
            "answer_margin": 0.2,
            "retry_delay": 10.0,
            **timing,
        }
        made.append(AmiBackend(policy, **options))
        return made[-1]

    yield make
    for backend in made:
        await backend.close()


async def stages_until(
    backend: AmiBackend, call_id: str, last: CallStage, timeout: float = PATIENCE
) -> list[CallEvent]:
    """The events of one call, up to and including the first one at stage ``last``."""
    seen: list[CallEvent] = []
    async with asyncio.timeout(timeout):
        async for event in backend.events():
            if event.call_id == call_id:
                seen.append(event)
                if event.stage in (last, S.FAILED, S.ENDED):
                    break
    return seen


async def no_event_within(backend: AmiBackend, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            async for _ in backend.events():
                return False
    except TimeoutError:
        return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_answered_call_reports_every_stage_and_hangs_up(
    pbx: FakeAmi, make_backend: Backends
) -> None:
    backend = make_backend(pbx.port)
    call_id = await backend.place_call("alice", ANSWERING, "appointment:42")
    assert backend.connected
    events = await stages_until(backend, call_id, S.CONNECTED)
    assert [e.stage for e in events] == [
        S.OPERATOR_RINGING,
        S.OPERATOR_ANSWERED,
        S.CLIENT_RINGING,
        S.CONNECTED,
    ]
    assert events[-1].client_result == "answered"

    await backend.hang_up(call_id)
    [ended] = await stages_until(backend, call_id, S.ENDED)
    assert (ended.stage, ended.reason, ended.client_result) == (S.ENDED, None, "answered")
    # The exact channel name, learnt from the events, is what gets hung up.
    [hangup] = pbx.received("Hangup")
    assert hangup["Channel"].startswith("PJSIP/101-")


async def test_originate_carries_what_the_exchange_needs(
    pbx: FakeAmi, make_backend: Backends
) -> None:
    backend = make_backend(pbx.port, dial_prefix="8", ring_timeout=25)
    call_id = await backend.place_call("alice", "(916) 123-45-67", "appointment:42, row 7")
    [login] = pbx.received("Login")
    assert (login["Username"], login["Secret"], login["Events"]) == ("ringround", "s3cret", "call")
    [originate] = pbx.received("Originate")
    assert originate["Channel"] == "PJSIP/101"
    assert originate["Exten"] == "89161234567"
    assert originate["Context"] == "from-internal"
    assert originate["Priority"] == "1"
    assert originate["Timeout"] == "25000"
    assert originate["Async"] == "true"
    assert originate["ChannelId"] == originate["ActionID"] == call_id
    assert originate["CallerID"] == '"89161234567" <101>'
    # The comma and spaces would otherwise split the value into several variables.
    assert originate["Variable"] == "RINGROUND_REF=appointment:42__row_7"


@pytest.mark.parametrize(
    "written",
    [
        "+7 916 123-45-67 доб. 12",
        "8 916 123 45 67, ext. 345",
        "8 (916) 123-45-67 x12",
        "+7 916 123-45-67 #12",
    ],
)
async def test_an_extension_is_never_sent_to_the_exchange(
    pbx: FakeAmi, make_backend: Backends, written: str
) -> None:
    """C4 with an extension: the exchange dials the number's digits only."""
    backend = make_backend(pbx.port, dial_prefix="9")
    await backend.place_call("alice", written, "appointment:42")
    [originate] = pbx.received("Originate")
    digits = "979161234567" if written.startswith("+") else "989161234567"
    assert originate["Exten"] == digits
    assert originate["CallerID"] == f'"{digits}" <101>'  # the operator's phone shows it too


async def test_operator_does_not_answer(pbx: FakeAmi, make_backend: Backends) -> None:
    backend = make_backend(pbx.port)
    call_id = await backend.place_call("alice", OPERATOR_NO_ANSWER, "r")
    events = await stages_until(backend, call_id, S.FAILED)
    assert [e.stage for e in events] == [S.OPERATOR_RINGING, S.FAILED]
    assert events[-1].reason == "The operator's phone rang without an answer."
    assert events[-1].client_result is None


@pytest.mark.parametrize("hangup_first", [False, True])
async def test_operator_busy(pbx: FakeAmi, make_backend: Backends, hangup_first: bool) -> None:
    # Asterisk may report the channel's Hangup before or after the OriginateResponse.
    pbx.hangup_before_response = hangup_first
    backend = make_backend(pbx.port)
    call_id = await backend.place_call("alice", OPERATOR_BUSY, "r")
    events = await stages_until(backend, call_id, S.FAILED)
    assert [e.stage for e in events] == [S.OPERATOR_RINGING, S.FAILED]
    assert events[-1].reason == "The operator's phone is busy."
    assert await no_event_within(backend, 0.1)  # the other of the pair adds nothing


async def test_operator_phone_unavailable(pbx: FakeAmi, make_backend: Backends) -> None:
    backend = make_backend(pbx.port, extensions={"bob": "PJSIP/199"})
    call_id = await backend.place_call("bob", ANSWERING, "r")
    events = await stages_until(backend, call_id, S.FAILED)
    assert events[-1].reason is not None and "unavailable" in events[-1].reason


@pytest.mark.parametrize(
    ("number", "result", "reason"),
    [
        (CLIENT_BUSY, "busy", "The client's line is busy."),
        (CLIENT_NO_ANSWER, "no-answer", "The client did not answer."),
    ],
)
async def test_client_does_not_answer(
    pbx: FakeAmi, make_backend: Backends, number: str, result: str, reason: str
) -> None:
    backend = make_backend(pbx.port)
    call_id = await backend.place_call("alice", number, "r")
    events = await stages_until(backend, call_id, S.FAILED)
    assert [e.stage for e in events] == [
        S.OPERATOR_RINGING,
        S.OPERATOR_ANSWERED,
        S.CLIENT_RINGING,
        S.FAILED,
    ]
    assert (events[-1].client_result, events[-1].reason) == (result, reason)
    assert await no_event_within(backend, 0.1)  # the Hangup that follows adds nothing


@pytest.mark.parametrize(
    ("wait_for", "last", "reason"),
    [
        (S.OPERATOR_RINGING, S.FAILED, "The operator's phone hung up before the call started."),
        (S.CLIENT_RINGING, S.ENDED, "The call was hung up before the client answered."),
    ],
)
async def test_hanging_up_while_a_phone_rings(
    pbx: FakeAmi, make_backend: Backends, wait_for: CallStage, last: CallStage, reason: str
) -> None:
    pbx.step = 0.3  # long enough to hang up while the phone rings
    backend = make_backend(pbx.port)
    call_id = await backend.place_call("alice", ANSWERING, "r")
    await stages_until(backend, call_id, wait_for)
    await backend.hang_up(call_id)
    [final] = await stages_until(backend, call_id, last)
    assert (final.stage, final.reason, final.client_result) == (last, reason, None)
    await backend.hang_up(call_id)  # over already: harmless, whatever the exchange says
    assert await no_event_within(backend, 0.1)


async def test_unknown_extension_is_refused_at_once_and_not_retried(
    pbx: FakeAmi, make_backend: Backends
) -> None:
    backend = make_backend(pbx.port)
    with pytest.raises(TelephonyError) as refused:
        await backend.place_call("alice", UNKNOWN_EXTENSION, "r")
    assert str(refused.value) == (
        "The phone exchange cannot dial 5550404 from context from-internal; "
        "check the number and the policy's [telephony] context."
    )
    assert len(pbx.received("Originate")) == 1
    assert await no_event_within(backend, 0.1)
    assert backend.connected  # a refused call leaves the connection usable


@pytest.mark.parametrize(
    ("extensions", "allowed", "expected"),
    [
        ({"alice": "101"}, True, "does not accept the operator's channel 101"),
        ({"alice": "PJSIP/101"}, False, "needs write=originate"),
    ],
)
async def test_other_immediate_refusals(
    pbx: FakeAmi, make_backend: Backends, extensions: dict[str, str], allowed: bool, expected: str
) -> None:
    pbx.originate_allowed = allowed
    backend = make_backend(pbx.port, extensions=extensions)
    with pytest.raises(TelephonyError, match=expected):
        await backend.place_call("alice", ANSWERING, "r")


async def test_operator_without_extension_is_refused_before_connecting(
    pbx: FakeAmi, make_backend: Backends
) -> None:
    backend = make_backend(pbx.port)
    with pytest.raises(TelephonyError, match="operator 'carol'"):
        await backend.place_call("carol", ANSWERING, "r")
    with pytest.raises(TelephonyError, match="no digits"):
        await backend.place_call("alice", "ext. —", "r")
    assert pbx.actions == []


async def test_a_number_without_digits_is_quoted_in_russian_words(
    pbx: FakeAmi, make_backend: Backends
) -> None:
    """The number a refusal is about came in Python's quotes and escapes in Russian too
    ('нет\\x1b[K\\n'); it is quoted «…», its ESC and line break shown as ␛ and ␊."""
    backend = make_backend(pbx.port)
    set_language("ru")
    try:
        with pytest.raises(TelephonyError) as error:
            await backend.place_call("alice", "нет\x1b[K\n", "r")
    finally:
        set_language("en")
    assert str(error.value) == "В номере «нет␛[K␊» нет цифр для набора."
    assert pbx.actions == []


async def test_exchange_down_is_one_clear_sentence(make_backend: Backends) -> None:
    port = free_port()
    backend = make_backend(port)
    with pytest.raises(TelephonyError) as error:
        await backend.place_call("alice", ANSWERING, "r")
    assert str(error.value) == (
        f"Cannot reach the phone exchange at 127.0.0.1:{port} (connection refused); check "
        "that it is running and the policy's [telephony] host and port."
    )
    assert not backend.connected


async def test_exchange_down_is_said_in_russian_words(make_backend: Backends) -> None:
    """The operator's screen read «Нет связи с АТС … (connection refused)»: the system's
    English reason inside a Russian sentence."""
    port = free_port()
    backend = make_backend(port)
    set_language("ru")
    try:
        with pytest.raises(TelephonyError) as error:
            await backend.place_call("alice", ANSWERING, "r")
    finally:
        set_language("en")
    assert str(error.value).startswith(
        f"Нет связи с АТС по адресу 127.0.0.1:{port} (в соединении отказано); "
    ), str(error.value)


async def test_silent_service_is_given_up_on(make_backend: Backends) -> None:
    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # holds the connection open until the client leaves
        writer.close()

    server = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    async with server:
        backend = make_backend(server.sockets[0].getsockname()[1], connect_timeout=0.3)
        with pytest.raises(TelephonyError, match="did not greet like an Asterisk manager"):
            await backend.connect()


async def test_endless_first_line_is_not_a_greeting(make_backend: Backends) -> None:
    # Another service on the port may send more than a line's worth without a line break.
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"A" * 200_000)
        await reader.read()
        writer.close()

    server = await asyncio.start_server(flood, "127.0.0.1", 0)
    async with server:
        backend = make_backend(server.sockets[0].getsockname()[1])
        with pytest.raises(TelephonyError, match="did not greet like an Asterisk manager"):
            await backend.connect()
        assert not backend.connected


async def test_wrong_secret_is_refused(make_backend: Backends) -> None:
    async with FakeAmi(secret="another") as pbx:
        backend = make_backend(pbx.port)
        with pytest.raises(TelephonyError, match="refused the login of 'ringround'"):
            await backend.connect()
        assert not backend.connected
        assert pbx.received("Originate") == []


async def test_no_originate_response_times_out(pbx: FakeAmi, make_backend: Backends) -> None:
    backend = make_backend(pbx.port, ring_timeout=1, answer_margin=0.1)
    call_id = await backend.place_call("alice", SILENT, "r")
    events = await stages_until(backend, call_id, S.FAILED)
    assert [e.stage for e in events] == [S.OPERATOR_RINGING, S.FAILED]
    assert events[-1].reason == "The operator's phone did not answer in time."
    # Without any event the channel's name is unknown; its Uniqueid works as well.
    await backend.hang_up(call_id)
    assert pbx.received("Hangup")[0]["Channel"] == call_id


async def test_exchange_restart_between_calls(pbx: FakeAmi, make_backend: Backends) -> None:
    pbx.call_length = 0.05
    backend = make_backend(pbx.port)  # the background retry waits 10 s: place_call reconnects
    first = await backend.place_call("alice", ANSWERING, "r1")
    assert (await stages_until(backend, first, S.ENDED))[-1].stage is S.ENDED

    await pbx.stop()
    await wait_until_async(lambda: not backend.connected, "the lost connection")
    await pbx.start()

    second = await backend.place_call("alice", ANSWERING, "r2")
    events = await stages_until(backend, second, S.ENDED)
    assert [e.stage for e in events][-2:] == [S.CONNECTED, S.ENDED]
    assert len(pbx.received("Login")) == 2


async def test_lost_connection_fails_the_call_and_reconnects_in_background(
    pbx: FakeAmi, make_backend: Backends
) -> None:
    backend = make_backend(pbx.port, retry_delay=0.05)
    call_id = await backend.place_call("alice", ANSWERING, "r")
    await stages_until(backend, call_id, S.CONNECTED)

    await pbx.stop()
    [lost] = await stages_until(backend, call_id, S.FAILED)
    assert lost.reason == "Lost the connection to the phone exchange."
    assert not backend.connected

    await pbx.start()
    await wait_until_async(lambda: backend.connected, "the connection again")
    assert len(pbx.received("Login")) == 2


async def test_close_logs_off_and_ends_the_event_stream(
    pbx: FakeAmi, make_backend: Backends
) -> None:
    backend = make_backend(pbx.port)
    await backend.connect()
    await backend.close()
    assert not backend.connected
    await wait_until_async(lambda: pbx.received("Logoff"), "the Logoff")
    async with asyncio.timeout(1):
        assert [event async for event in backend.events()] == []
    with pytest.raises(TelephonyError, match="closed"):
        await backend.place_call("alice", ANSWERING, "r")
