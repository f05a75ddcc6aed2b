"""Placing calls through the clinic's phone exchange (click-to-call).

A layer below the UI: nothing here imports ``textual`` or ``tui`` (a test
checks). The app builds its backend with :func:`backend_for`, places calls
with ``place_call`` and follows them through ``events()``.
"""

from __future__ import annotations

from storage.policy import TelephonyPolicy
from telephony.ami import AmiBackend
from telephony.calls import (
    Backend,
    CallEvent,
    CallStage,
    ClientResult,
    TelephonyError,
    normalise_number,
)
from telephony.manual import ManualBackend
from telephony.secret import read_secret

__all__ = [
    "AmiBackend",
    "Backend",
    "CallEvent",
    "CallStage",
    "ClientResult",
    "ManualBackend",
    "TelephonyError",
    "backend_for",
    "normalise_number",
    "read_secret",
]


def backend_for(policy: TelephonyPolicy) -> Backend:
    """The backend the policy asks for: manual when telephony is off, else Asterisk AMI.

    "asterisk-ami" is the only backend the policy validator accepts.
    """
    if not policy.enabled:
        return ManualBackend()
    return AmiBackend(policy)
