"""The backend used when telephony is off in the policy: the operator dials by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator

from storage.i18n import _
from telephony.calls import CallEvent, TelephonyError


class ManualBackend:
    """No exchange: never connected, places no calls and so reports no events."""

    @property
    def connected(self) -> bool:
        return False

    async def connect(self) -> None:
        """There is nothing to connect to."""

    async def place_call(self, operator: str, number: str, reference: str) -> str:
        raise TelephonyError(
            _("Telephony is off in the policy, so calls are dialled by hand on the phone.")
        )

    async def events(self) -> AsyncIterator[CallEvent]:
        # No call is ever placed, so the stream ends at once.
        nothing: tuple[CallEvent, ...] = ()
        for event in nothing:
            yield event

    async def hang_up(self, call_id: str) -> None:
        """No call placed here can be in progress."""

    async def close(self) -> None:
        """Nothing to release."""
