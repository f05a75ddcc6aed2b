"""The operator's desk: what a screen may use of the app, and how it has database work done.

Screens depend on the :class:`Desk` interface, never on the app module
(tui/app.py builds them, so that would be an import circle). Every screen is
:class:`AtTheDesk`: ``self.desk`` is the app seen through that interface, and
``self.on_database(job, done, failed, group=…)`` runs a job in a named worker
and answers on the UI thread (tui/database_work.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from textual.app import App
from textual.dom import DOMNode
from textual.worker import Worker

from storage.connection import Connection
from storage.errors import RingroundError
from storage.policy import Policy
from storage.sessions import Session
from storage.worklists import WorkList
from tui.database_work import Database

if TYPE_CHECKING:
    from tui.phone_line import PhoneLine  # the exchange's code is loaded only when it is used

T = TypeVar("T")


class Desk(Protocol):
    """The app as its screens see it."""

    policy: Policy
    operator: str  # whose desk
    supervisor: bool  # the operator's role in the policy
    database: Database
    phone: PhoneLine | None  # the line to the phone exchange, when telephony is on
    first_lists: list[WorkList] | None  # the work lists read before start, once
    notice: str  # said on the list picker until the operator first opens a list
    database_trouble: str  # the header's line while the database server does not answer

    @property
    def session(self) -> Session:
        """This desk's session; waits for it in the first moments (the app starts it)."""
        ...

    def now(self) -> int:
        """The clinic clock: seconds since the epoch."""
        ...

    def after_first_paint(self, then: Callable[[], object]) -> None:
        """Run ``then`` once the list picker is first on the screen (at once if it was)."""
        ...

    def leave(self, leaving: str, then: Callable[[], object]) -> None:
        """Run ``then``, after asking to abort this session's open calls if there are any."""
        ...


def desk_of(app: App[Any]) -> Desk:
    """The running app as a :class:`Desk` (tui/app.py has the type checker hold it to that).

    Not checked with isinstance: that would read ``session``, which waits for
    the session to start (after the first paint).
    """
    return cast(Desk, app)


# Seen by the type checker as a node of the screen, which every class it is mixed into is.
if TYPE_CHECKING:
    _Node = DOMNode
else:
    _Node = object


class AtTheDesk(_Node):
    """Mixed into every screen of the app: the desk, and database work with an answer."""

    @property
    def desk(self) -> Desk:
        return desk_of(self.app)

    def on_database(
        self,
        job: Callable[[Connection], T],
        done: Callable[[T], object],
        failed: Callable[[RingroundError], object],
        *,
        group: str,
        exclusive: bool = True,
        on_busy: Callable[[str], object] | None = None,
    ) -> Worker[None]:
        """Run ``job`` in this screen's worker group ``group``; see :meth:`Database.work`."""
        return self.desk.database.work(
            self, job, done, failed, group=group, exclusive=exclusive, on_busy=on_busy
        )
