"""The app's start from the command line: the terminal settings, then the app.

Kept apart from tui/app.py so that the settings are made before Textual is
imported (it reads ESCDELAY once, on import); the command line imports this
module only when the app starts.
"""

from __future__ import annotations

import codecs
import functools
import os
import sys
from collections.abc import Callable

from storage.policy import Policy

ESCAPE_DELAY_MS = 100  # Textual's own default
ESCAPE_DELAY_MAX_MS = 250


def keep_escape_short() -> None:
    """Keep the wait that tells Escape from an arrow key's escape sequence short.

    A lone ESC byte may be the start of a key's sequence, so Textual waits
    ESCDELAY milliseconds (read once, when Textual is imported) for more bytes.
    Some profiles set ESCDELAY=1000 for curses programs, which would make Escape
    feel dead for a second: honour ESCDELAY up to ESCAPE_DELAY_MAX_MS only.
    """
    try:
        wanted = int(os.environ.get("ESCDELAY", ESCAPE_DELAY_MS))
    except ValueError:
        wanted = ESCAPE_DELAY_MS
    delay = min(max(wanted, 1), ESCAPE_DELAY_MAX_MS)
    os.environ["ESCDELAY"] = str(delay)
    constants = sys.modules.get("textual.constants")
    if constants is not None:  # already imported (tests): the parser reads it on every ESC
        constants.ESCAPE_DELAY = delay / 1000  # type: ignore[attr-defined]


def no_colours_on_a_dumb_terminal() -> None:
    """Show the app in shades of grey, as with NO_COLOR, when TERM says ``dumb``.

    A terminal announced as dumb knows no colours (docs/deploy.md, step 10,
    offers it for that), but Textual, told by Rich that it has none, writes
    full colour. NO_COLOR is read when the app is made.
    """
    if os.environ.get("TERM") == "dumb":
        os.environ.setdefault("NO_COLOR", "1")


def share_new_files_with_group() -> None:
    """Clear the group bits of the umask.

    SQLite makes the -wal and -shm files with the creator's umask before it
    gives them the database's mode; with umask 022 another operator starting
    at that moment finds them read-only.
    """
    current = os.umask(0)
    os.umask(current & ~0o070)


def replacing_decoder(encoding: str) -> Callable[[], codecs.IncrementalDecoder]:
    """The incremental decoder of ``encoding`` that puts U+FFFD for bytes it cannot decode."""
    return functools.partial(codecs.getincrementaldecoder(encoding), errors="replace")


def read_keys_that_are_not_utf8() -> None:
    """Take bytes from the terminal that are not UTF-8 as replacement characters.

    A terminal not set to UTF-8 (PuTTY left in Windows-1251, a KOI8-R console:
    docs/deploy.md, step 10) sends other bytes for Russian letters. Textual's
    input thread decodes them strictly and would end the app with a traceback
    at the first such key; as U+FFFD (a question mark in a diamond) they show
    where they were typed and can be deleted. Textual takes its decoder from
    the driver module's name for it.
    """
    from textual.drivers import linux_driver

    linux_driver.getincrementaldecoder = replacing_decoder  # type: ignore[attr-defined,assignment]


def start_app(db: str, policy: Policy, operator: str, supervisor: bool, notice: str = "") -> int:
    """Make the terminal settings, then run the app (tui/app.py: run_app); its exit code.

    ``notice`` is shown on the app's first screen (the list picker).
    """
    keep_escape_short()
    no_colours_on_a_dumb_terminal()
    share_new_files_with_group()
    read_keys_that_are_not_utf8()
    from tui.app import run_app

    return run_app(db, policy, operator, supervisor, notice=notice)
