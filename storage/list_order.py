"""The order of one work list as a screen keeps it: compact, and updated row by row.

A million rows as Python lists of ints would cost ~36 MiB, and a change
applied to one flat array costs a scan and a shift of the whole array.
Following other operators' work must cost in proportion to what they
changed, not to the list (storage/changes.py), so the order is kept in two
compact structures:

- :class:`OrderView`: the source ids with the (group, time) each is sorted
  by, in list order, cut into chunks of about :data:`CHUNK` rows (three typed
  arrays a chunk, 17 bytes a row). A view never changes: a change makes a new
  view that shares every chunk it did not touch, so the worker thread that
  follows changes hands the screen a view of its own without copying the list,
  and the screen reads it without any lock. A row is found by its sort key
  with two binary searches (the chunks' last keys, then within one chunk).
- :class:`_ListedRows`: which rows are listed and the sort key of each, by source
  id, in pages of source ids that lie close together (11 bytes a row): what
  tells a change whether, and where, the row was listed before.

So a change of k rows costs k page look-ups, binary searches and chunk
copies, plus a copy of the chunks' list (a few thousand references for a
million rows): about the same at ten thousand rows as at a million.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, count
from typing import overload

from storage.worklists import LATER, OrderEntry

CHUNK = 2048  # rows a chunk holds after a reading; a chunk grown to twice that is split
PAGE_ROWS = 256  # listed rows a page of sort keys holds on average, after a reading

SortKey = tuple[int, int, int]  # (group, time, source id): rows are listed in its order

_versions = count(1)  # every view has its own number, across all lists


class OrderView(Sequence[int]):
    """The source ids of a list in list order, as they were at one moment (never changes).

    ``base`` is the view this one was made from by one change and ``changes``
    what that change did: each changed row's new sort key, or None for a row
    that left the list. :meth:`find_row` uses them to follow a row from the
    view before without searching the whole list.
    """

    __slots__ = ("_groups", "_ids", "_lasts", "_starts", "_times", "base", "changes", "version")

    def __init__(
        self,
        ids: list[array[int]],
        groups: list[array[int]],
        times: list[array[int]],
        lasts: list[SortKey],
        base: int = 0,
        changes: Mapping[int, SortKey | None] | None = None,
    ) -> None:
        self._ids, self._groups, self._times, self._lasts = ids, groups, times, lasts
        self._starts = list(accumulate(map(len, ids), initial=0))
        self.version = next(_versions)
        self.base = base
        self.changes: Mapping[int, SortKey | None] = changes or {}

    @classmethod
    def read(cls, entries: Iterable[OrderEntry]) -> OrderView:
        """A view of entries (source id, group, time) already in list order."""
        ids: list[array[int]] = []
        groups: list[array[int]] = []
        times: list[array[int]] = []
        left = 0
        chunk_ids, chunk_groups, chunk_times = array("q"), array("b"), array("q")
        for source_id, group, at in entries:
            if not left:
                chunk_ids, chunk_groups, chunk_times = array("q"), array("b"), array("q")
                ids.append(chunk_ids)
                groups.append(chunk_groups)
                times.append(chunk_times)
                left = CHUNK
            chunk_ids.append(source_id)
            chunk_groups.append(group)
            chunk_times.append(at)
            left -= 1
        lasts = [(g[-1], t[-1], i[-1]) for i, g, t in zip(ids, groups, times, strict=True)]
        return cls(ids, groups, times, lasts)

    # --- as a sequence of source ids ------------------------------------------

    def __len__(self) -> int:
        return self._starts[-1]

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> array[int]: ...

    def __getitem__(self, index: int | slice) -> int | array[int]:
        if isinstance(index, slice):
            return self._slice(*index.indices(len(self)))
        chunk, at = self._place(index)
        return self._ids[chunk][at]

    def _place(self, index: int) -> tuple[int, int]:
        """The chunk holding row ``index`` (negative: from the end) and where in it."""
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)  # as a list does: beyond its end
        chunk = bisect_right(self._starts, index) - 1
        return chunk, index - self._starts[chunk]

    def _slice(self, start: int, stop: int, step: int) -> array[int]:
        if step != 1:
            return array("q", (self[i] for i in range(start, stop, step)))
        taken = array("q")
        if start >= stop:
            return taken
        chunk, at = self._place(start)
        while len(taken) < stop - start:
            taken.extend(self._ids[chunk][at : at + stop - start - len(taken)])
            chunk, at = chunk + 1, 0
        return taken

    def __iter__(self) -> Iterator[int]:
        for chunk in self._ids:
            yield from chunk

    def __contains__(self, source_id: object) -> bool:
        return any(source_id in chunk for chunk in self._ids)

    def index(self, source_id: object, start: int = 0, stop: int = sys.maxsize) -> int:
        """Where a source id is, searched through the whole list (at C speed)."""
        if start or stop != sys.maxsize:
            return super().index(source_id, start, stop)
        for chunk, ids in enumerate(self._ids):
            if source_id in ids:
                return self._starts[chunk] + ids.index(source_id)  # type: ignore[arg-type]
        raise ValueError(source_id)  # as a list does: not in it

    def same_rows(self, other: OrderView) -> bool:
        """Whether both views list the same rows in the same order (compared at C speed)."""
        return len(self) == len(other) and self[:] == other[:]

    def parts(
        self,
    ) -> tuple[list[array[int]], list[array[int]], list[array[int]], list[SortKey]]:
        """Copies of the lists of chunks (sharing the chunks) and of their last keys."""
        return list(self._ids), list(self._groups), list(self._times), list(self._lasts)

    def chunks(self) -> Iterator[tuple[array[int], array[int], array[int]]]:
        """Each chunk's source ids, groups and times (arrays not to be changed)."""
        return zip(self._ids, self._groups, self._times, strict=True)

    # --- by sort key ------------------------------------------------------------

    def key_at(self, index: int) -> SortKey:
        """The sort key (group, time, source id) of row ``index``."""
        chunk, at = self._place(index)
        return self._groups[chunk][at], self._times[chunk][at], self._ids[chunk][at]

    def _locate(self, key: SortKey) -> tuple[int, int]:
        return _locate(self._ids, self._groups, self._times, self._lasts, key)

    def position(self, key: SortKey) -> int | None:
        """Where the row with this sort key is, or None if no row has it."""
        chunk, at = self._locate(key)
        if chunk == len(self._ids) or self._ids[chunk][at] != key[2]:
            return None
        return self._starts[chunk] + at

    def find_row(self, before: OrderView, index: int) -> int | None:
        """Where the row at ``before[index]`` is in this view; None if it left the list.

        Made from ``before`` by one change, this view knows the row's new sort key
        (binary searches); otherwise the whole list is searched.
        """
        if before.version == self.version:
            return index
        key = before.key_at(index)
        if self.base != before.version:
            try:
                return self.index(key[2])
            except ValueError:
                return None
        if key[2] in self.changes:
            moved = self.changes[key[2]]
            if moved is None:
                return None
            key = moved
        return self.position(key)

    # --- rows waiting for their time ----------------------------------------------

    def first_later(self) -> int | None:
        """Index of the first row not callable yet (rows wait there in time order)."""
        chunk = bisect_left(self._lasts, (LATER,))
        if chunk == len(self._lasts):
            return None
        at = bisect_left(self._groups[chunk], LATER)
        return self._starts[chunk] + at if self._groups[chunk][at] == LATER else None

    def next_due(self) -> int | None:
        """The moment the first waiting row becomes callable (and moves up), if any."""
        index = self.first_later()
        return None if index is None else self.key_at(index)[1]

    def due_by(self, now: int) -> list[int]:
        """Waiting rows whose time has come by ``now``: they must be read again."""
        index = self.first_later()
        if index is None:
            return []
        due: list[int] = []
        chunk, at = self._place(index)
        while chunk < len(self._ids):
            groups, times = self._groups[chunk], self._times[chunk]
            while at < len(groups):
                if groups[at] != LATER or times[at] > now:
                    return due
                due.append(self._ids[chunk][at])
                at += 1
            chunk, at = chunk + 1, 0
        return due


def _locate(
    ids: list[array[int]],
    groups: list[array[int]],
    times: list[array[int]],
    lasts: list[SortKey],
    key: SortKey,
) -> tuple[int, int]:
    """The chunk and the place in it where ``key`` is, or would go (binary searches);
    past the last chunk when it would go after the last row."""
    chunk = bisect_left(lasts, key)
    if chunk == len(lasts):
        return chunk, 0
    chunk_ids, chunk_groups, chunk_times = ids[chunk], groups[chunk], times[chunk]
    at = bisect_left(
        range(len(chunk_ids)),
        key,
        key=lambda i: (chunk_groups[i], chunk_times[i], chunk_ids[i]),
    )
    return chunk, at


class _ListedRows:
    """The (group, time) of every listed row, by source id, in pages of nearby ids.

    A page holds the rows whose source ids share all but the lowest ``shift``
    bits: those bits (array "H"), and each row's group and time. The page width
    is chosen from the list's spread of ids when it is read so that a page holds
    about :data:`PAGE_ROWS` rows; a row is found by a scan of its page at C speed.
    """

    def __init__(self, view: OrderView) -> None:
        chunks = list(view.chunks())
        spread = 1
        if chunks:
            spread += max(max(ids) for ids, _, _ in chunks) - min(min(ids) for ids, _, _ in chunks)
        width = max(PAGE_ROWS * spread // max(len(view), 1), 1)
        self.shift = min(width.bit_length() - 1, 16)
        self.pages: dict[int, tuple[array[int], array[int], array[int]]] = {}
        adders: dict[int, tuple[Callable[[int], None], ...]] = {}  # the pages' appends
        mask = (1 << self.shift) - 1
        for ids, groups, times in chunks:  # a million rows: one pass, kept lean
            for source_id, group, at in zip(ids, groups, times, strict=True):
                add = adders.get(source_id >> self.shift)
                if add is None:
                    page = self.pages[source_id >> self.shift] = (
                        array("H"),
                        array("b"),
                        array("q"),
                    )
                    add = adders[source_id >> self.shift] = tuple(part.append for part in page)
                add[0](source_id & mask)
                add[1](group)
                add[2](at)

    def get(self, source_id: int) -> tuple[int, int] | None:
        page = self.pages.get(source_id >> self.shift)
        if page is None:
            return None
        low, groups, times = page
        try:
            at = low.index(source_id & ((1 << self.shift) - 1))
        except ValueError:
            return None
        return groups[at], times[at]

    def put(self, source_id: int, group: int, at: int) -> None:
        """Record a row newly listed."""
        page = self.pages.get(source_id >> self.shift)
        if page is None:
            page = self.pages[source_id >> self.shift] = (array("H"), array("b"), array("q"))
        low, groups, times = page
        low.append(source_id & ((1 << self.shift) - 1))
        groups.append(group)
        times.append(at)

    def drop(self, source_id: int) -> None:
        """Forget a row that left the list (or is put again with its new key)."""
        number = source_id >> self.shift
        low, groups, times = self.pages[number]
        at = low.index(source_id & ((1 << self.shift) - 1))
        del low[at], groups[at], times[at]
        if not low:
            del self.pages[number]


class ListOrder:
    """A list's order as a worker thread keeps it up to date; :attr:`view` is the order now."""

    def __init__(self, entries: Iterable[OrderEntry] = ()) -> None:
        self.view = OrderView.read(entries)
        self._listed: _ListedRows | None = None

    @property
    def _keys(self) -> _ListedRows:
        """The rows' sort keys by id, made when first needed: the screen shows a fresh
        reading first (a pass over a million rows takes a few tenths of a second)."""
        if self._listed is None:
            self._listed = _ListedRows(self.view)
        return self._listed

    def __len__(self) -> int:
        return len(self.view)

    def position(self, source_id: int) -> int | None:
        """Where the row is, or None when it is not listed."""
        key = self._keys.get(source_id)
        return None if key is None else self.view.position((*key, source_id))

    def update(self, changed: Collection[int], entries: Iterable[OrderEntry]) -> bool:
        """Rows ``changed`` were read again: ``entries`` are those still listed, as now.

        Returns whether the order changed; if it did, :attr:`view` is a new view.
        """
        new = {source_id: (group, at) for source_id, group, at in entries}
        chunks = _Chunks(self.view)
        changes: dict[int, SortKey | None] = {}
        for source_id in set(changed) | set(new):
            old, now = self._keys.get(source_id), new.get(source_id)
            if old == now:
                continue  # still in its place (or still not listed)
            if old is not None:
                chunks.remove((*old, source_id))
                self._keys.drop(source_id)
            if now is None:
                changes[source_id] = None
            else:
                changes[source_id] = (*now, source_id)
                chunks.insert((*now, source_id))
                self._keys.put(source_id, *now)
        if not changes:
            return False
        self.view = chunks.view(self.view.version, changes)
        return True


class _Chunks:
    """A view's chunks while one change is applied: a touched chunk is copied, not changed
    (views made before share the untouched ones)."""

    def __init__(self, view: OrderView) -> None:
        self.ids, self.groups, self.times, self.lasts = view.parts()

    def _locate(self, key: SortKey) -> tuple[int, int]:
        return _locate(self.ids, self.groups, self.times, self.lasts, key)

    def remove(self, key: SortKey) -> None:
        chunk, at = self._locate(key)
        ids, groups, times = self.ids[chunk], self.groups[chunk], self.times[chunk]
        if len(ids) == 1:
            del self.ids[chunk], self.groups[chunk], self.times[chunk], self.lasts[chunk]
            return
        self._put(
            chunk,
            ids[:at] + ids[at + 1 :],
            groups[:at] + groups[at + 1 :],
            times[:at] + times[at + 1 :],
        )

    def insert(self, key: SortKey) -> None:
        group, at_time, source_id = key
        if not self.ids:
            self.ids.append(array("q", [source_id]))
            self.groups.append(array("b", [group]))
            self.times.append(array("q", [at_time]))
            self.lasts.append(key)
            return
        chunk, at = self._locate(key)
        if chunk == len(self.ids):  # after the last row: at the end of the last chunk
            chunk -= 1
            at = len(self.ids[chunk])
        ids, groups, times = self.ids[chunk], self.groups[chunk], self.times[chunk]
        ids = ids[:at] + array("q", [source_id]) + ids[at:]
        groups = groups[:at] + array("b", [group]) + groups[at:]
        times = times[:at] + array("q", [at_time]) + times[at:]
        if len(ids) < 2 * CHUNK:
            self._put(chunk, ids, groups, times)
            return
        half = len(ids) // 2
        self._put(chunk, ids[half:], groups[half:], times[half:])
        self.ids.insert(chunk, array("q"))
        self.groups.insert(chunk, array("b"))
        self.times.insert(chunk, array("q"))
        self.lasts.insert(chunk, key)
        self._put(chunk, ids[:half], groups[:half], times[:half])

    def _put(self, chunk: int, ids: array[int], groups: array[int], times: array[int]) -> None:
        self.ids[chunk], self.groups[chunk], self.times[chunk] = ids, groups, times
        self.lasts[chunk] = groups[-1], times[-1], ids[-1]

    def view(self, base: int, changes: Mapping[int, SortKey | None]) -> OrderView:
        return OrderView(self.ids, self.groups, self.times, self.lasts, base, changes)
