"""The backend-neutral part of telephony: numbers, the manual backend, the choice of backend."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.policy import default_policy
from telephony import (
    AmiBackend,
    CallStage,
    ManualBackend,
    TelephonyError,
    backend_for,
    normalise_number,
)


@pytest.mark.parametrize(
    ("stored", "prefix", "sent"),
    [
        ("+7 (916) 123-45-67", "", "79161234567"),
        ("(916) 123-45-67", "8", "89161234567"),
        ("916.123.45.67 ext", "9", "99161234567"),
        ("8 916 123 45 67", "", "89161234567"),
    ],
)
def test_normalise_number(stored: str, prefix: str, sent: str) -> None:
    assert normalise_number(stored, prefix) == sent


@given(st.text(), st.sampled_from(["", "8", "9", "0"]))
def test_normalised_number_is_prefix_then_the_ascii_digits(stored: str, prefix: str) -> None:
    sent = normalise_number(stored, prefix)
    assert sent == prefix + "".join(ch for ch in stored if ch in "0123456789")
    assert normalise_number(sent, "") == sent


def test_stage_final() -> None:
    assert {stage for stage in CallStage if stage.final} == {CallStage.ENDED, CallStage.FAILED}


async def test_manual_backend_says_calls_are_dialled_by_hand() -> None:
    backend = ManualBackend()
    await backend.connect()
    assert not backend.connected
    with pytest.raises(TelephonyError, match="dialled by hand"):
        await backend.place_call("alice", "+7 916 123-45-67", "appointment:1")
    assert [event async for event in backend.events()] == []
    await backend.hang_up("no-such-call")
    await backend.close()


def test_backend_follows_the_policy() -> None:
    telephony = default_policy().telephony
    assert isinstance(backend_for(telephony), ManualBackend)
    assert isinstance(backend_for(replace(telephony, enabled=True)), AmiBackend)
