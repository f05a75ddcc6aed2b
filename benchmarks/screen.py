"""What a terminal shows, by replaying the bytes an app wrote into a terminal emulator (pyte).

Two uses: :func:`minimal_redraw` counts the fewest bytes that could have turned
one screen into the next (what the app's own bytes are compared with), and
:class:`Replay` tells when something became visible (the client pane showing the
row under the cursor), from the moment each chunk of bytes arrived.

The least redraw of a change is counted as a careful program would write it
over SSH: for each line, the changed cells in runs, each run reached with one
cursor move (``CSI row;col H``) unless rewriting the unchanged cells in
between is cheaper; a style change written as one SGR sequence with only the
attributes needed (colours as the 256-colour codes a TERM=xterm-256color
terminal gets, ``38;5;N``); every character in UTF-8.
"""

from __future__ import annotations

import pyte
from pyte.screens import Char

COLOUR_CODE = 8  # "38;5;123": what one colour costs in an SGR sequence


def _style(char: Char) -> tuple[object, ...]:
    return (
        char.fg,
        char.bg,
        char.bold,
        char.italics,
        char.underscore,
        char.strikethrough,
        char.reverse,
        char.blink,
    )


def _sgr_cost(style: tuple[object, ...]) -> int:
    """Bytes of one SGR sequence that sets exactly this style from a reset: ESC [ 0;…m."""
    fg, bg, *flags = style
    codes = [1] + [COLOUR_CODE for colour in (fg, bg) if colour != "default"]
    codes += [1 for flag in flags if flag]
    return 2 + sum(codes) + len(codes) - 1 + 1  # ESC [ 0;…m: a reset first


def _move_cost(row: int, column: int) -> int:
    return len(f"\x1b[{row + 1};{column + 1}H")


Snapshot = list[list[Char]]


class Replay:
    """A terminal of ``columns`` × ``lines`` fed with what the program wrote."""

    def __init__(self, columns: int = 80, lines: int = 24) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)

    def snapshot(self) -> Snapshot:
        buffer = self.screen.buffer
        return [
            [buffer[y][x] for x in range(self.screen.columns)] for y in range(self.screen.lines)
        ]

    def line(self, y: int) -> str:
        return "".join(char.data for char in self.snapshot()[y])

    def reversed_line(self) -> int | None:
        """The line whose cells are mostly in reverse video: the row table's cursor."""
        for y, cells in enumerate(self.snapshot()):
            if sum(char.reverse for char in cells) > len(cells) // 2:
                return y
        return None


def minimal_redraw(before: Snapshot, after: Snapshot) -> int:
    """The fewest bytes that turn the screen ``before`` into ``after`` (module docstring)."""
    total = 0
    for y, (old, new) in enumerate(zip(before, after, strict=True)):
        changed = [x for x in range(len(new)) if old[x] != new[x]]
        if not changed:
            continue
        style: tuple[object, ...] | None = None
        at = None  # the column the cursor is at after writing
        for x in changed:
            if at != x:
                gap = range(at, x) if at is not None else range(0)
                rewrite = sum(len(new[g].data.encode()) for g in gap)
                move = _move_cost(y, x)
                if at is not None and rewrite < move and all(_style(new[g]) == style for g in gap):
                    total += rewrite
                else:
                    total += move
            if _style(new[x]) != style:
                style = _style(new[x])
                total += _sgr_cost(style)
            total += len(new[x].data.encode())
            at = x + 1
    return total
