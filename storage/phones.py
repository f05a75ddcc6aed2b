"""Phone numbers: kept as written, compared by their digits in international form.

A number is stored twice (table ``phones``): ``number`` exactly as the clinic
wrote it (what operators read and what the PBX dials, SPEC C4) and ``digits``,
the key that finds the same number written differently (clients sharing a
phone, B6). With the policy's ``[phones]`` rules for Russia (country code 7,
trunk prefix 8, 10-digit national numbers) these all get the digits
``79161234567``::

    +7 (916) 123-45-67     8 916 123-45-67     916 123 45 67     79161234567

Rules, in order (``digits`` below means every digit of the written number):

1. written with a leading ``+``: the digits as they are (already international);
2. starting with ``00`` (the international call prefix in most countries): the
   digits after it;
3. with ``national_length`` N > 0: N digits get the country code put before
   them; the trunk prefix followed by N digits has it replaced by the country
   code; anything else (short internal numbers, foreign numbers written
   without ``+``, the country code followed by N digits) is left as it is;
4. with ``national_length`` 0 (countries whose numbers differ in length): a
   leading trunk prefix is replaced by the country code; otherwise as it is.
"""

from __future__ import annotations

import re

from storage.i18n import _
from storage.policy import PhoneRules

_NOT_DIGITS = re.compile(r"[^0-9]+")


def digits_only(number: str) -> str:
    """Every ASCII digit of the number, in order."""
    return _NOT_DIGITS.sub("", number)


def phone_key(number: str, rules: PhoneRules) -> str:
    """The digits that identify ``number``, in international form (see the module text)."""
    digits = digits_only(number)
    if not digits or number.lstrip().startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    country, trunk, length = rules.country_code, rules.trunk_prefix, rules.national_length
    if length:
        if len(digits) == length:
            return country + digits
        if trunk and len(digits) == len(trunk) + length and digits.startswith(trunk):
            return country + digits[len(trunk):]
        return digits
    if trunk and digits.startswith(trunk) and len(digits) > len(trunk):
        return country + digits[len(trunk):]
    return digits


def phone_problem(number: str) -> str | None:
    """Why ``number`` cannot be a phone number, or None if it can."""
    if not digits_only(number):
        return _("{number!r} has no digits").format(number=number)
    return None
