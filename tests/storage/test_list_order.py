"""A list's order kept in chunks (storage/list_order.py), held against a plain sorted list.

Small chunks and pages make a few dozen rows exercise what a million rows do:
chunks split and empty, pages of sort keys fill and empty, ids lie far apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage import list_order
from storage.list_order import ListOrder, OrderView, SortKey
from storage.worklists import BLOCKED, CALLABLE, CALLBACK_DUE, LATER, OrderEntry

GROUPS = st.sampled_from([CALLBACK_DUE, CALLABLE, LATER, BLOCKED])
TIMES = st.integers(0, 12)  # few times: many rows share one and are ordered by id
IDS = st.one_of(st.integers(1, 40), st.integers(2**40, 2**40 + 3))  # near and far apart
CHANGE = st.lists(st.tuples(IDS, st.none() | st.tuples(GROUPS, TIMES)), min_size=1, max_size=5)


@contextmanager
def small_chunks(chunk: int = 3, page_rows: int = 2) -> Iterator[None]:
    with (
        mock.patch.object(list_order, "CHUNK", chunk),
        mock.patch.object(list_order, "PAGE_ROWS", page_rows),
    ):
        yield


def listed(rows: dict[int, tuple[int, int]]) -> list[SortKey]:
    """The plain answer: every listed row's sort key (group, time, id), sorted."""
    return sorted((group, at, source_id) for source_id, (group, at) in rows.items())


def entries(keys: list[SortKey]) -> list[OrderEntry]:
    """Sort keys as the database's readings give rows: (id, group, time)."""
    return [(source_id, group, at) for group, at, source_id in keys]


def holds(view: OrderView, expected: list[SortKey]) -> None:
    """The view answers every question as the plain sorted list does."""
    ids = [entry[2] for entry in expected]
    assert list(view) == ids and len(view) == len(ids)
    assert [view[i] for i in range(len(ids))] == ids
    assert [view.key_at(i) for i in range(len(ids))] == expected
    for start in range(-2, len(ids) + 2):
        assert list(view[start : start + 4]) == ids[start : start + 4]
    assert list(view[::2]) == ids[::2]
    for index, entry in enumerate(expected):
        assert view.position(entry) == index
        assert view.index(entry[2]) == index and entry[2] in view
    later = [i for i, entry in enumerate(expected) if entry[0] == LATER]
    assert view.first_later() == (later[0] if later else None)
    assert view.next_due() == (expected[later[0]][1] if later else None)
    for now in range(-1, 14):
        assert view.due_by(now) == [expected[i][2] for i in later if expected[i][1] <= now]


@settings(max_examples=150, deadline=None)
@given(
    first=st.dictionaries(IDS, st.tuples(GROUPS, TIMES), max_size=20),
    changes=st.lists(CHANGE, max_size=12),
)
def test_changes_give_the_order_a_fresh_reading_gives(
    first: dict[int, tuple[int, int]], changes: list[list[tuple[int, tuple[int, int] | None]]]
) -> None:
    with small_chunks():
        rows = dict(first)
        order = ListOrder(entries(listed(rows)))
        holds(order.view, listed(rows))
        for change in changes:
            before, before_rows = order.view, listed(rows)
            for source_id, now in change:
                if now is None:
                    rows.pop(source_id, None)
                else:
                    rows[source_id] = now
            changed = {source_id for source_id, _ in change}
            again = [key for key in listed(rows) if key[2] in changed]
            moved = order.update(changed, entries(again))
            assert moved == (listed(rows) != before_rows)
            assert (order.view is before) == (not moved)
            holds(order.view, listed(rows))
            holds(before, before_rows)  # a view handed out never changes
            for source_id in {*changed, *(entry[2] for entry in before_rows)}:
                key = rows.get(source_id)
                place = order.position(source_id)
                assert place == (None if key is None else listed(rows).index((*key, source_id)))
            for index, entry in enumerate(before_rows):  # each row followed to its new place
                found = order.view.find_row(before, index)
                after = listed(rows)
                assert found == next((i for i, e in enumerate(after) if e[2] == entry[2]), None)


def test_a_row_is_followed_into_a_fresh_reading_by_a_search() -> None:
    """A view not made from the one before (a reading of the whole list) is searched."""
    before = OrderView.read([(5, CALLABLE, 0), (7, CALLABLE, 0), (3, LATER, 100)])
    after = OrderView.read([(3, CALLBACK_DUE, 0), (7, CALLABLE, 0)])
    assert after.find_row(before, 1) == 1
    assert after.find_row(before, 2) == 0  # moved up
    assert after.find_row(before, 0) is None  # left the list
    assert before.find_row(before, 2) == 2


def test_a_big_change_splits_chunks_and_keeps_them_small() -> None:
    with small_chunks(chunk=4):
        order = ListOrder([(n, CALLABLE, 0) for n in range(10)])
        added = [(n, CALLABLE, 0) for n in range(100, 140)]
        assert order.update({n for n, _, _ in added}, added)
        holds(order.view, [(CALLABLE, 0, n) for n in [*range(10), *range(100, 140)]])
        assert all(len(ids) < 8 for ids, _, _ in order.view.chunks())


def test_an_empty_order_answers_as_empty() -> None:
    order = ListOrder()
    holds(order.view, [])
    assert order.position(5) is None
    with pytest.raises(IndexError):
        order.view[0]
    assert not order.update({5}, [])
    assert order.update({5}, [(5, LATER, 9)])
    holds(order.view, [(LATER, 9, 5)])


def test_two_readings_list_the_same_rows_only_in_the_same_order() -> None:
    rows = [(1, CALLABLE, 100), (2, CALLABLE, 100), (3, LATER, 500), (4, LATER, 600)]
    with small_chunks():
        first = OrderView.read(rows)
        assert first.same_rows(OrderView.read(rows))  # chunked the same way or not
        assert not first.same_rows(OrderView.read(rows[:3]))
        assert not first.same_rows(OrderView.read([rows[1], rows[0], *rows[2:]]))
    assert first.same_rows(OrderView.read(rows))  # other chunks, the same rows
