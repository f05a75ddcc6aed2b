"""The order of one work list as a screen keeps it: compact, and updated row by row.

A million rows as Python lists of ints would cost ~36 MiB and every change a
re-read of the whole list. :class:`ListOrder` keeps the source ids, groups and
sort times in three typed arrays (17 bytes a row) and applies a change by
taking the changed rows out and putting them back where their new sort key
belongs (binary search), so following other operators' work costs in
proportion to what they changed, not to the list (storage/changes.py).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Collection, Iterable

from storage.worklists import LATER, OrderEntry

_NEAR_TOP = 4096  # worked rows are mostly near the top: looked for there first


class ListOrder:
    """Source ids in list order, with the (group, time) each is sorted by."""

    def __init__(self, entries: Iterable[OrderEntry] = ()) -> None:
        self.ids = array("q")
        self.groups = array("b")
        self.times = array("q")
        for source_id, group, at in entries:
            self.ids.append(source_id)
            self.groups.append(group)
            self.times.append(at)

    def __len__(self) -> int:
        return len(self.ids)

    def _key(self, index: int) -> OrderEntry:
        return self.groups[index], self.times[index], self.ids[index]

    def position(self, source_id: int) -> int | None:
        """Where the row is, or None (a scan at C speed, nearest the top first)."""
        near = min(len(self.ids), _NEAR_TOP)
        for start, stop in ((0, near), (near, len(self.ids))):
            try:
                return self.ids.index(source_id, start, stop)
            except ValueError:
                continue
        return None

    def update(self, changed: Collection[int], entries: Iterable[OrderEntry]) -> bool:
        """Rows ``changed`` were read again: ``entries`` are those still listed, as now.

        Returns whether the order changed.
        """
        new = {source_id: (group, at) for source_id, group, at in entries}
        moved = False
        for source_id in set(changed) | set(new):
            index = self.position(source_id)
            if index is not None:
                if new.get(source_id) == (self.groups[index], self.times[index]):
                    continue  # still in its place
                del self.ids[index], self.groups[index], self.times[index]
                moved = True
            if source_id in new:
                group, at = new[source_id]
                index = bisect_left(range(len(self.ids)), (group, at, source_id), key=self._key)
                self.ids.insert(index, source_id)
                self.groups.insert(index, group)
                self.times.insert(index, at)
                moved = True
        return moved

    def first_later(self) -> int | None:
        """Index of the first row not callable yet (rows wait there in time order)."""
        index = bisect_left(self.groups, LATER)
        return index if index < len(self.groups) and self.groups[index] == LATER else None

    def next_due(self) -> int | None:
        """The moment the first waiting row becomes callable (and moves up), if any."""
        index = self.first_later()
        return None if index is None else self.times[index]

    def due_by(self, now: int) -> list[int]:
        """Waiting rows whose time has come by ``now``: they must be read again."""
        index = self.first_later()
        due = []
        while (
            index is not None
            and index < len(self.ids)
            and self.groups[index] == LATER
            and self.times[index] <= now
        ):
            due.append(self.ids[index])
            index += 1
        return due
