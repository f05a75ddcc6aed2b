"""safe_text: no character that a terminal obeys survives, and nothing else changes."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tui.safe_text import safe_text, typed_back

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# What the data may never put on a terminal: C0 (ESC, BEL, CR, …), DEL, C1, the bidi
# controls, the line and paragraph separators and lone surrogates.
FORBIDDEN = (
    {chr(c) for c in range(0x20)}
    | {chr(c) for c in range(0x7F, 0xA0)}
    | set(BIDI_CONTROLS)
    | {"\u2028", "\u2029"}
)
HOSTILE = [
    "\x1b]0;TITLE\x07",
    "\x1b]52;c;SEVMTE8=\x07",
    "\x1b[2J\x1b[H",
    "\x9b31m",
    "\u202eEVIL\u202c",
    "\u2066x\u2069",
    "\r",
    "\n",
    "\t",
    "\x00",
    "\x7f",
    "\ud800",
]

hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text()), max_size=8).map("".join)


def is_safe(text: str) -> bool:
    return not any(ch in FORBIDDEN or 0xD800 <= ord(ch) < 0xE000 for ch in text)


@settings(max_examples=300, derandomize=True)
@given(hostile_text)
@example("Tab\tNew\nLine\rCR\bBS\x00NUL\x7fDEL\x9bC1\x07BEL")
def test_nothing_a_terminal_obeys_survives(text: str) -> None:
    assert is_safe(safe_text(text))
    shown = safe_text(text, keep_newlines=True)
    assert is_safe(shown.replace("\n", ""))
    assert "\r" not in shown


@settings(max_examples=300, derandomize=True)
@given(hostile_text)
def test_one_character_shows_as_one_character(text: str) -> None:
    # Layout stays predictable: nothing is dropped or widened, only replaced in place.
    assert len(safe_text(text)) == len(text)
    assert len(safe_text(text, keep_newlines=True)) == len(text)


@settings(max_examples=300, derandomize=True)
@given(
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cc", "Cs"), blacklist_characters=BIDI_CONTROLS + "\u2028\u2029"
        )
    )
)
def test_text_without_controls_is_left_alone(text: str) -> None:
    assert safe_text(text) == text
    assert safe_text(text, keep_newlines=True) == text


def test_controls_show_as_their_pictures() -> None:
    assert safe_text("\x1b]0;title\x07") == "␛]0;title␇"
    assert safe_text("a\tb\x00c\x7f") == "a␉b␀c␡"
    assert safe_text("\x9b2J") == "\ufffd2J"
    assert safe_text("abc \u202eEVIL\u202c") == "abc \ufffdEVIL\ufffd"


def test_newlines_kept_only_when_asked() -> None:
    assert safe_text("one\ntwo\r\nthree\rfour") == "one␊two␍␊three␍four"
    assert safe_text("one\ntwo\r\nthree\rfour", keep_newlines=True) == "one\ntwo␍\nthree␍four"


def test_names_in_every_script_and_emoji_are_untouched() -> None:
    for name in ("Сидорова Анна", "山田 太郎", "שלום עולם", "Анна 👩\u200d⚕️🦷", "O'Brien-Smith"):
        assert safe_text(name) == name


def test_typed_back_restores_line_breaks_and_tabs_only() -> None:
    """The card's notes keep their lines when edited; other controls stay signs."""
    stored = "первая\r\nвторая\tтретья \x1b[2J \x07"
    assert typed_back(safe_text(stored)) == "первая\r\nвторая\tтретья ␛[2J ␇"
