"""The app's line to the phone exchange (C4 with telephony on).

:class:`PhoneLine` belongs to the app and exists only when the policy turns
telephony on. It builds the backend on the app's event loop, connects in the
background, follows every call's progress, remembers the PBX call of each row
until its result is saved or aborted, and keeps the PBX/manual mode switch.
When the operator's own phone never answers (or the exchange cannot be
reached), it releases the lock that the dial took, so nothing is recorded.
No telephony problem ever leaves this module as an exception: each becomes a
sentence for the screens that show calls (:class:`CallWatcher`) or a notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from textual.app import App
from textual.message import Message

from storage.admin_log import log_event
from storage.locks import abort_call
from storage.policy import Policy
from storage.rows import RowKey
from storage.sessions import Session
from telephony import (
    Backend,
    CallEvent,
    CallStage,
    ClientResult,
    TelephonyError,
    backend_for,
)
from tui.database_work import Database
from tui.i18n import _

WATCH_EVERY = 1.0  # seconds between looks at whether the exchange is still connected
CLOSE_WITHIN = 3.0  # seconds the backend gets to log off when the app exits


def unexpected(error: BaseException) -> str:
    """A backend failure nobody foresaw, as a sentence (the app must not crash on it)."""
    detail = str(error) or type(error).__name__
    return _("The phone exchange connection failed unexpectedly ({detail}).").format(detail=detail)


@dataclass
class PhoneCall:
    """One PBX call placed for a row, as far as the exchange has reported it."""

    key: RowKey
    position: int  # which of the client's numbers, 1…9
    number: str  # what the exchange dials: dial_prefix and digits (C4)
    stored: str  # the number as stored, what Backend.place_call takes (it adds the prefix)
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


class PhoneChanged(Message):
    """The exchange's connection or a call changed; ``notice`` is a sentence to show once."""

    def __init__(self, key: RowKey | None = None, notice: str = "") -> None:
        super().__init__()
        self.key = key
        self.notice = notice


class CallWatcher:
    """A screen that shows the line's calls: it is sent :class:`PhoneChanged`."""


class PhoneLine:
    """The app's line to the exchange: backend, connection state, mode and calls."""

    def __init__(
        self,
        app: App[Any],
        database: Database,
        policy: Policy,
        operator: str,
        session: Callable[[], Session | None],
        clock: Callable[[], int],
    ) -> None:
        """``session`` gives the operator's session, None until it has started (tui/app.py).

        It never waits: the app starts the session after its first paint, and the
        line may have something to log before that (the exchange refused at once).
        """
        self.app = app
        self.database = database
        self.policy = policy
        self.operator = operator
        self.session = session
        self.clock = clock
        self.settings = policy.telephony
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
        self.app.run_worker(self._run(), name="telephony", group="telephony", exit_on_error=False)
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
            self.app.notify(
                self.problem + " " + _("Press m on the work screen to dial by hand."),
                title=_("Phone exchange"),
                severity="warning",
                timeout=10,
            )
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
        log_event(
            logging.ERROR,
            event,
            operator=self.operator,
            session=session.id if (session := self.session()) else None,
            row=key,
            reason=reason or None,
        )

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
        screens = [s for s in self.app.screen_stack if isinstance(s, CallWatcher)]
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
                raise TelephonyError(
                    _(
                        "The connection to the phone exchange is still being "
                        "set up; try again in a moment."
                    )
                )
            call_id = await backend.place_call(self.operator, call.stored, str(call.key))
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
        if event.stage in (
            CallStage.OPERATOR_ANSWERED,
            CallStage.CLIENT_RINGING,
            CallStage.CONNECTED,
        ):
            call.operator_answered = True
        if event.client_result is not None:
            call.client_result = event.client_result
        if event.reason:
            call.reason = event.reason
        if (
            event.stage is CallStage.FAILED
            and not call.operator_answered
            and call.client_result is None
        ):
            # The operator's phone never answered: no call took place.
            self._failed(call, event.reason or _("The phone exchange could not ring your phone."))
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
            self.announce(
                call.key, reason + " " + _("The row stays locked by you: f to finish, a to abort.")
            )
            return
        session = self.session()
        assert session is not None  # a PBX call needs a row the started session locked
        self.database.work(
            self.app,
            lambda conn: abort_call(conn, self.policy, session, call.key, self.clock()),
            done=lambda _released: self.announce(
                call.key, reason + " " + _("The lock was released; nothing was recorded.")
            ),
            failed=lambda error: self.announce(call.key, f"{reason} {error}"),
            group="phone-release",
            exclusive=False,
        )

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
            self.app.run_worker(
                self._hang_up(backend, call.call_id), group="phone-hang-up", exit_on_error=False
            )

    async def _hang_up(self, backend: Backend, call_id: str) -> None:
        try:
            await backend.hang_up(call_id)
        except Exception as error:
            reason = str(error) if isinstance(error, TelephonyError) else unexpected(error)
            self._log("pbx-error", None, reason)
            self.announce(None, reason)
