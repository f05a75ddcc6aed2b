"""Text from the data, made safe for the administrator's log and command output.

Names and messages may hold anything an operator, an import file or the phone
exchange put there: a line break would forge a second log line, an escape
sequence would repaint the admin's terminal. :func:`field` is the one escaping
for both.
"""

from __future__ import annotations

import unicodedata

_QUOTE_WHEN = frozenset(' ="')


def _escaped(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char == '"':
        return '\\"'
    # Cc: control characters (line breaks, ESC); Cf: invisible format characters such
    # as right-to-left overrides; Zl/Zp: Unicode's own line and paragraph separators.
    if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def field(value: object) -> str:
    """``value`` as one printable token: control characters escaped, quoted if it has spaces.

    ``None`` is ``-``; a text with a space, ``=`` or ``"`` (or an empty one) is
    put in double quotes, so ``key=value`` lines split unambiguously.
    """
    if value is None:
        return "-"
    text = str(value)
    escaped = "".join(_escaped(char) for char in text)
    if not text or any(char in _QUOTE_WHEN for char in text):
        return f'"{escaped}"'
    return escaped
