"""The one way stored text reaches a terminal: :func:`safe_text`.

Names, comments, notes, phones and list names come from imports and from other
operators, so they may hold bytes a terminal obeys: ``ESC ] 0 ; … BEL`` sets the
window title, ``ESC ] 52 ; c ; …`` writes the clipboard, ``ESC [ 2 J`` clears
the screen, the C1 byte U+009B starts a sequence on its own, and the bidi
overrides (U+202E …) make text read backwards. Every widget, notice, dialog and
every command-line line meant for people passes data through :func:`safe_text`
first, where the data joins the words around it; the widgets that show
whole messages (dialogs, notices, the state lines, command-line errors) pass
them through it once more, because a message from below tui/ may quote data.
Data formats (CSV, JSON, XLSX) keep the data exactly instead.

The rule, chosen so that an admin can still see *what* is stored:

- C0 controls (U+0000–U+001F) and DEL become their Unicode control pictures,
  one cell wide: ESC shows as ``␛``, BEL as ``␇``, TAB as ``␉``, NUL as ``␀``,
  DEL as ``␡``.
- C1 controls (U+0080–U+009F), the bidi controls (U+061C, U+200E, U+200F,
  U+202A–U+202E, U+2066–U+2069), the line and paragraph separators
  (U+2028, U+2029) and lone surrogates (which no terminal can be sent) become
  ``�`` (U+FFFD), the usual sign for "a character that cannot be shown here".
- With ``keep_newlines=True`` (multi-line notes, and whole messages that
  have their own line breaks) a line feed stays a line break; a CR still shows
  as ``␍``, since it would move the cursor back over the line.

A field the operator edits shows stored text this way too (the client card's
notes, one line): :func:`typed_back` turns the signs of a tab, a line break
and a carriage return back into those characters when the field is saved, so
notes keep their lines; every other sign is saved as the sign.

Each character becomes exactly one character, so the result is as long as the
text, and spans of a ``rich.text.Text`` built on it stay where they were.

The set of such characters is defined once, in storage/names.py, where names
that identify operators and call lists are refused when they hold one; their signs
are made in storage/shown.py, whose ``in_quotes`` shows a value inside a message.
Everything else (letters of any script, emoji with their joiners, spaces) is
left alone. Rich/Textual markup is a separate matter: text that is not meant
as markup is passed as ``Text`` or through ``rich.markup.escape``.
"""

from __future__ import annotations

from storage.shown import SIGNS

_SHOWN_KEEPING_LINES = {**SIGNS, ord("\n"): "\n"}


def safe_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every character a terminal would obey made visible (see the module)."""
    if text.isprintable():  # the common case: no control, format or separator character
        return text
    return text.translate(_SHOWN_KEEPING_LINES if keep_newlines else SIGNS)


_WHITESPACE = {0x2409: "\t", 0x240A: "\n", 0x240D: "\r"}  # ␉ ␊ ␍


def typed_back(shown: str) -> str:
    """A field filled by :func:`safe_text` and edited: ␉, ␊ and ␍ become tab, line break, CR."""
    return shown.translate(_WHITESPACE)
