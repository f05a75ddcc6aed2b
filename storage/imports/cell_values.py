"""The values of an import's cells: ids, keys, texts, yes/no, times, dates, phone numbers.

Each reader takes the cell's text as written (storage/cells.py has already
undone export's apostrophe) and the policy, and returns the value to store or
raises :class:`BadValue` whose message says what is wrong with the cell. The
forms each accepts are listed in the package text (storage/imports/__init__.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from storage.cells import clock_readings
from storage.i18n import N_, _
from storage.imports.damage import scientific_id_problem, scientific_problem
from storage.names import control_character
from storage.phones import digit_count_problem, phone_key, phone_problem
from storage.policy import Policy
from storage.shown import in_quotes

MAX_LIST_NAME = 200


class BadValue(Exception):
    """A value that cannot be read; the message is the reason."""


Parser = Callable[[str, Policy], Any]


def identifier(text: str, policy: Policy) -> int | None:
    """ringround's id of a record: a whole number from 1; empty: none."""
    value = text.strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 18 or int(value) == 0:
        raise BadValue(
            _("'{text}' is not an id (a whole number from 1)").format(text=in_quotes(text))
        )
    return int(value)


def external_key(text: str, policy: Policy) -> str | None:
    """An external id or another code: surrounding spaces removed; empty: none."""
    value = text.strip()
    if len(value) > 200:
        raise BadValue(_("is longer than 200 characters"))
    damaged = scientific_id_problem(value)
    if damaged:
        raise BadValue(damaged)
    return value or None


def free_text(text: str, policy: Policy) -> str:
    """A note, an email, a title: exactly as written."""
    return text


def full_name(text: str, policy: Policy) -> str:
    """A client's full name: as written, but not blank."""
    if not text.strip():
        raise BadValue(_("is empty"))
    return text


# истина/ложь: a yes/no cell as Excel and Calc in Russian write it into a CSV file.
_YES = frozenset({"1", "yes", "y", "true", "да", "д", "истина"})
_NO = frozenset({"", "0", "no", "n", "false", "нет", "н", "ложь"})


def yes_no(text: str, policy: Policy) -> bool:
    """Yes or no (1/0, yes/no, true/false, y/n, да/нет, истина/ложь); empty is no."""
    value = text.strip().casefold()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise BadValue(_("'{text}' is not yes or no (1 or 0)").format(text=in_quotes(text)))


FIRST_YEAR, LAST_YEAR = 1900, 2199  # what a clinic's dates can be; beyond: a typo or "never"


class YearOutOfRange(ValueError):
    """A real date whose year is outside FIRST_YEAR..LAST_YEAR (9999-12-31, 0202-05-01)."""


def year_out_of_range(text: str) -> str:
    """The reason a date or time of such a year is refused, for a cell or an option."""
    return _("'{text}' is outside the years {first} to {last}").format(
        text=in_quotes(text), first=FIRST_YEAR, last=LAST_YEAR
    )


def _check_year(text: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise YearOutOfRange(text)


_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(text: str) -> date:
    """``2026-11-27`` or ``27.11.2026``; ValueError otherwise."""
    value = text.strip()
    match = _DOTTED.fullmatch(value)
    if match is not None and match.group(4) is None:
        day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    elif _ISO_DATE.fullmatch(value):
        day = date.fromisoformat(value)
    else:
        raise ValueError(text)
    _check_year(text, day.year)
    return day


def parse_moment(text: str, zone: ZoneInfo, *, date_alone: bool) -> int:
    """Seconds since 1970 of a time as the package text describes; ValueError otherwise.

    ``date_alone``: a date without a time of day is accepted (00:00 in ``zone``).
    """
    when = _written_time(text, date_alone=date_alone)
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return math.floor(when.timestamp())


def _written_time(text: str, *, date_alone: bool) -> datetime:
    """The time ``text`` names: with its offset if it gives one, else naive (clinic time)."""
    value = text.strip()
    match = _DOTTED.fullmatch(value)
    if match is not None:
        day, month, year, hour, minute, second = match.groups()
        if hour is None and not date_alone:
            raise ValueError(text)
        when = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    else:
        if not value or (_ISO_DATE.fullmatch(value) and not date_alone):
            raise ValueError(text)
        when = datetime.fromisoformat(value)
    _check_year(text, when.year)
    return when


def time_reader(date_alone: bool) -> Parser:
    """A reader of times (empty: none); ``date_alone``: a date alone means 00:00."""
    example = (  # translated when said: the reader is made as the module loads
        N_("2026-11-27 or 27.11.2026, with or without a time")
        if date_alone
        else N_("2026-11-27 10:30 or 27.11.2026 10:30")
    )

    def parse(text: str, policy: Policy) -> int | None:
        if not text.strip():
            return None
        try:
            when = _written_time(text, date_alone=date_alone)
        except YearOutOfRange:
            raise BadValue(year_out_of_range(text)) from None
        except ValueError:
            raise BadValue(
                _("'{text}' is not a time such as {example}").format(
                    text=in_quotes(text), example=_(example)
                )
            ) from None
        if when.tzinfo is None:
            if date_alone and is_date(text):  # the day's first moment (PEP 495: fold 0)
                when = when.replace(tzinfo=policy.timezone)
            else:
                when = _on_the_clock(text, when, policy.timezone)
        return math.floor(when.timestamp())

    return parse


def is_date(text: str) -> bool:
    """Whether ``text`` is a date without a time of day."""
    value = text.strip()
    dotted = _DOTTED.fullmatch(value)
    return bool(_ISO_DATE.fullmatch(value)) or (dotted is not None and dotted.group(4) is None)


def _on_the_clock(text: str, reading: datetime, zone: ZoneInfo) -> datetime:
    """The one moment the clinic's clock shows ``reading`` at; BadValue when there is none
    or there are two (summer time): taking either would move the time by an hour."""
    readings = clock_readings(reading, zone)
    if readings == 0:
        raise BadValue(
            _(
                "'{text}' is not on the clinic's clock: the clocks go forward over it that night"
            ).format(text=in_quotes(text))
        )
    if readings == 2:
        raise BadValue(
            _(
                "'{text}' comes twice on the clinic's clock, as the clocks go back that "
                "night; write which one: {first} or {second}"
            ).format(
                text=in_quotes(text),
                first=reading.replace(tzinfo=zone, fold=0).isoformat(),
                second=reading.replace(tzinfo=zone, fold=1).isoformat(),
            )
        )
    return reading.replace(tzinfo=zone)


_MIDNIGHT = re.compile(r"[ T]00:00(?::00)?$")


def birth_date(text: str, policy: Policy) -> str | None:
    """A date, stored as ``YYYY-MM-DD``; empty: unknown."""
    if not text.strip():
        return None
    try:  # a date cell shown with its time of day (00:00) is still a date
        return parse_date(_MIDNIGHT.sub("", text.strip())).isoformat()
    except YearOutOfRange:
        raise BadValue(year_out_of_range(text)) from None
    except ValueError:
        raise BadValue(
            _("'{text}' is not a date such as 1980-02-29 or 29.02.1980").format(
                text=in_quotes(text)
            )
        ) from None


def phone_numbers(text: str, policy: Policy) -> tuple[tuple[str, str], ...]:
    """Numbers separated by ``;`` (or line breaks), main first: (as written, key) each."""
    numbers = [part.strip() for part in text.replace("\r", "\n").replace("\n", ";").split(";")]
    result = []
    for number in numbers:
        if not number:
            continue
        key = phone_key(number, policy.phones)
        if not key:
            raise BadValue(phone_problem(number) or _("is not a phone number"))
        damaged = scientific_problem(number) or digit_count_problem(number, policy.phones)
        if damaged:
            raise BadValue(damaged)
        result.append((number, key))
    return tuple(result)


def confirmation_status(text: str, policy: Policy) -> str | None:
    """A confirmation status of the policy, in the policy's spelling; empty: none."""
    value = text.strip()
    if not value:
        return None
    for status in policy.statuses:
        if status.casefold() == value.casefold():
            return status
    raise BadValue(
        _("'{text}' is not a status of the policy ({items})").format(
            text=in_quotes(text), items=", ".join(policy.statuses)
        )
    )


def task_kind(text: str, policy: Policy) -> str:
    """A task's kind (recall, reminder, ...): spaces removed, not empty."""
    value = text.strip()
    if not value:
        raise BadValue(_("is empty"))
    return value


def call_list_name(text: str, policy: Policy) -> str:
    """A call list's name: spaces removed, 1 to MAX_LIST_NAME characters, no control ones."""
    value = text.strip()
    if not value:
        raise BadValue(_("is empty"))
    if len(value) > MAX_LIST_NAME:
        raise BadValue(_("is longer than {count} characters").format(count=MAX_LIST_NAME))
    character = control_character(value)
    if character is not None:
        raise BadValue(
            _("holds a control character ({character}), which a call list's name may not").format(
                character=character
            )
        )
    return value
