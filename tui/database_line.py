"""The header line that says the database cannot be used: its server is not answering or
refuses the login, or its file was moved, replaced or deleted.

Each full screen of the app has one, right under its title; it takes no room
while the database answers. When a job or the change watch finds the server
gone (storage.database.DatabaseUnreachable: down, restarting, the network),
the app shows the line on every screen and keeps reconnecting. When the server
answers but refuses the login (storage.database.LoginRefused: a role, password
or right an administrator changed), the line says why in the words of
``ringround check``, and the app keeps trying. When the server lets the app in
again the line goes, the operator is told once, and every screen reads what it
shows again (tui/app.py, ``reach_changed``). When the change watch finds an
SQLite file deleted or replaced (storage.database.DatabaseGone), the line says
so until the file is back (tui/app.py, ``poll``); every save is refused meanwhile.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.desk import desk_of


class DatabaseLine(Static):
    """Shows the app's ``database_trouble``, or nothing (not displayed) when there is none."""

    def __init__(self) -> None:
        super().__init__("", classes="database-line")

    def on_mount(self) -> None:
        self.show(desk_of(self.app).database_trouble)  # a screen opened during the trouble

    def show(self, trouble: str) -> None:
        self.display = bool(trouble)
        self.update(Text(trouble))
