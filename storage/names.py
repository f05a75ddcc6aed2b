"""Names that identify someone or something: operators and call lists.

Such a name is shown on every operator's screen, in ``ringround locks`` and
``lists`` and in the audit, and it is how people and commands find the thing
again, so it may not hold a character that a terminal obeys or that reorders
the text around it. Those characters are listed here once: tui/safe_text.py
shows them as visible placeholders wherever stored text reaches a terminal,
and the places that create a name refuse one holding them
(storage.roles.operator_name, the call-list name of an import).
"""

from __future__ import annotations

import re

from storage.i18n import _

# (first, last) code points: C0 controls, DEL and C1 controls, the bidi controls
# (Arabic letter mark, LRM, RLM, the embeddings and overrides, the isolates), the line
# and paragraph separators, and lone surrogates (which cannot even be encoded).
UNSHOWABLE: tuple[tuple[int, int], ...] = (
    (0x00, 0x1F),
    (0x7F, 0x9F),
    (0x061C, 0x061C),
    (0x200E, 0x200F),
    (0x2028, 0x2029),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
    (0xD800, 0xDFFF),
)
CONTROL_CHARACTER = re.compile(
    "[" + "".join(f"\\u{first:04x}-\\u{last:04x}" for first, last in UNSHOWABLE) + "]"
)


def control_character(name: str) -> str | None:
    """The first character of ``name`` a name may not hold, as "U+001B"; None when none."""
    found = CONTROL_CHARACTER.search(name)
    return None if found is None else f"U+{ord(found.group()):04X}"


def is_utf8(text: str) -> bool:
    """Whether ``text`` came as UTF-8: bytes of another character set (a terminal set to
    CP1251) arrive as lone surrogates (PEP 383), which can be neither stored nor shown."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def not_utf8(shown: str) -> str:
    """The sentence for a name given as ``shown`` (NAME, --operator) that is not UTF-8."""
    return _(
        "{name} is not UTF-8 text; set the terminal to UTF-8 (in PuTTY: Window, "
        "Translation) and type it again."
    ).format(name=shown)
