"""Translations of everything the app and the command line show (gettext, domain "ringround")."""

from __future__ import annotations

import gettext
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
_translation: gettext.NullTranslations = gettext.NullTranslations()
language = "en"


def set_language(code: str) -> None:
    """Switch every later message to ``code`` ("en" or "ru")."""
    global _translation, language
    language = code
    _translation = gettext.translation(
        "ringround", localedir=LOCALE_DIR, languages=[code], fallback=True
    )


def _(message: str) -> str:
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _translation.ngettext(singular, plural, count)
