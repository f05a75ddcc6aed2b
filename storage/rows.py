"""Call rows: one thing to call one client about, keyed by (kind, source id).

What a row is about, read from its source, is storage/sources.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.errors import BadInput
from storage.i18n import _
from storage.shown import in_quotes

APPOINTMENT = "appointment"
ITEM = "item"  # an item of a call list
TASK = "task"
KINDS = (APPOINTMENT, ITEM, TASK)
LARGEST_ID = 2**63 - 1  # a 64-bit integer: the id columns of both engines


class NotARow(BadInput):
    """The text given for a row is not one (rows look like appointment:12)."""


@dataclass(frozen=True, order=True)
class RowKey:
    kind: str
    source_id: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.source_id}"

    @classmethod
    def parse(cls, text: str) -> RowKey:
        """Read "appointment:12", "item:7" or "task:3"; NotARow otherwise."""
        kind, _colon, number = text.strip().partition(":")
        plain = number.isascii() and number.isdigit()  # "²" is a digit to Python, not to int()
        if kind not in KINDS or not plain or int(number) > LARGEST_ID:
            raise NotARow(
                _("'{text}' is not a row; rows look like appointment:12, item:7 or task:3").format(
                    text=in_quotes(text)
                )
            )
        return cls(kind, int(number))
