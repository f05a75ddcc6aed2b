"""Click-to-call in the app (C4 with telephony on): the PBX line and the work screen's keys.

:class:`PhoneLine` belongs to the app and exists only when the policy turns
telephony on. It builds the backend on the app's event loop, connects in the
background, follows every call's progress, remembers the PBX call of each row
until its result is saved or aborted, and keeps the PBX/manual mode switch.
When the operator's own phone never answers (or the exchange cannot be
reached), it releases the lock that the dial took, so nothing is recorded.

:class:`PhoneActions` is mixed into the work screen: ``1``…``9`` claim the
active row exactly as ``c`` does and then ask the exchange to call that
number; ``m`` switches between PBX and manual mode. With telephony off both
only say so. No telephony problem ever leaves this module as an exception:
each becomes a sentence in the state line and a notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.message import Message

from storage.admin_log import log_event
from storage.database import StorageError
from storage.errors import NotAllowed
from storage.locks import abort_call
from storage.phones import split_extension
from storage.rows import RowKey
from telephony import (
    Backend,
    CallEvent,
    CallStage,
    ClientResult,
    TelephonyError,
    backend_for,
    normalise_number,
)
from tui.formats import extension_text
from tui.i18n import N_, _

if TYPE_CHECKING:
    from tui.app import RingroundApp
    from tui.client_pane import Activation

WATCH_EVERY = 1.0  # seconds between looks at whether the exchange is still connected
CLOSE_WITHIN = 3.0  # seconds the backend gets to log off when the app exits

# What the exchange said about the client's line -> the outcome code the result dialog
# highlights, when the policy has an outcome with that code.
PRESELECT: dict[ClientResult, str] = {"busy": "busy", "no-answer": "no-answer"}

PHONE_BINDINGS = [
    Binding("1", "dial(1)", N_("Dial"), key_display="1-9"),
    *(Binding(str(n), f"dial({n})", show=False) for n in range(2, 10)),
    Binding("m", "switch_mode", N_("Mode")),
    # With telephony off the two above are disabled (check_action) and these answer instead.
    Binding("1,2,3,4,5,6,7,8,9,m", "telephony_off", show=False),
]
"""The work screen's telephony keys; shown in the footer only when telephony is on."""


def unexpected(error: BaseException) -> str:
    """A backend failure nobody foresaw, as a sentence (the app must not crash on it)."""
    detail = str(error) or type(error).__name__
    return _("The phone exchange connection failed unexpectedly ({detail}).").format(
        detail=detail)


@dataclass
class PhoneCall:
    """One PBX call placed for a row, as far as the exchange has reported it."""

    key: RowKey
    position: int  # which of the client's numbers, 1…9
    number: str  # what the exchange dials: dial_prefix and digits (C4)
    had_lock: bool  # the row was already locked by this session before dialling
    extension: str = ""  # to ask for once the client answers; never dialled
    call_id: str | None = None  # None until the exchange has accepted the call
    stage: CallStage | None = None
    operator_answered: bool = False
    client_result: ClientResult | None = None
    reason: str | None = None

    @property
    def live(self) -> bool:
        """Still being placed or in progress: the phones may still ring."""
        return self.stage is None or not self.stage.final

    @property
    def connected(self) -> bool:
        return self.stage is CallStage.CONNECTED


def progress_text(call: PhoneCall) -> str:
    """The state line during and after a PBX call, in words."""
    number = call.number
    if call.extension:  # "PBX call to 74951234567 ext. 12": the operator asks for it
        number = f"{number} {extension_text(call.extension)}"
    stage = call.stage
    if call.call_id is None:
        return _("PBX call to {number}: asking the phone exchange…").format(number=number)
    if stage is CallStage.OPERATOR_RINGING:
        return _("PBX call to {number}: your phone is ringing — pick it up").format(
            number=number)
    if stage is CallStage.OPERATOR_ANSWERED:
        return _("PBX call to {number}: you answered; dialling the client…").format(
            number=number)
    if stage is CallStage.CLIENT_RINGING:
        return _("PBX call to {number}: the client's phone is ringing…").format(number=number)
    if stage is CallStage.CONNECTED:
        return _("PBX call to {number}: connected — f to finish when done").format(
            number=number)
    if stage is CallStage.ENDED:
        reason = call.reason or _("The call has ended.")
        return _("PBX call to {number}: {reason} f to finish, a to abort").format(
            number=number, reason=reason)
    if stage is CallStage.FAILED:
        reason = call.reason or _("The call failed.")
        return _("PBX call to {number}: {reason} f to finish, a to abort").format(
            number=number, reason=reason)
    return _("PBX call to {number}").format(number=number)


class PhoneChanged(Message):
    """The exchange's connection or a call changed; ``notice`` is a sentence to show once."""

    def __init__(self, key: RowKey | None = None, notice: str = "") -> None:
        super().__init__()
        self.key = key
        self.notice = notice


class PhoneLine:
    """The app's line to the exchange: backend, connection state, mode and calls."""

    def __init__(self, app: RingroundApp) -> None:
        self.app = app
        self.settings = app.policy.telephony
        self.backend: Backend | None = None
        self.pbx_mode = True  # False: manual mode, c works as without a PBX
        self.connected = False
        self.connecting = False
        self.problem = ""  # why the exchange is not connected, one sentence
        self.calls: dict[RowKey, PhoneCall] = {}  # the latest PBX call of each locked row
        self._early: list[CallEvent] = []  # events that came before place_call returned
        self._closed = False

    # --- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Build the backend and connect, in the background; watch the connection."""
        self.app.run_worker(self._run(), name="telephony", group="telephony",
                            exit_on_error=False)
        self.app.set_interval(WATCH_EVERY, self._watch)

    async def _run(self) -> None:
        try:
            self.backend = backend_for(self.settings)
        except Exception as error:  # a bug must not take the app down with it
            self.problem = unexpected(error)
            self.announce()
            return
        await self.connect(quiet=False)
        backend = self.backend
        while not self._closed:
            try:
                async for event in backend.events():
                    try:
                        self._on_event(event)
                    except Exception as error:
                        self.app.log.error("telephony event", event, error)
                return  # the backend was closed
            except Exception as error:
                self.app.log.error("telephony events", error)
                await asyncio.sleep(WATCH_EVERY)

    async def connect(self, *, quiet: bool = True) -> None:
        """Connect and log in unless already connected; a failure is kept in :attr:`problem`."""
        backend = self.backend
        if backend is None or self.connecting or self._closed:
            return
        self.connecting = True
        self.announce()
        before = self.problem
        try:
            await backend.connect()
            self.problem = ""
        except TelephonyError as error:
            self.problem = str(error)
        except Exception as error:
            self.problem = unexpected(error)
        finally:
            self.connecting = False
            self.connected = self._backend_connected()
        if self.problem and self.problem != before:  # once per problem, not per retry
            self._log("pbx-error", None, self.problem)
        if self.problem and not quiet:
            self.app.notify(self.problem + " " + _("Press m on the work screen to dial by hand."),
                            title=_("Phone exchange"), severity="warning", timeout=10)
        self.announce()

    def _backend_connected(self) -> bool:
        try:
            return self.backend is not None and bool(self.backend.connected)
        except Exception:
            return False

    def _watch(self) -> None:
        """Notice the exchange going away or coming back (the backend reconnects itself)."""
        if self.connecting:
            return
        now = self._backend_connected()
        if now != self.connected:
            self.connected = now
            if now:
                self.problem = ""
            else:
                self._log("pbx-connection-lost", None, "")
            self.announce()

    def _log(self, event: str, key: RowKey | None, reason: str) -> None:
        """A line in the administrator's log (storage.admin_log); ``reason`` as shown."""
        log_event(logging.ERROR, event, operator=self.app.session.operator,
                  session=self.app.session.id, row=key, reason=reason or None)

    async def close(self) -> None:
        """Log off the exchange (app exit); calls on the phones carry on."""
        self._closed = True
        backend = self.backend
        if backend is not None:
            with suppress(Exception):
                await asyncio.wait_for(backend.close(), CLOSE_WITHIN)

    # --- what the screens show ------------------------------------------------------

    def status_text(self) -> str:
        """The title line's few words about the exchange (plain ASCII)."""
        if self.connected:
            status = _("PBX: connected")
        elif self.connecting:
            status = _("PBX: connecting")
        else:
            status = _("PBX: not connected")
        if not self.pbx_mode:
            return _("manual mode ({status})").format(status=status)
        return status

    def announce(self, key: RowKey | None = None, notice: str = "") -> None:
        """Tell the screens; a notice with no work screen open becomes a toast."""
        screens = [s for s in self.app.screen_stack if isinstance(s, PhoneActions)]
        for screen in screens:
            screen.post_message(PhoneChanged(key, notice))
        if notice and not screens:
            self.app.notify(notice, title=_("Phone exchange"), severity="warning", timeout=10)

    def live_call(self) -> PhoneCall | None:
        return next((call for call in self.calls.values() if call.live), None)

    # --- placing calls ----------------------------------------------------------------

    def dial(self, call: PhoneCall) -> None:
        """Ask the exchange for ``call``; its row is already locked by this session."""
        self.calls[call.key] = call
        self.app.run_worker(self._place(call), group="phone-call", exit_on_error=False)

    async def _place(self, call: PhoneCall) -> None:
        backend = self.backend
        try:
            if backend is None:
                raise TelephonyError(_("The connection to the phone exchange is still being "
                                       "set up; try again in a moment."))
            call_id = await backend.place_call(self.app.operator, call.number,
                                               str(call.key))
        except TelephonyError as error:
            self._failed(call, str(error))
            return
        except Exception as error:
            self._failed(call, unexpected(error))
            return
        finally:
            self._watch()
        call.call_id = call_id
        if call.stage is None:
            call.stage = CallStage.OPERATOR_RINGING  # accepted: the exchange rings the operator
        if self.calls.get(call.key) is not call:
            # Saved or aborted while the exchange was still answering: no phone should ring.
            if backend is not None:
                await self._hang_up(backend, call_id)
            return
        early, self._early = self._early, []
        for event in early:
            if event.call_id == call_id:
                self._apply(call, event)
        self.announce(call.key)

    def _on_event(self, event: CallEvent) -> None:
        call = next((c for c in self.calls.values() if c.call_id == event.call_id), None)
        if call is not None:
            self._apply(call, event)
        elif any(c.call_id is None for c in self.calls.values()):
            self._early.append(event)  # probably the call whose place_call has not returned

    def _apply(self, call: PhoneCall, event: CallEvent) -> None:
        if call.stage is not None and call.stage.final:
            return
        call.stage = event.stage
        if event.stage in (CallStage.OPERATOR_ANSWERED, CallStage.CLIENT_RINGING,
                           CallStage.CONNECTED):
            call.operator_answered = True
        if event.client_result is not None:
            call.client_result = event.client_result
        if event.reason:
            call.reason = event.reason
        if (event.stage is CallStage.FAILED and not call.operator_answered
                and call.client_result is None):
            # The operator's phone never answered: no call took place.
            self._failed(call, event.reason or _("The phone exchange could not ring your "
                                                 "phone."))
            return
        self.announce(call.key)

    def _failed(self, call: PhoneCall, reason: str) -> None:
        """No call took place: release the lock the dial took (nothing is recorded)."""
        call.stage, call.reason = CallStage.FAILED, reason
        self._log("pbx-call-failed", call.key, reason)
        if self.calls.get(call.key) is not call:
            return  # already saved, aborted or replaced by a newer call
        del self.calls[call.key]
        if call.had_lock:
            self.announce(call.key, reason + " " + _("The row stays locked by you: f to finish, "
                                                     "a to abort."))
            return
        app = self.app

        def release() -> None:
            try:
                app.call_db(lambda conn: abort_call(conn, app.policy, app.session,
                                                    call.key, app.now()))
            except (StorageError, NotAllowed) as error:
                app.call_from_thread(self.announce, call.key, f"{reason} {error}")
                return
            app.call_from_thread(self.announce, call.key, reason + " " + _(
                "The lock was released; nothing was recorded."))

        app.run_worker(release, thread=True, group="phone-release", exit_on_error=False)

    def forget(self, key: RowKey) -> None:
        """The row's result was saved or its call aborted: stop following its call.

        A call that has not connected yet is hung up, so no phone rings for a row
        that is already settled.
        """
        call = self.calls.pop(key, None)
        if call is None or not call.live or call.connected:
            return
        backend = self.backend
        if backend is not None and call.call_id is not None:
            self.app.run_worker(self._hang_up(backend, call.call_id), group="phone-hang-up",
                                exit_on_error=False)

    async def _hang_up(self, backend: Backend, call_id: str) -> None:
        try:
            await backend.hang_up(call_id)
        except Exception as error:
            reason = str(error) if isinstance(error, TelephonyError) else unexpected(error)
            self._log("pbx-error", None, reason)
            self.announce(None, reason)


@dataclass(frozen=True)
class PendingDial:
    """A number key was pressed; the call is placed once the row's claim succeeds."""

    key: RowKey
    position: int
    number: str
    had_lock: bool
    extension: str = ""


@dataclass(frozen=True)
class CallFacts:
    """What finishing a row records about how it was called."""

    mode: str = "manual"
    number: str = ""
    preselect: str | None = None  # outcome code the result dialog highlights


class PhoneActions:
    """The work screen's telephony keys and state line; mixed into WorkScreen.

    The screen provides ``ringround``, ``activation``, ``current_key()``,
    ``start_call()``, ``refuse()``, ``show_state()``, ``show_title()``,
    ``show_activation()`` and calls :meth:`claim_won`, :meth:`call_released`,
    :meth:`phone_state`, :meth:`phone_title` and :meth:`call_facts`.
    """

    pending_dial: PendingDial | None = None

    if TYPE_CHECKING:
        activation: Activation | None
        refuse: Callable[..., None]
        show_state: Callable[[str], None]
        show_title: Callable[[], None]
        show_activation: Callable[[Activation], None]
        start_call: Callable[[], None]
        current_key: Callable[[], RowKey | None]
        activate: Callable[[int], object]
        notify: Callable[..., None]

        @property
        def ringround(self) -> RingroundApp: ...

    @property
    def phone(self) -> PhoneLine | None:
        return self.ringround.phone

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        telephony = self.ringround.policy.telephony.enabled
        if action in ("dial", "switch_mode"):
            return telephony
        if action == "telephony_off":
            return not telephony
        return True

    # --- keys -----------------------------------------------------------------------

    def action_telephony_off(self) -> None:
        self.notify(_("Telephony is off in the policy: dial by hand, then c starts the call."),
                    title=_("Telephony"))

    def action_switch_mode(self) -> None:
        phone = self.phone
        if phone is None:
            self.action_telephony_off()
            return
        phone.pbx_mode = not phone.pbx_mode
        self.pending_dial = None
        if phone.pbx_mode:
            message = _("PBX mode: 1-9 call the client's numbers through the phone exchange.")
        else:
            message = _("Manual mode: dial by hand, then c starts the call.")
        self.notify(message, title=_("Mode"))
        self.show_title()
        if self.activation is not None:
            self.show_activation(self.activation)

    def pbx_refuses_start_call(self) -> bool:
        """C4: in PBX mode ``c`` points to the number keys and ``m``."""
        phone = self.phone
        if phone is None or not phone.pbx_mode:
            return False
        self.refuse(_("PBX mode: press a number key 1-9 to call that number through the "
                      "phone exchange, or m to switch to manual mode."), _("Start call"))
        return True

    def action_dial(self, position: int) -> None:
        phone = self.phone
        if phone is None:
            self.action_telephony_off()
            return
        title = _("PBX call")
        if not phone.pbx_mode:
            self.refuse(_("Manual mode: dial by hand and press c, or press m to call through "
                          "the phone exchange."), title)
            return
        key = self.current_key()
        activation = self.activation
        if key is None:
            return
        if activation is None or activation.state.key != key or activation.client is None:
            self.refuse(_("The row is still loading; press the key again."), title)
            return
        phones = activation.client.phones
        if not 1 <= position <= len(phones):
            self.refuse(_("This client has no phone number {position}.").format(
                position=position), title)
            return
        live = phone.live_call()
        if live is not None:
            self.refuse(_("The PBX call to {number} is still in progress; wait for it to end "
                          "(or a on its row aborts it).").format(number=live.number), title)
            return
        number = normalise_number(phones[position - 1], phone.settings.dial_prefix)
        if number == phone.settings.dial_prefix:
            self.refuse(_("The number {number} has no digits to dial.").format(
                number=phones[position - 1]), title)
            return
        lock = activation.state.lock
        self.pending_dial = PendingDial(key, position, number,
                                        had_lock=lock is not None
                                        and lock.ours,
                                        extension=split_extension(phones[position - 1])[1])
        self.start_call()  # the same claim as c: refusals, takeover, calling hours

    # --- hooks the work screen calls --------------------------------------------------

    def claim_won(self, key: RowKey) -> None:
        """The row is locked for this session: place the PBX call a number key asked for."""
        pending, self.pending_dial = self.pending_dial, None
        phone = self.phone
        if pending is None or pending.key != key or phone is None:
            return
        call = PhoneCall(key, pending.position, pending.number, pending.had_lock,
                         extension=pending.extension)
        phone.dial(call)
        if self.current_key() == key:
            self.show_state(progress_text(call))

    def call_released(self, key: RowKey) -> None:
        """The row's result was saved or its processing aborted."""
        if self.phone is not None:
            self.phone.forget(key)

    def phone_title(self) -> list[str]:
        """Title-line parts: whether the exchange is connected, and the mode."""
        return [] if self.phone is None else [self.phone.status_text()]

    def phone_state(self, activation: Activation) -> str:
        """The state line while a PBX call of this row is followed, or "" for the usual one."""
        phone = self.phone
        if phone is None:
            return ""
        call = phone.calls.get(activation.state.key)
        if call is not None:
            return progress_text(call)
        state = activation.state
        if (phone.pbx_mode and state.refusal is None and state.lock is None
                and not state.removed_stale_lock):
            return _("Free — 1-9 call a number through the phone exchange")
        return ""

    def call_facts(self, key: RowKey) -> CallFacts:
        """Mode, dialled number and the outcome to highlight, for finishing ``key``."""
        phone = self.phone
        call = None if phone is None else phone.calls.get(key)
        if call is None:
            return CallFacts()
        preselect = PRESELECT.get(call.client_result) if call.client_result else None
        codes = {outcome.code for outcome in self.ringround.policy.outcomes}
        return CallFacts("pbx", call.number, preselect if preselect in codes else None)

    # --- messages ---------------------------------------------------------------------

    def on_phone_changed(self, message: PhoneChanged) -> None:
        self.show_title()
        key = message.key
        current = self.current_key()
        if message.notice:
            if key is None or key == current:
                self.refuse(message.notice, _("Phone exchange"))
            else:
                self.notify(message.notice, title=_("Phone exchange"), severity="warning",
                            timeout=10)
        if key is None or key != current:
            return
        activation = self.activation
        if message.notice or activation is None or activation.state.key != key:
            self.activate(key.source_id)  # the lock may have gone: read the row again
        else:
            self.show_activation(activation)  # the state line shows the call's progress
