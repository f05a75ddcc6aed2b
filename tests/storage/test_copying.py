"""storage/copying.py: the progress a copy reports and the checksum it compares by."""

from __future__ import annotations

from pathlib import Path

from storage.copying import COPIED, Tally, copy_clinic
from storage.database import open_database
from storage.demo import make_demo
from storage.policy import default_policy
from tests.stored_clinic import NOW


def test_each_table_reports_its_progress_to_the_end(tmp_path: Path) -> None:
    source = open_database(tmp_path / "from.db", create=True)
    target = open_database(tmp_path / "to.db", create=True)
    make_demo(source, default_policy(), clients=30, now=NOW)
    seen: dict[str, list[tuple[int, int]]] = {}
    pairs = copy_clinic(
        source,
        target,
        shown=("from.db", "to.db"),
        policy=default_policy(),
        now=NOW,
        progress=lambda table, done, total: seen.setdefault(table, []).append((done, total)),
    )
    assert list(seen) == list(COPIED) == [pair.table for pair in pairs]
    for pair in pairs:
        reports = seen[pair.table]
        assert reports[0] == (0, pair.source.rows)  # the bar appears before the first page
        assert reports[-1] == (pair.source.rows, pair.source.rows)
    assert pairs[COPIED.index("clients")].target.rows == 30


def test_the_checksum_covers_every_value_but_not_the_order_of_rows() -> None:
    rows = [(1, "Анна", None), (2, "Boris", 7), (3, "", 0)]

    def checksum(*found: tuple[object, ...]) -> Tally:
        tally = Tally()
        for row in found:
            tally.add(row)
        return tally

    assert checksum(*rows) == checksum(*reversed(rows))
    assert checksum(*rows).rows == 3
    assert checksum(*rows) != checksum(*rows[:2])
    assert checksum(*rows) != checksum(*rows, rows[0])  # a row twice is not the same
    assert checksum(*rows) != checksum(rows[0], rows[1], (3, "", None))  # 0 is not NULL
    assert checksum(*rows) != checksum(rows[0], rows[1], (3, "", "0"))  # text is not a number
    assert checksum(*rows) != checksum((1, "Анна", None), (2, "Boris", 7), ("3", "", 0))
