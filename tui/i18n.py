"""Translations of everything the app and the command line show (gettext, domain "ringround").

The catalogs are ``tui/locale/<lang>/LC_MESSAGES/ringround.po`` with their
compiled ``.mo`` beside them (shipped in the package), made from
``tui/locale/ringround.pot`` with Babel; README "Translations" has the
workflow. The layers below (storage/, telephony/) mark their sentences with
:mod:`storage.i18n`, which :func:`set_language` switches too.

Strings evaluated at import time (Textual ``BINDINGS`` descriptions, other
class attributes) are marked with :func:`N_` and translated where they are
shown: the footer of :mod:`tui.footer` translates binding descriptions when
it draws them, so a language chosen after import still applies.

Which language: :func:`choose_language` (the policy if its file sets
``language``, else LC_ALL / LC_MESSAGES / LANG, else English). Dates and
numbers follow the language through Babel's CLDR data (:func:`babel_locale`).
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from storage.i18n import N_, _, current_language, install, ngettext
from storage.policy import LANGUAGES, Policy

if TYPE_CHECKING:  # Babel is loaded when a date or number is first formatted (tui/formats.py)
    from babel import Locale

__all__ = [
    "LOCALE_DIR",
    "N_",
    "_",
    "babel_locale",
    "choose_language",
    "current_language",
    "language_from_environment",
    "ngettext",
    "set_language",
]

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "ringround"
# The CLDR locale for dates and numbers in each language. British English: the
# day before the month ("27 Nov"), a 24-hour clock, as the English texts are written.
BABEL_LOCALES = {"en": "en_GB", "ru": "ru"}
_locales: dict[str, Locale] = {}


def set_language(code: str) -> None:
    """Switch every later message to ``code`` ("en" or "ru")."""
    code = code if code in LANGUAGES else "en"
    translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[code], fallback=True)
    install(translation, code)


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """ "ru" when the locale for messages is Russian (LC_ALL, else LC_MESSAGES, else LANG)."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "ru" if value.lower().startswith("ru") else "en"
    return "en"


def choose_language(policy: Policy | None, environ: Mapping[str, str] | None = None) -> str:
    """The policy's language when its file sets one, else the environment's, else English."""
    if policy is not None and policy.language_given:
        return policy.language
    return language_from_environment(environ)


def babel_locale() -> Locale:
    """The CLDR locale of the current language (month names, separators, plural rules)."""
    from babel import Locale

    code = BABEL_LOCALES.get(current_language(), "en_GB")
    if code not in _locales:
        _locales[code] = Locale.parse(code)
    return _locales[code]
