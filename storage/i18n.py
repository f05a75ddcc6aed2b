"""Sentences for people from storage/ and telephony/, translated through gettext.

The layers below ``tui/`` do not know where the catalogs live or which
language was chosen: :func:`tui.i18n.set_language` installs the translations
here, and until then (or without catalogs) every message is the English
source text. Mark a message with ``_("...")`` where it is built, with
``{name}`` placeholders filled by ``.format`` after translation, so that the
catalog holds one whole sentence (``pybabel extract`` finds it; see README,
"Translations"). Counts go through :func:`ngettext` for the plural forms, and
are written with :func:`whole_number`.
"""

from __future__ import annotations

import gettext
from decimal import ROUND_HALF_UP, Decimal

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def install(translation: gettext.NullTranslations, language: str) -> None:
    """Use ``translation`` for every later message (called by tui.i18n.set_language)."""
    global _translation, _language
    _translation = translation
    _language = language


def current_language() -> str:
    """The language messages are shown in now: "en" or "ru"."""
    return _language


# CLDR's digit grouping of the shipped languages, for whole numbers (Babel's locale data
# takes ~20 ms to load, too slow for the list picker's counts on the first screen).
_GROUPING = {"en": ",", "ru": "\u00a0"}
_DECIMAL_SIGN = {"en": ".", "ru": ","}


def whole_number(value: int) -> str:
    """A count with the language's digit grouping: "12,345", «12 345» (a comma there would
    read as a decimal one)."""
    return f"{value:,}".replace(",", _GROUPING.get(_language, ","))


def decimal_number(value: float, places: int = 1) -> str:
    """A measure (megabytes, seconds, calls an hour) with the language's grouping and
    decimal sign: "68,104.5", «68 104,5».

    A half rounds up, as on paper: 0.15 is "0.2" and 2.25 "2.3". Rounding the float itself
    would give "0.1" (the float nearest 0.15 is a little below it), and the "half to even"
    rule "2.2"; staff checking a number with a calculator would see both as errors.
    """
    shown = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{shown:,.{places}f}"
    group, sign = _GROUPING.get(_language, ","), _DECIMAL_SIGN.get(_language, ".")
    return "".join(group if ch == "," else sign if ch == "." else ch for ch in text)


def _(message: str) -> str:
    """``message`` in the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message for ``count`` (Russian has three)."""
    return _translation.ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it now (translated where shown)."""
    return message
