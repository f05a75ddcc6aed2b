"""Run every benchmark and write BENCHMARKS.md: ``python -m benchmarks`` (about 30 minutes).

Options: ``--out FILE`` (default BENCHMARKS.md beside this folder), ``--dir
FOLDER`` for the databases (default: a new folder under the system's temporary
folder; all runs of one benchmark share it, so ringround and the bare loop use
the same disk), ``--quick`` for a short trial run (fewer repeats, moves and
operators, short idle periods; its figures are not for the record). With
``--dir`` the figures are kept there too (figures.pickle), and ``--again PART``
(throughput, postgresql, app, startup, check) measures just that part again,
on the same databases, and rewrites the report with the rest as kept. The
PostgreSQL part (benchmarks/postgresql.py: claim → finish on a server of its
own, and change propagation on both engines) starts and removes its own
cluster each time; without the server programs or psycopg the report says it
was not measured, and why.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import app_timing, operators, postgresql, terminal, throughput
from benchmarks.databases import build_call_list
from benchmarks.machine import describe, load_average
from benchmarks.report import BIG, OPERATORS, SIZES, USUAL, Figures, write_report

ROOT = Path(__file__).resolve().parent.parent
KEPT = "figures.pickle"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--again", choices=("throughput", "postgresql", "app", "startup", "check"), action="append"
    )
    args = parser.parse_args(argv)
    if args.again:
        return again(args.dir, args.again, args.out)

    folder = args.dir or Path(tempfile.mkdtemp(prefix="ringround-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    figures = Figures(machine=describe(folder), load_before=load_average(), quick=args.quick)

    def say(text: str) -> None:
        print(f"[{time.monotonic() - began:5.0f} s] {text}", flush=True)

    idle_seconds, crowd = operators.IDLE_SECONDS, OPERATORS
    if args.quick:
        app_timing.MOVES_DOWN, app_timing.MOVES_UP, app_timing.OPENS = 40, 20, 2
        terminal.MOVES, terminal.STARTS, terminal.PAGES = 40, 3, 60
        operators.MOVES = 20
        idle_seconds, crowd = 10.0, (1, 2, 3)
    try:
        say("building the databases")
        lists = {rows: folder / f"list-{rows}.db" for rows in SIZES}
        for rows, path in lists.items():
            if not path.exists():
                build_call_list(path, rows)

        say("claim -> finish throughput, ringround against the bare sqlite3 loop")
        figures.throughput = throughput.measure(
            folder / "throughput",
            rows=throughput.ROWS,
            repeats=1 if args.quick else throughput.REPEATS,
            say=say,
        )

        say("PostgreSQL: claim -> finish and change propagation, a cluster of our own")
        figures.postgresql = postgresql.measure(
            folder / "postgresql",
            repeats=1 if args.quick else postgresql.REPEATS,
            changes=5 if args.quick else postgresql.CHANGES,
            say=say,
        )

        for rows, path in lists.items():
            say(f"row activation and opening the list, {rows:,} rows (headless app)")
            timings = app_timing.measure(path, rows)
            say(
                f"  activation {app_timing.summary(timings.activations_ms)}; "
                f"open {app_timing.summary(timings.opens_ms)}"
            )
            figures.app[rows] = timings

        for rows, path in lists.items():
            say(f"start-up against a minimal Textual app, and check, {rows:,} rows")
            figures.startup[rows] = startup = terminal.measure_startup(path, rows)
            figures.checks[rows] = terminal.measure_check(path)
            say(
                f"  first paint {terminal.median(startup.ringround_s):.3f} s, minimal app "
                f"{terminal.median(startup.minimal_s):.3f} s; check "
                f"{statistics.median(figures.checks[rows]):.2f} s"
            )
        figures.full_check = terminal.measure_check(lists[BIG], 1, "--full")

        say("terminal traffic and memory, 100,000 rows, real program on a pty")
        figures.traffic = traffic = terminal.measure_traffic(
            lists[USUAL], idle_seconds=10.0 if args.quick else terminal.IDLE_SECONDS, say=say
        )
        say(
            f"  per move {statistics.mean(traffic.move_bytes):.0f} B on average (least redraw "
            f"{statistics.mean(traffic.move_minimal):.0f} B), idle {traffic.idle_bytes} B in "
            f"{traffic.idle_seconds:.0f} s, peak RSS {traffic.peak_rss_mib:.0f} MiB"
        )
        say(f"memory paging through {BIG:,} rows")
        figures.paging = terminal.measure_paging(lists[BIG], BIG)
        say(f"  peak RSS {figures.paging.peak_mib:.0f} MiB")

        say("idle operators against minimal Textual apps")
        for k in crowd:
            figures.idle.append(
                operators.measure_idle(lists[USUAL], USUAL, k, idle_seconds, say=say)
            )
        for rows in (SIZES[0], BIG):
            figures.idle.append(
                operators.measure_idle(lists[rows], rows, crowd[1], idle_seconds, say=say)
            )

        say("row activation while others work")
        for k in crowd:
            figures.load.append(operators.measure_load(lists[USUAL], USUAL, k, k, folder, say=say))
        for rows in (SIZES[0], BIG):
            figures.load.append(
                operators.measure_load(lists[rows], rows, crowd[-1], crowd[-1], folder, say=say)
            )
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    figures.load_after = load_average()
    figures.seconds = time.monotonic() - began
    write_report(figures, args.out)
    if args.dir is not None:
        (folder / KEPT).write_bytes(pickle.dumps(figures))
    say(f"wrote {args.out}")
    return 0 if figures.all_met() else 1


def again(folder: Path | None, parts: list[str], out: Path) -> int:
    """Measure ``parts`` again on the databases of an earlier run in ``folder``."""
    if folder is None or not (folder / KEPT).exists():
        sys.exit("--again needs the --dir of an earlier full run")
    figures: Figures = pickle.loads((folder / KEPT).read_bytes())
    if "throughput" in parts:
        shutil.rmtree(folder / "throughput", ignore_errors=True)
        figures.throughput = throughput.measure(
            folder / "throughput", rows=throughput.ROWS, repeats=throughput.REPEATS
        )
    if "postgresql" in parts:
        figures.postgresql = postgresql.measure(folder / "postgresql")
    if "app" in parts:
        for rows in SIZES:
            figures.app[rows] = app_timing.measure(folder / f"list-{rows}.db", rows)
    if "startup" in parts:
        for rows in SIZES:
            figures.startup[rows] = terminal.measure_startup(folder / f"list-{rows}.db", rows)
    if "check" in parts:
        for rows in SIZES:
            figures.checks[rows] = terminal.measure_check(folder / f"list-{rows}.db")
        figures.full_check = terminal.measure_check(folder / f"list-{BIG}.db", 1, "--full")
    figures.load_after = load_average()
    figures.again = sorted(set(figures.again) | set(parts))
    write_report(figures, out)
    (folder / KEPT).write_bytes(pickle.dumps(figures))
    return 0 if figures.all_met() else 1


if __name__ == "__main__":
    sys.exit(main())
