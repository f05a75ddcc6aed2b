"""in_quotes: a value inside a message shows every character repr escaped, visibly."""

from __future__ import annotations

import sys

from hypothesis import given
from hypothesis import strategies as st

from storage.names import UNSHOWABLE
from storage.shown import in_quotes
from tui.safe_text import safe_text


def test_every_character_repr_escapes_is_shown_visibly() -> None:
    """No weakening against ``{value!r}``: each character it wrote as an escape (not
    printable to Python) comes out as something printable, never as itself."""
    hidden = [chr(code) for code in range(sys.maxunicode + 1) if not chr(code).isprintable()]
    assert len(hidden) > 800_000  # unassigned code points included
    shown = {character: in_quotes(character) for character in hidden}
    assert [c for c, s in shown.items() if s == c or not s.isprintable()] == []


def test_what_a_terminal_obeys_shows_as_on_every_screen() -> None:
    obeyed = "".join(chr(c) for first, last in UNSHOWABLE for c in range(first, last + 1))
    assert in_quotes(obeyed) == safe_text(obeyed)
    assert in_quotes("Грипп\x1b[2J\n\u202e") == "Грипп␛[2J␊\ufffd"


def test_invisible_characters_show_as_their_escapes() -> None:
    """A no-break space in "12 345" is why it is not an id: staff see it."""
    assert in_quotes("12\xa0345") == "12\\xa0345"
    assert in_quotes("\ufeffA1\u200b") == "\\ufeffA1\\u200b"


@given(st.text(st.characters(categories=["L", "M", "N", "P", "S"]).filter(str.isprintable)))
def test_printable_text_stays_as_it_is(text: str) -> None:
    assert in_quotes(text) == text
    assert in_quotes(f"{text} it's C:\\dir") == f"{text} it's C:\\dir"
