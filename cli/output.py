"""What a command prints: lines for people (safe on a terminal) and JSON for scripts."""

from __future__ import annotations

import re

import click

from storage.names import CONTROL_CHARACTER
from tui.safe_text import safe_text


def say(line: str, *, err: bool = False) -> None:
    """Print one line for people (not a data format), with the data it quotes shown safely.

    Names, paths and file contents quoted in messages pass through
    tui/safe_text.py, so nothing in them reaches the terminal as a control
    sequence (a line break in them shows as ␊); CSV and JSON output is written
    as it is instead (click.echo).
    """
    click.echo(safe_text(line), err=err)


def print_json(value: object, indent: int | None = None) -> None:
    """JSON for scripts: the data exactly, with every control character as a \\u escape.

    json.dumps escapes C0 controls itself; C1 and bidi controls, which it would
    write as they are, are escaped here too, so that the JSON means the same and
    is as safe on a terminal as a line from say().
    """

    def escaped(found: re.Match[str]) -> str:
        character = found.group()
        # C0 controls are json.dumps's own escapes, or the line breaks of ``indent``.
        return character if character < " " else f"\\u{ord(character):04x}"

    import json  # loaded by the commands that print JSON, not at every start

    text = json.dumps(value, ensure_ascii=False, indent=indent)
    click.echo(CONTROL_CHARACTER.sub(escaped, text))
