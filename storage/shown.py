"""A value inside a sentence for people: :func:`in_quotes`, and the signs both it and
tui/safe_text.py show for the characters a terminal obeys.

A message names what it is about: "There is no call list named 'Flu'.", «Списка
обзвона «Грипп» нет.» The value may come from a file, from another operator or from
the command line, so it may hold characters a terminal obeys (ESC, a line break) or
that cannot be seen (a no-break space, a zero-width space, a byte-order mark). The
quotes belong to the sentence, in the catalog, so each language quotes as it does
(English '…', Russian «…»); the value between them goes through :func:`in_quotes`,
which makes each such character visible:

- a C0 control, DEL, a C1 or bidi control, a line or paragraph separator or a lone
  surrogate shows as the same sign as everywhere else on a terminal (``ESC`` as
  ``␛``, a line break as ``␊``, the others as ``�``; see tui/safe_text.py);
- any other character Python would not print as itself (``str.isprintable``: a
  no-break space, U+200B, U+FEFF, a private or unassigned code point) shows as its
  escape, as ``repr`` writes it (``\\xa0``, ``\\u200b``), so that staff can see why
  "12 345" is not an id.

Everything ``repr`` escaped before is escaped still; only its quotes and its doubled
backslashes are gone (a backslash is printable, and the quotes are the sentence's).
"""

from __future__ import annotations

from storage.names import UNSHOWABLE

REPLACEMENT = "\ufffd"


def _signs() -> dict[int, str]:
    signs = {code: REPLACEMENT for first, last in UNSHOWABLE for code in range(first, last + 1)}
    signs.update({code: chr(0x2400 + code) for code in range(0x20)})  # ␀ … ␟
    signs[0x7F] = "\u2421"  # ␡
    return signs


SIGNS = _signs()
"""Code point -> the one character shown for it on a terminal."""


def _visible(character: str) -> str:
    if character.isprintable():
        return character
    return SIGNS.get(ord(character)) or ascii(character)[1:-1]


def in_quotes(value: str) -> str:
    """``value`` as a message quotes it: every character a terminal would obey, and every
    invisible one, made visible (see the module); the message's own text puts the quotes."""
    if value.isprintable():  # the common case
        return value
    return "".join(_visible(character) for character in value)
