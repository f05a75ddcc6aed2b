"""The call-back time as operators type it in the result dialog (tui/formats.py)."""

from __future__ import annotations

import pytest

from storage.policy import Policy
from tests.clinic_fixtures import DESK_NOW, at
from tui.formats import continuing, parse_moment


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("15:30", at(26, 15, 30)),
        ("15.30", at(26, 15, 30)),  # the Russian (and European) way to write a time
        ("9.45", at(27, 9, 45)),  # already past today (10:00): tomorrow, as "9:45"
        ("27.11 15.30", at(27, 15, 30)),
        ("27.11.2026 15.30", at(27, 15, 30)),
        ("27.11 15:30", at(27, 15, 30)),
    ],
)
def test_call_back_time_with_a_colon_or_a_dot(typed: str, meant: int, policy: Policy) -> None:
    assert parse_moment(typed, policy, DESK_NOW) == meant


@pytest.mark.parametrize("typed", ["05.12", "10.05", "27.11", "15.30.45", "25.30", "15.60"])
def test_a_dot_time_that_could_be_a_date_is_not_guessed(typed: str, policy: Policy) -> None:
    """ "05.12" alone may be the 5th of December as well as 05:12: the dialog asks again
    rather than save a call-back for the wrong day; "15.30" cannot be a date."""
    assert parse_moment(typed, policy, DESK_NOW) is None


@pytest.mark.parametrize(
    ("sentence", "continued"),
    [
        ("The client 1 no longer exists.", "the client 1 no longer exists."),
        ("A file for the backup cannot be made.", "a file for the backup cannot be made."),
        ("Клиент 1 больше не существует.", "клиент 1 больше не существует."),
        # Names keep their capitals: a file, a product, a quoted value.
        ("Clinic.db is damaged.", "Clinic.db is damaged."),
        ("PostgreSQL refused the connection.", "PostgreSQL refused the connection."),
        ("'+7 916 123-45-6' has too few digits.", "'+7 916 123-45-6' has too few digits."),
        ("SQLite said no.", "SQLite said no."),
    ],
)
def test_a_reason_continues_a_sentence_in_lower_case(sentence: str, continued: str) -> None:
    """ "Not saved: the client 1 no longer exists.", not "Not saved: The client …"."""
    assert continuing(sentence) == continued
