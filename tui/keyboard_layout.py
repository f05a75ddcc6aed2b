"""The Russian keyboard layout: its letters stand for the app's letter keys.

Operators write comments in Russian, so after Enter the keyboard is usually
still in the Russian layout (ЙЦУКЕН): the key marked c types «с», y types «н»,
/ types a full stop. Outside a text field such a key acts as the Latin key on
the same place (tui/app.py, ``on_event``); in a text field it is typed as it is.
"""

from __future__ import annotations

from textual import events

# Each Russian letter (and the full stop on the / key) and the Latin key it shares.
_SAME_KEY = dict(zip("йцукенгшщзфывапролдячсмить.", "qwertyuiopasdfghjklzxcvbnm/", strict=True))


def latin_key(event: events.Key) -> events.Key | None:
    """The key press as the Latin layout would send it; None if it is not a Russian letter."""
    latin = _SAME_KEY.get(event.character or "")
    if latin is None:
        return None
    return events.Key("slash" if latin == "/" else latin, latin)
