"""Run every benchmark and write BENCHMARKS.md: ``python -m benchmarks`` (about 4–5 minutes).

Options: ``--out FILE`` (default BENCHMARKS.md beside this folder), ``--dir
FOLDER`` for the databases (default: a new folder under the system's temporary
folder; all runs of one benchmark share it, so ringround and the bare loop use
the same disk), ``--quick`` for a short trial run (fewer repeats and moves, a
10-second "idle minute"; its figures are not for the record).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import app_timing, terminal, throughput
from benchmarks.databases import build_call_list
from benchmarks.machine import describe, load_average
from benchmarks.report import Figures, write_report

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    folder = args.dir or Path(tempfile.mkdtemp(prefix="ringround-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    figures = Figures(machine=describe(folder), load_before=load_average(), quick=args.quick)

    def say(text: str) -> None:
        print(f"[{time.monotonic() - began:5.0f} s] {text}", flush=True)

    if args.quick:
        app_timing.MOVES_DOWN, app_timing.MOVES_UP, app_timing.OPENS = 40, 20, 2
        terminal.MOVES, terminal.STARTS = 40, 3
    try:
        say("building the databases")
        small, big, demo = folder / "list-1000.db", folder / "list-100000.db", folder / "demo.db"
        build_call_list(small, 1_000)
        build_call_list(big, 100_000)
        terminal.make_demo(demo)

        say("claim -> finish throughput, ringround against the bare sqlite3 loop")
        figures.throughput = throughput.measure(
            folder / "throughput", rows=throughput.ROWS,
            repeats=1 if args.quick else throughput.REPEATS,
            say=say)

        for rows, path in ((1_000, small), (100_000, big)):
            say(f"row activation and opening the list, {rows:,} rows (headless app)")
            timings = app_timing.measure(path, rows)
            say(f"  activation {app_timing.summary(timings.activations_ms)}; "
                f"open {app_timing.summary(timings.opens_ms)}")
            figures.app[rows] = timings

        say("terminal traffic and memory, 100,000 rows, real program on a pty")
        figures.traffic = terminal.measure_traffic(
            big, idle_seconds=10.0 if args.quick else terminal.IDLE_SECONDS, say=say)
        traffic = figures.traffic
        say(f"  per move {statistics.mean(traffic.move_bytes):.0f} B on average, per refresh "
            f"{statistics.mean(traffic.refresh_bytes):.0f} B, idle {traffic.idle_bytes} B in "
            f"{traffic.idle_seconds:.0f} s, peak RSS {traffic.peak_rss_mib:.0f} MiB")

        say("start-up against a minimal Textual app")
        figures.startup = terminal.measure_startup(demo, 0)
        say(f"  ringround {terminal.median(figures.startup.ringround_s):.3f} s, minimal app "
            f"{terminal.median(figures.startup.minimal_s):.3f} s")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    figures.load_after = load_average()
    figures.seconds = time.monotonic() - began
    write_report(figures, args.out)
    say(f"wrote {args.out}")
    return 0 if figures.all_met() else 1


if __name__ == "__main__":
    sys.exit(main())
