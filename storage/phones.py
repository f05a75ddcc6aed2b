"""Phone numbers: kept as written, compared by their digits in international form.

A number is stored twice (table ``phones``): ``number`` exactly as the clinic
wrote it (what operators read, and what the PBX dials, C4) and
``digits``, the key that finds the same number written differently (clients
sharing a phone, B6). With the policy's ``[phones]`` rules for Russia (country
code 7, trunk prefix 8, 10-digit national numbers, international prefix 810)
these all get the digits ``79161234567``::

    +7 (916) 123-45-67     8 916 123-45-67     916 123 45 67     79161234567

and ``+49 30 1234567``, ``8 10 49 30 1234567`` and ``00 49 30 1234567`` all
get ``49301234567``.

**Extensions.** A number may end with an extension to ask for once the call
is answered: ``+7 495 123-45-67 доб. 12`` (also ``доп.``, ``вн.``, ``ext.``,
``x12``, ``#12``). It stays in ``number`` as written — so exports give back
what was imported — and :func:`split_extension` takes it apart wherever the
number is used: the key and the digits the PBX dials are the number's alone,
and operators see "ext. 12" ("доб. 12") beside the number. Taking it apart
when read rather than storing it in a column of its own keeps one text per
number (the card, imports and exports edit and show that text) and needs no
change of the file's format.

Rules for the key, in order (``digits`` below means every digit of the number
without its extension):

1. written with a leading ``+``: the digits as they are (already international);
2. starting with ``00`` (the international call prefix in most countries) or
   with the policy's ``international_prefix`` ("810" in Russia: ``8 10 49 …``):
   the digits after it;
3. with ``national_length`` N > 0: N digits get the country code put before
   them; the trunk prefix followed by N digits has it replaced by the country
   code; anything else (short internal numbers, foreign numbers written
   without ``+``, the country code followed by N digits) is left as it is;
4. with ``national_length`` 0 (countries whose numbers differ in length): a
   leading trunk prefix is replaced by the country code; otherwise as it is.

Rule 2 comes before the national rules because countries choose their
prefixes so that no national number begins with the international prefix
(Russian area codes never begin with 1, so "8 10 …" is never a national
number).

Why these few rules rather than a library such as ``phonenumbers`` (Google's
libphonenumber) with the clinic's region: the library would key short
internal numbers ("101" as "7101") and "00 49 …" in Russia ("70049…")
differently from now, so the keys of numbers already stored would change, and
with every monthly update of its metadata they could change again without
the policy changing, silently splitting clients who share a phone; it does
not know "доп." or "вн." either. A clinic needs its own country's prefixes
only, and the policy names them.
"""

from __future__ import annotations

import re

from storage.i18n import _
from storage.policy import PhoneRules
from storage.shown import in_quotes

_NOT_DIGITS = re.compile(r"[^0-9]+")
# An extension at the end of a number: "доб. 12", "доб 12", "доп.12", "вн. 12",
# "ext. 12", "extension 12", "x12", "#12", after spaces, a comma or a semicolon; a
# marker is a word of its own ("fax 12" is not "x 12").
_EXTENSION = re.compile(
    r"[\s,;]*(?<![^\W\d_])(?:доб(?:авочный)?|доп|вн|ext(?:ension|n)?|x|#)"
    r"\.?[\s:#]*([0-9]{1,8})\s*$",
    re.IGNORECASE,
)
# Raise when phone_key() changes, so that numbers keyed before are keyed again
# (storage.clients.rekey_phones compares the stored rules_signature()).
KEYING = 2  # 2: extensions are not part of the key; the international prefix is dropped


def digits_only(number: str) -> str:
    """Every ASCII digit of the number, in order."""
    return _NOT_DIGITS.sub("", number)


def split_extension(written: str) -> tuple[str, str]:
    """``written`` without its extension, and the extension's digits ("" when there is none).

    Only a number with digits of its own has an extension: "доб. 12" alone
    is kept as a (short) number.
    """
    match = _EXTENSION.search(written)
    if match is None or not digits_only(written[: match.start()]):
        return written.strip(), ""
    return written[: match.start()].strip(), match.group(1)


def number_digits(written: str) -> str:
    """The digits of the number itself, without the extension: what a telephone dials."""
    return digits_only(split_extension(written)[0])


def phone_key(number: str, rules: PhoneRules) -> str:
    """The digits that identify ``number``, in international form (see the module text)."""
    written = split_extension(number)[0]
    digits = digits_only(written)
    if not digits or written.lstrip().startswith("+"):
        return digits
    for prefix in ("00", rules.international_prefix):
        if prefix and digits.startswith(prefix) and len(digits) > len(prefix):
            return digits[len(prefix) :]
    country, trunk, length = rules.country_code, rules.trunk_prefix, rules.national_length
    if length:
        if len(digits) == length:
            return country + digits
        if trunk and len(digits) == len(trunk) + length and digits.startswith(trunk):
            return country + digits[len(trunk) :]
        return digits
    if trunk and digits.startswith(trunk) and len(digits) > len(trunk):
        return country + digits[len(trunk) :]
    return digits


def rules_signature(rules: PhoneRules) -> str:
    """What the stored keys were made with: the rules and the way of keying (KEYING)."""
    return (
        f"{KEYING}: {rules.country_code} {rules.trunk_prefix} {rules.national_length} "
        f"{rules.international_prefix}"
    )


def phone_problem(number: str) -> str | None:
    """Why ``number`` cannot be a phone number, or None if it can."""
    if not digits_only(number):
        return _("'{number}' has no digits").format(number=in_quotes(number))
    return None


MAX_DIGITS = 15  # ITU-T E.164: no international number is longer
MIN_FOREIGN_DIGITS = 7  # the shortest international numbers (country code included)


def digit_count_problem(number: str, rules: PhoneRules) -> str | None:
    """Why ``number`` has too few or too many digits under the policy's rules, or None.

    With ``national_length`` N, a number of the clinic's country must come to
    the country code and N digits (storage.phones.phone_key); a number of
    another country (written with ``+`` or an international prefix) to 7 to 15
    digits. A number the rules leave as written is taken as the clinic's country's.
    An extension (``доб. 12``) is not counted.
    """
    key = phone_key(number, rules)
    if not key:
        return None
    country, length = rules.country_code, rules.national_length
    written = split_extension(number)[0]  # an extension's digits do not count
    foreign = not key.startswith(country) and (
        written.lstrip().startswith("+") or key != digits_only(written)
    )
    if foreign or not length:
        if len(key) > MAX_DIGITS:
            return _(
                "'{number}' has {count} digits, more than any phone number (at most {most})"
            ).format(number=in_quotes(number), count=len(key), most=MAX_DIGITS)
        if len(key) < MIN_FOREIGN_DIGITS:
            return _("'{number}' has too few digits for a phone number").format(
                number=in_quotes(number)
            )
        return None
    if key.startswith(country) and len(key) == len(country) + length:
        return None
    written_with_country = written.lstrip().startswith("+") or key != digits_only(written)
    national = len(key) - len(country) if written_with_country else len(key)
    prefixes = f"{rules.trunk_prefix} / +{country}" if rules.trunk_prefix else f"+{country}"
    if national <= length:
        return _(
            "'{number}' has too few digits: numbers here have {length} after {prefixes}"
        ).format(number=in_quotes(number), length=length, prefixes=prefixes)
    return _(
        "'{number}' has too many digits: numbers here have {length} after {prefixes} "
        "(write a number of another country with + and its country code)"
    ).format(number=in_quotes(number), length=length, prefixes=prefixes)
