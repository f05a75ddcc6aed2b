"""Click-to-call in the app (C4 with telephony on), driven with Pilot against the fake AMI.

The fake exchange picks what happens from the number it is asked to dial
(tests/fake_ami.py): 5550017 is busy, 5550003 leaves the operator's phone
unanswered, any other number answers and talks.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widgets import OptionList
from textual.worker import WorkerState

from storage.clients import save_phones
from storage.database import open_database
from storage.engine import write
from storage.i18n import _
from storage.policy import Policy, default_policy, load_policy
from storage.rows import APPOINTMENT, RowKey
from storage.sessions import start_session
from telephony import CallStage
from tests.clinic_fixtures import DESK_NOW, notices, text_of, wait_until
from tests.fake_ami import FakeAmi
from tui.app import RingroundApp
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.phone_calls import progress_text
from tui.phone_line import PhoneCall
from tui.result_dialog import ResultDialog
from tui.steady import SteadyText
from tui.work_screen import WorkScreen

MOSCOW = ZoneInfo("Europe/Moscow")
EVENING = int(datetime(2026, 11, 26, 21, 0, tzinfo=MOSCOW).timestamp())  # after hours
TOMORROW = datetime(2026, 11, 27, tzinfo=MOSCOW)

# Tomorrow's appointments in list order: client name and phones (the first is dialled by 1).
CLIENTS = {
    "talks": ("Иванова Мария", ["+7 (916) 123-45-67", "8 495 765-43-21"]),
    "busy": ("John Busy", ["555-00-17"]),
    "no-pickup": ("Operator Away", ["555 0003"]),
    "extension": ("Office Worker", ["+7 495 000-11-22 доб. 12"]),
}
NUMBERS = {
    "talks": "79161234567",
    "busy": "5550017",
    "no-pickup": "5550003",
    "extension": "74950001122",
}

S = TypeVar("S")


def build_db(path: Path) -> dict[str, int]:
    """Three appointments tomorrow, one per scenario; returns their ids."""
    conn = open_database(path, create=True)
    ids: dict[str, int] = {}
    with write(conn):
        for hour, (key, (name, phones)) in enumerate(CLIENTS.items(), start=9):
            client = conn.execute(
                "INSERT INTO clients (name) VALUES (?) RETURNING id", (name,)
            ).fetchone()[0]
            save_phones(conn, default_policy().phones, client, phones)
            ids[key] = conn.execute(
                "INSERT INTO appointments (client_id, starts_at, doctor, service, status)"
                " VALUES (?, ?, 'Dr. Wilson', 'Check-up', 'unconfirmed') RETURNING id",
                (client, int(TOMORROW.replace(hour=hour).timestamp())),
            ).fetchone()[0]
    conn.close()
    return ids


def telephony_policy(
    folder: Path, port: int, secret: str = "s3cret", dial_prefix: str = ""
) -> Policy:
    secret_file = folder / "ami.secret"
    secret_file.write_text(secret + "\n")
    secret_file.chmod(0o600)
    policy_file = folder / "policy.toml"
    policy_file.write_text(f"""
[telephony]
enabled = true
host = "127.0.0.1"
port = {port}
secret_file = "{secret_file}"
ring_timeout = "2s"
dial_prefix = "{dial_prefix}"

[telephony.extensions]
alice = "PJSIP/101"
""")
    return load_policy(policy_file)


def free_port() -> int:
    """A port nothing listens on: the exchange is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query(path: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    conn = open_database(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def locks(path: Path) -> list[tuple[Any, ...]]:
    return query(path, "SELECT source_id, operator FROM locks")


def attempts(path: Path) -> list[tuple[Any, ...]]:
    return query(path, "SELECT source_id, outcome, mode, number FROM attempts")


def make_app(path: Path, policy: Policy, now: int = DESK_NOW) -> RingroundApp:
    conn = open_database(path)
    try:
        session = start_session(conn, "alice", now)
    finally:
        conn.close()
    return RingroundApp(path, policy, session, clock=lambda: now, poll_every=0.2)


def busy(app: RingroundApp) -> bool:
    return any(
        w.state in (WorkerState.PENDING, WorkerState.RUNNING)
        for w in app.workers
        if w.group not in ("poll", "heartbeat", "sweep", "telephony")
    )


async def settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, RingroundApp)
    await wait_until(pilot, lambda: not busy(app), "the database workers")
    await pilot.pause()


def work_screen(app: RingroundApp) -> WorkScreen:
    screen = next(s for s in app.screen_stack if isinstance(s, WorkScreen))
    return screen


def state_line(app: RingroundApp) -> str:
    return work_screen(app).query_one("#state", SteadyText).shown.plain


def title_line(app: RingroundApp) -> str:
    return work_screen(app).query_one("#work-title", SteadyText).shown.plain


def notice(app: RingroundApp) -> str:
    screen = app.screen
    return screen.message if isinstance(screen, NoticeDialog) else ""


@asynccontextmanager
async def on_work_screen(app: RingroundApp, row: int = 0) -> AsyncIterator[Pilot[Any]]:
    """Run the app, open the confirmation list and go down to ``row``."""
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "work screen")
            await settle(pilot)
            for _ in range(row):
                await pilot.press("down")
                await settle(pilot)
            await wait_until(
                pilot, lambda: work_screen(app).activation is not None, "the first activation"
            )
            yield pilot
    finally:
        app.close_database()


async def confirm_once_ended(pilot: Pilot[Any], app: RingroundApp, path: Path) -> None:
    """Once the PBX call has ended: f, outcome 1 (confirmed), Enter; wait until it is saved."""
    await wait_until(pilot, lambda: "The call has ended." in state_line(app), "the end")
    await pilot.press("f")
    await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog")
    await pilot.press("1", "enter")
    await wait_until(pilot, lambda: attempts(path), "the saved attempt")


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "clinic.db"
    return path, build_db(path)


async def test_number_key_dials_through_the_pbx_and_follows_the_call(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, ids = db
    async with FakeAmi(step=0.3, call_length=0.3) as pbx:
        app = make_app(path, telephony_policy(tmp_path, pbx.port))
        async with on_work_screen(app) as pilot:
            await wait_until(pilot, lambda: "PBX: connected" in title_line(app), "connected")
            screen = work_screen(app)
            seen: list[str] = []
            show_state = screen.show_state

            def record(message: str) -> None:
                if not seen or seen[-1] != message:
                    seen.append(message)
                show_state(message)

            screen.show_state = record  # type: ignore[method-assign]
            await pilot.press("1")
            await wait_until(
                pilot,
                lambda: "your phone is ringing" in state_line(app),
                "the operator's phone ringing",
            )
            assert locks(path) == [(ids["talks"], "alice")]
            originate = pbx.received("Originate")
            assert len(originate) == 1
            assert originate[0]["Channel"] == "PJSIP/101"
            assert originate[0]["Exten"] == NUMBERS["talks"]
            assert originate[0]["Variable"] == f"RINGROUND_REF=appointment:{ids['talks']}"
            await wait_until(pilot, lambda: "The call has ended." in state_line(app), "the end")
            stages = [
                "your phone is ringing",
                "the client's phone is ringing",
                "connected",
                "The call has ended.",
            ]
            progress = [next((s for s in stages if s in text), None) for text in seen]
            firsts = [s for i, s in enumerate(progress) if s and s not in progress[:i]]
            assert firsts == stages, seen
            assert locks(path) == [(ids["talks"], "alice")]

            await pilot.press("f")
            await wait_until(
                pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog"
            )
            dialog = app.screen
            assert dialog.query_one("#outcomes", OptionList).highlighted == 0  # no preselect
            await pilot.press("1", "enter")
            await wait_until(pilot, lambda: attempts(path), "the saved attempt")
            assert attempts(path) == [(ids["talks"], "confirmed", "pbx", NUMBERS["talks"])]
            assert locks(path) == []
            await settle(pilot)
        assert pbx.received("Logoff"), "the app logs off the exchange when it exits"


async def test_a_pbx_call_on_an_appointment_moved_meanwhile_is_not_followed_after(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    """The front desk moved the visit during the call: the save is refused and its lock
    released, so the exchange stops following that call and the row offers a new one."""
    path, ids = db
    async with FakeAmi(step=0.3, call_length=0.3) as pbx:
        app = make_app(path, telephony_policy(tmp_path, pbx.port))
        async with on_work_screen(app) as pilot:
            await wait_until(pilot, lambda: "PBX: connected" in title_line(app), "connected")
            await pilot.press("1")
            await wait_until(pilot, lambda: "The call has ended." in state_line(app), "the end")
            conn = open_database(path)
            with write(conn):  # the front desk's schedule, written on the clinic's side
                conn.execute(
                    "UPDATE appointments SET starts_at = starts_at + 3600 WHERE id = ?",
                    (ids["talks"],),
                )
            conn.close()
            await pilot.press("f")
            await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the dialog")
            dialog = app.screen
            await pilot.press("1", "enter")
            message = dialog.query_one("#result-message")
            await wait_until(pilot, lambda: "Not saved" in text_of(message), "the sentence")
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "the list")
            await wait_until(
                pilot,
                lambda: "Free — 1-9 call a number" in state_line(app),
                "the row free for a new call",
            )
            assert attempts(path) == [] and locks(path) == []
            await settle(pilot)


async def test_an_extension_is_shown_to_ask_for_and_never_dialled(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, ids = db
    async with FakeAmi(step=0.3, call_length=0.3) as pbx:
        app = make_app(path, telephony_policy(tmp_path, pbx.port))
        async with on_work_screen(app, row=3) as pilot:
            await wait_until(pilot, lambda: "PBX: connected" in title_line(app), "connected")
            pane = work_screen(app).query_one("#pane", SteadyText).shown.plain
            assert "Office Worker" in pane and "1 +7 495 000-11-22 ext. 12" in pane, pane
            await pilot.press("1")
            await wait_until(pilot, lambda: pbx.received("Originate"), "the Originate")
            assert pbx.received("Originate")[0]["Exten"] == NUMBERS["extension"]
            await wait_until(pilot, lambda: "connected" in state_line(app), "the client")
            assert f"PBX call to {NUMBERS['extension']} ext. 12: connected" in state_line(app)
            await confirm_once_ended(pilot, app, path)
            assert attempts(path) == [(ids["extension"], "confirmed", "pbx", NUMBERS["extension"])]
            await settle(pilot)


async def test_the_dial_prefix_is_put_before_the_number_once(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, ids = db
    async with FakeAmi(step=0.3, call_length=0.3) as pbx:
        app = make_app(path, telephony_policy(tmp_path, pbx.port, dial_prefix="9"))
        async with on_work_screen(app) as pilot:
            await wait_until(pilot, lambda: "PBX: connected" in title_line(app), "connected")
            await pilot.press("1")
            await wait_until(pilot, lambda: pbx.received("Originate"), "the Originate")
            assert pbx.received("Originate")[0]["Exten"] == "9" + NUMBERS["talks"]
            assert f"PBX call to 9{NUMBERS['talks']}" in state_line(app)
            await confirm_once_ended(pilot, app, path)
            assert attempts(path) == [(ids["talks"], "confirmed", "pbx", "9" + NUMBERS["talks"])]
            await settle(pilot)


async def test_client_busy_preselects_busy_and_saves_a_pbx_attempt(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, ids = db
    async with FakeAmi() as pbx:
        app = make_app(path, telephony_policy(tmp_path, pbx.port))
        async with on_work_screen(app, row=1) as pilot:
            await pilot.press("1")
            await wait_until(
                pilot,
                lambda: "The client's line is busy." in state_line(app),
                "busy in the state line",
            )
            assert locks(path) == [(ids["busy"], "alice")]
            await pilot.press("f")
            await wait_until(
                pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog"
            )
            dialog = app.screen
            codes = [outcome.code for outcome in app.policy.outcomes]
            options = dialog.query_one("#outcomes", OptionList)
            assert options.highlighted == codes.index("busy")
            await pilot.press("enter")  # picks the highlighted outcome, on to the comment
            await pilot.press(*"line busy", "enter")
            await wait_until(pilot, lambda: attempts(path), "the saved attempt")
            assert attempts(path) == [(ids["busy"], "busy", "pbx", NUMBERS["busy"])]
            assert query(path, "SELECT comment FROM attempts") == [("line busy",)]
            assert locks(path) == []
            await settle(pilot)


async def test_operator_not_answering_releases_the_lock_and_records_nothing(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, _ids = db
    async with FakeAmi() as pbx:
        app = make_app(path, telephony_policy(tmp_path, pbx.port))
        async with on_work_screen(app, row=2) as pilot:
            await pilot.press("1")
            sentence = "The operator's phone rang without an answer."
            await wait_until(pilot, lambda: sentence in notice(app), "the notice")
            await wait_until(pilot, lambda: not locks(path), "the lock released")
            assert "nothing was recorded" in notice(app)
            assert pbx.received("Originate")[0]["Exten"] == NUMBERS["no-pickup"]
            await pilot.press("escape")
            await settle(pilot)
            # The notice was a dialog; the state line tells the row's state: free again.
            assert state_line(app) == "Free — 1-9 call a number through the phone exchange"
            assert attempts(path) == []
            await pilot.press("f")  # no lock, nothing to finish
            assert isinstance(app.screen, NoticeDialog)
            await pilot.press("escape")
            await settle(pilot)


async def test_pbx_down_says_why_leaves_no_lock_and_manual_mode_still_calls(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, ids = db
    app = make_app(path, telephony_policy(tmp_path, free_port()))
    async with on_work_screen(app) as pilot:
        await wait_until(
            pilot,
            lambda: "PBX: not connected" in title_line(app),
            "the title saying the exchange is down",
        )
        await pilot.press("1")
        await wait_until(
            pilot, lambda: "Cannot reach the phone exchange" in notice(app), "the sentence"
        )
        await wait_until(pilot, lambda: not locks(path), "no lock left")
        await pilot.press("escape")
        await settle(pilot)
        assert state_line(app) == "Free — 1-9 call a number through the phone exchange"
        assert attempts(path) == []

        await pilot.press("m")
        await wait_until(pilot, lambda: "manual mode" in title_line(app), "manual mode")
        await pilot.press("c")
        await wait_until(pilot, lambda: locks(path), "the manual claim")
        assert locks(path) == [(ids["talks"], "alice")]
        await settle(pilot)
        assert not isinstance(app.screen, NoticeDialog)

        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "result dialog")
        await pilot.press("1", "enter")
        await wait_until(pilot, lambda: attempts(path), "the saved attempt")
        assert attempts(path) == [(ids["talks"], "confirmed", "manual", "")]
        await settle(pilot)


async def test_c_in_pbx_mode_points_to_the_number_keys(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, _ids = db
    async with FakeAmi() as pbx:
        app = make_app(path, telephony_policy(tmp_path, pbx.port))
        async with on_work_screen(app) as pilot:
            assert "1-9 call a number" in state_line(app)
            await pilot.press("c")
            await wait_until(pilot, lambda: "number key" in notice(app), "the refusal")
            assert " m " in notice(app)
            await pilot.press("escape")
            await settle(pilot)
            assert locks(path) == []
            assert pbx.received("Originate") == []
            active = work_screen(app).active_bindings
            assert active["1"].binding.description == "Dial"
            assert active["1"].binding.key_display == "1-9"
            assert active["m"].binding.description == "Mode"


async def test_calling_hours_are_asked_before_a_pbx_call(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, ids = db
    async with FakeAmi(step=1.0) as pbx:  # the operator's phone rings for a second
        app = make_app(path, telephony_policy(tmp_path, pbx.port), now=EVENING)
        async with on_work_screen(app) as pilot:
            await pilot.press("2")
            await wait_until(
                pilot, lambda: isinstance(app.screen, ConfirmDialog), "the calling-hours question"
            )
            assert pbx.received("Originate") == []
            await pilot.press("y")
            await wait_until(pilot, lambda: pbx.received("Originate"), "the Originate")
            assert pbx.received("Originate")[0]["Exten"] == "84957654321"  # second number
            assert locks(path) == [(ids["talks"], "alice")]
            await wait_until(
                pilot,
                lambda: "your phone is ringing" in state_line(app),
                "the operator's phone ringing",
            )
            await pilot.press("a")  # abort while ringing: the call is hung up, nothing recorded
            await wait_until(pilot, lambda: not locks(path), "the abort")
            await wait_until(pilot, lambda: pbx.received("Hangup"), "the Hangup")
            await settle(pilot)
            assert attempts(path) == []
            assert any("nothing was recorded" in text for text in notices(app))
            assert not isinstance(app.screen, NoticeDialog)  # the hung-up call says nothing


async def test_telephony_off_shows_nothing_and_keys_say_so(
    tmp_path: Path, db: tuple[Path, dict[str, int]]
) -> None:
    path, _ids = db
    app = make_app(path, default_policy())
    async with on_work_screen(app) as pilot:
        assert app.phone is None
        assert "PBX" not in title_line(app)
        active = work_screen(app).active_bindings
        assert active["1"].binding.action == "telephony_off"
        assert not active["1"].binding.show and not active["m"].binding.show
        for key in ("1", "m"):
            await pilot.press(key)
            await pilot.pause()
            messages = [n.message for n in app._notifications]
            assert any("Telephony is off in the policy" in m for m in messages), messages
            app.clear_notifications()
        assert locks(path) == []
        await pilot.press("c")
        await wait_until(pilot, lambda: locks(path), "the plain claim")
        await settle(pilot)


# What the exchange reports when the client's leg does not answer (telephony/ami.py).
CLIENT_FAILURES = [
    "The client's line is busy.",
    "The client did not answer.",
    "The client's number is unreachable (congestion).",
    "The client's number is unavailable.",
    "The call was hung up before the client answered.",
]


@pytest.mark.parametrize("reason", CLIENT_FAILURES)
@pytest.mark.parametrize("stage", [CallStage.FAILED, CallStage.ENDED])
def test_after_a_failed_pbx_call_the_state_line_keeps_its_keys_at_80_columns(
    language: str, stage: CallStage, reason: str
) -> None:
    """The state line is one line cut with «…» (tui/app.tcss, #state): «Звонок через АТС на
    79114195358: Номер клиента недоступен. f: завершить, a: п…» hid the keys."""
    call = PhoneCall(
        key=RowKey(APPOINTMENT, 1),
        position=1,
        number="79114195358",
        stored="+7 911 419-53-58",
        had_lock=False,
        call_id="1",
        stage=stage,
        operator_answered=True,
        reason=_(reason),
    )
    line = progress_text(call)
    keys = "f to finish, a to abort" if language == "en" else "f: завершить, a: прервать"
    assert line.endswith(keys), line
    assert cell_len(line) <= 78, line  # 80 columns less the line's padding


@pytest.mark.parametrize(
    "stage",
    [
        None,
        CallStage.OPERATOR_RINGING,
        CallStage.OPERATOR_ANSWERED,
        CallStage.CLIENT_RINGING,
        CallStage.CONNECTED,
    ],
)
def test_a_pbx_call_under_way_fits_the_state_line_at_80_columns(
    language: str, stage: CallStage | None
) -> None:
    """With a dial prefix and a 4-digit extension: «… доб. 1234: звонит ваш телефон —
    снимите трубк…»."""
    call = PhoneCall(
        key=RowKey(APPOINTMENT, 1),
        position=1,
        number="979114195358",
        stored="+7 911 419-53-58",
        had_lock=False,
        extension="1234",
        call_id=None if stage is None else "1",
        stage=stage,
    )
    line = progress_text(call)
    assert cell_len(line) <= 78, line  # 80 columns less the line's padding
