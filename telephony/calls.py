"""What every telephony backend offers the app: placing a call and reporting its progress.

Click-to-call has one shape on every PBX: the exchange first rings the
operator's own phone and, once the operator answers, dials the client and
joins the two. A backend reports that progress as :class:`CallEvent` values.
Every message meant for people (:class:`TelephonyError` and
:attr:`CallEvent.reason`) is one complete sentence, ready to show as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from storage.errors import RingroundError
from storage.phones import number_digits

ClientResult = Literal["busy", "no-answer", "congestion", "unavailable", "answered"]
"""What the client's line did; "busy" and "no-answer" match the default outcome codes."""


class TelephonyError(RingroundError):
    """The exchange refused or cannot be reached; the message is one sentence for people."""


class CallStage(StrEnum):
    """How far a placed call has got; ``ENDED`` and ``FAILED`` are final."""

    OPERATOR_RINGING = "operator_ringing"
    OPERATOR_ANSWERED = "operator_answered"
    CLIENT_RINGING = "client_ringing"
    CONNECTED = "connected"
    ENDED = "ended"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """True when no further event will come for this call."""
        return self in (CallStage.ENDED, CallStage.FAILED)


@dataclass(frozen=True)
class CallEvent:
    """One step of a call placed with :meth:`Backend.place_call`."""

    call_id: str
    stage: CallStage
    reason: str | None = None  # a sentence for the operator, mostly on FAILED
    client_result: ClientResult | None = None  # set once the client's line has answered or failed


class Backend(Protocol):
    """A way to place calls: the PBX, or the manual backend when telephony is off.

    All methods run on the app's event loop. :meth:`events` has one consumer:
    it yields the events of every call in order and ends when the backend is
    closed (at once for a backend that never has any).
    """

    @property
    def connected(self) -> bool:
        """True while the backend is logged in to the exchange."""
        ...

    async def connect(self) -> None:
        """Connect and log in; :class:`TelephonyError` says why not."""
        ...

    async def place_call(self, operator: str, number: str, reference: str) -> str:
        """Ring the operator's phone, then the client's ``number``; returns the call id.

        ``number`` is the number as stored; ``reference`` names the call row
        (kept with the call on the exchange). Raises :class:`TelephonyError`.
        """
        ...

    def events(self) -> AsyncIterator[CallEvent]:
        """The progress of every placed call, in order."""
        ...

    async def hang_up(self, call_id: str) -> None:
        """End the call; nothing happens when it is already over."""
        ...

    async def close(self) -> None:
        """Log off and end :meth:`events`."""
        ...


def normalise_number(stored: str, dial_prefix: str) -> str:
    """The number the exchange dials: ``dial_prefix``, then only the digits of ``stored`` (C4).

    An extension written after the number ("доб. 12") is never dialled: the
    operator asks for it once the call is answered (storage.phones).
    """
    return dial_prefix + number_digits(stored)
