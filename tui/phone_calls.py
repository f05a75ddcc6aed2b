"""Click-to-call on the work screen (C4): the number keys and the PBX/manual switch.

:class:`PhoneActions` is mixed into the work screen: ``1``…``9`` claim the
active row exactly as ``c`` does and then ask the exchange (tui/phone_line.py)
to call that number; ``m`` switches between PBX and manual mode. With
telephony off both only say so. The state line and the title tell how the
call is going.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding

from storage.phones import split_extension
from storage.rows import RowKey
from telephony import CallStage, ClientResult, normalise_number
from tui.desk import AtTheDesk
from tui.formats import extension_text
from tui.i18n import N_, _
from tui.phone_line import CallWatcher, PhoneCall, PhoneChanged, PhoneLine

if TYPE_CHECKING:
    from tui.client_pane import Activation

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


def progress_text(call: PhoneCall) -> str:
    """The state line during and after a PBX call, in words."""
    number = call.number
    if call.extension:  # "PBX call to 74951234567 ext. 12": the operator asks for it
        number = f"{number} {extension_text(call.extension)}"
    stage = call.stage
    if call.call_id is None:
        return _("PBX call to {number}: asking the phone exchange…").format(number=number)
    if stage is CallStage.OPERATOR_RINGING:
        return _("PBX call to {number}: your phone is ringing — pick it up").format(number=number)
    if stage is CallStage.OPERATOR_ANSWERED:
        return _("PBX call to {number}: you answered; dialling the client…").format(number=number)
    if stage is CallStage.CLIENT_RINGING:
        return _("PBX call to {number}: the client's phone is ringing…").format(number=number)
    if stage is CallStage.CONNECTED:
        return _("PBX call to {number}: connected — f to finish when done").format(number=number)
    # Once the call is over, the reason and the keys, without the number (the row shows
    # it): the line is cut at 80 columns, and "PBX call to 79114195358: The client's
    # number is unavailable. f to finish, a to a…" hid the keys.
    if stage is CallStage.ENDED:
        reason = call.reason or _("The call has ended.")
        return _("{reason} f to finish, a to abort").format(reason=reason)
    if stage is CallStage.FAILED:
        reason = call.reason or _("The call failed.")
        return _("{reason} f to finish, a to abort").format(reason=reason)
    return _("PBX call to {number}").format(number=number)


@dataclass(frozen=True)
class PendingDial:
    """A number key was pressed; the call is placed once the row's claim succeeds."""

    key: RowKey
    position: int
    number: str  # as dialled: dial_prefix and digits
    stored: str  # as stored, for Backend.place_call
    had_lock: bool
    extension: str = ""


@dataclass(frozen=True)
class CallFacts:
    """What finishing a row records about how it was called."""

    mode: str = "manual"
    number: str = ""
    preselect: str | None = None  # outcome code the result dialog highlights


class PhoneActions(CallWatcher, AtTheDesk):
    """The work screen's telephony keys and state line; mixed into WorkScreen.

    The screen provides ``activation``, ``current_key()``,
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
    def phone(self) -> PhoneLine | None:
        return self.desk.phone

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        telephony = self.desk.policy.telephony.enabled
        if action in ("dial", "switch_mode"):
            return telephony
        if action == "telephony_off":
            return not telephony
        return True

    # --- keys -----------------------------------------------------------------------

    def action_telephony_off(self) -> None:
        self.notify(
            _("Telephony is off in the policy: dial by hand, then c starts the call."),
            title=_("Telephony"),
        )

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
        self.refuse(
            _(
                "PBX mode: press a number key 1-9 to call that number through the "
                "phone exchange, or m to switch to manual mode."
            ),
            _("Start call"),
        )
        return True

    def action_dial(self, position: int) -> None:
        phone = self.phone
        if phone is None:
            self.action_telephony_off()
            return
        title = _("PBX call")
        if not phone.pbx_mode:
            self.refuse(
                _(
                    "Manual mode: dial by hand and press c, or press m to call through "
                    "the phone exchange."
                ),
                title,
            )
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
            self.refuse(
                _("This client has no phone number {position}.").format(position=position), title
            )
            return
        live = phone.live_call()
        if live is not None:
            self.refuse(
                _(
                    "The PBX call to {number} is still in progress; wait for it to end "
                    "(or a on its row aborts it)."
                ).format(number=live.number),
                title,
            )
            return
        number = normalise_number(phones[position - 1], phone.settings.dial_prefix)
        if number == phone.settings.dial_prefix:
            self.refuse(
                _("The number {number} has no digits to dial.").format(number=phones[position - 1]),
                title,
            )
            return
        lock = activation.state.lock
        self.pending_dial = PendingDial(
            key,
            position,
            number,
            phones[position - 1],
            had_lock=lock is not None and lock.ours,
            extension=split_extension(phones[position - 1])[1],
        )
        self.start_call()  # the same claim as c: refusals, takeover, calling hours

    # --- hooks the work screen calls --------------------------------------------------

    def claim_won(self, key: RowKey) -> None:
        """The row is locked for this session: place the PBX call a number key asked for."""
        pending, self.pending_dial = self.pending_dial, None
        phone = self.phone
        if pending is None or pending.key != key or phone is None:
            return
        call = PhoneCall(
            key,
            pending.position,
            pending.number,
            pending.stored,
            pending.had_lock,
            extension=pending.extension,
        )
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
        if (
            phone.pbx_mode
            and state.refusal is None
            and state.lock is None
            and not state.removed_stale_lock
        ):
            return _("Free — 1-9 call a number through the phone exchange")
        return ""

    def call_facts(self, key: RowKey) -> CallFacts:
        """Mode, dialled number and the outcome to highlight, for finishing ``key``."""
        phone = self.phone
        call = None if phone is None else phone.calls.get(key)
        if call is None:
            return CallFacts()
        preselect = PRESELECT.get(call.client_result) if call.client_result else None
        codes = {outcome.code for outcome in self.desk.policy.outcomes}
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
                self.notify(
                    message.notice, title=_("Phone exchange"), severity="warning", timeout=10
                )
        if key is None or key != current:
            return
        activation = self.activation
        if message.notice or activation is None or activation.state.key != key:
            self.activate(key.source_id)  # the lock may have gone: read the row again
        else:
            self.show_activation(activation)  # the state line shows the call's progress
