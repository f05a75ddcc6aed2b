"""Claim → finish throughput: N operator processes work one call list to the end.

For each N, ringround (``storage.locks``) and the bare ``sqlite3`` loop (see
benchmarks/throughput_worker.py) take turns on fresh copies of the same
database in the same folder, ``REPEATS`` pairs of runs (bare, then ringround);
the ratio is the median of the pairs' ratios, so a slow moment of the shared
machine weighs on both runs of its pair alike. Throughput is rows finished per
second of wall time, from the moment all workers are released together until
the last one is done. The worst latency is judged over the transactions that
did work: winning claims and finishes (a refused claim, most of them from
N = 4 on, returns at once and would hide the waits in a percentile). Afterwards the
database must show every row finished exactly once: one attempt per row, no
lock left, ``integrity_check`` ok — and no row won by two workers. The same
workers and the same checks (but SQLite's page check) run on PostgreSQL in
benchmarks/postgresql.py.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import throughput_worker
from benchmarks.databases import build_call_list
from storage.connection import Connection
from storage.database import open_database

SPAWN = multiprocessing.get_context("spawn")
PROCESSES = (1, 2, 4, 8, 16, 32)
REPEATS = 3
ROWS = 1_500  # per run: every worker goes through all of them


@dataclass(frozen=True)
class Run:
    rows_per_s: float
    claims: list[tuple[float, bool]]  # seconds each claim took, and whether it won
    finishes: list[float]  # seconds each finish took
    double_claims: int
    processor_s: float  # the workers' processor time from their start to their end, summed


@dataclass(frozen=True)
class Result:
    processes: int
    rows: int
    ringround: float  # rows per second, median run
    bare: float
    ratio: float  # median over the pairs of ringround / bare
    double_claims: int  # over every run, both kinds
    claim_p50_ms: float
    claim_p99_ms: float
    claim_max_ms: float
    won_p99_ms: float  # claims that won their row
    won_max_ms: float
    finish_p99_ms: float
    finish_max_ms: float
    work_p95_ms: float  # winning claims and finishes together

    @property
    def worst_ms(self) -> float:
        """The longest winning claim or finish: what an operator waits at worst."""
        return max(self.won_max_ms, self.finish_max_ms)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def spawn_workers(
    location: str, processes: int, rows: int, worker: Callable[..., None], outs: list[Path]
) -> list[dict[str, Any]]:
    """Run ``processes`` workers on the database at ``location``; what each reported."""
    start = SPAWN.Barrier(processes)
    ids = list(range(1, rows + 1))
    workers = [
        SPAWN.Process(target=worker, args=(location, f"op{n}", ids, n, start, str(outs[n])))
        for n in range(processes)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(600)
    codes = [process.exitcode for process in workers]
    if codes != [0] * processes:
        raise RuntimeError(f"{location}: a worker failed (exit codes {codes})")
    return [json.loads(out.read_text(encoding="utf-8")) for out in outs]


def tally(reports: list[dict[str, Any]]) -> tuple[Run, list[int]]:
    """The run the workers' reports describe, and the rows they won."""
    wins = [row for report in reports for row in report["wins"]]
    claims = [(seconds, won) for report in reports for seconds, won in report["claims"]]
    finishes = [seconds for report in reports for seconds in report["finishes"]]
    elapsed = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    doubles = len(wins) - len(set(wins))
    processor = sum(r["processor"] for r in reports)
    return Run(len(set(wins)) / elapsed, claims, finishes, doubles, processor), wins


def _run(
    template: Path, folder: Path, processes: int, rows: int, worker: Callable[..., None], tag: str
) -> Run:
    path = folder / f"{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, path)  # the template is closed and checkpointed
    outs = [folder / f"{tag}-{n}.json" for n in range(processes)]
    run, wins = tally(spawn_workers(str(path), processes, rows, worker, outs))
    conn = open_database(path)
    try:
        problems = check_done(conn, rows, wins)
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("integrity_check failed")
    finally:
        conn.close()
    if problems:
        raise AssertionError(f"{path.name}: {'; '.join(problems)}")
    return run


def check_done(conn: Connection, rows: int, wins: list[int]) -> list[str]:
    """What is wrong after a run: every row finished once, the workers' wins as the database's."""

    def one(sql: str) -> object:
        return conn.execute(sql).fetchone()[0]

    problems = []
    if sorted(set(wins)) != list(range(1, rows + 1)):
        problems.append("not every row was finished")
    if one("SELECT count(*) FROM locks"):
        problems.append("locks were left")
    if one("SELECT count(*) FROM attempts") != rows:
        problems.append("attempts != rows")
    if one(
        "SELECT count(*) FROM (SELECT source_id FROM attempts GROUP BY source_id"
        " HAVING count(*) > 1) AS twice"
    ):
        problems.append("a row has two attempts")
    if one("SELECT count(*) FROM call_list_items WHERE processed_at IS NULL"):
        problems.append("a row is not processed")
    return problems


def figures_of(processes: int, rows: int, ours: list[Run], bare: list[Run]) -> Result:
    """The figures of ``repeats`` pairs of runs (ringround's, and the bare loop's)."""
    claims = [seconds for run in ours for seconds, _ in run.claims]
    won = [seconds for run in ours for seconds, won in run.claims if won]
    finishes = [seconds for run in ours for seconds in run.finishes]
    return Result(
        processes=processes,
        rows=rows,
        ringround=statistics.median(run.rows_per_s for run in ours),
        bare=statistics.median(run.rows_per_s for run in bare),
        ratio=statistics.median(
            a.rows_per_s / b.rows_per_s for a, b in zip(ours, bare, strict=True)
        ),
        double_claims=sum(run.double_claims for run in ours + bare),
        claim_p50_ms=percentile(claims, 0.50) * 1000,
        claim_p99_ms=percentile(claims, 0.99) * 1000,
        claim_max_ms=max(claims) * 1000,
        won_p99_ms=percentile(won, 0.99) * 1000,
        won_max_ms=max(won) * 1000,
        finish_p99_ms=percentile(finishes, 0.99) * 1000,
        finish_max_ms=max(finishes) * 1000,
        work_p95_ms=percentile(won + finishes, 0.95) * 1000,
    )


def said(result: Result) -> str:
    """One line of progress about a result."""
    return (
        f"  N={result.processes:2}: ringround {result.ringround:7.0f} rows/s, bare "
        f"{result.bare:7.0f} rows/s ({result.ratio:.0%}); claim p50 {result.claim_p50_ms:.2f} "
        f"ms, p99 {result.claim_p99_ms:.2f} ms (winning claims {result.won_p99_ms:.2f} ms), max "
        f"{result.claim_max_ms:.1f} ms; finish p99 {result.finish_p99_ms:.2f} ms; winning claims "
        f"and finishes p95 {result.work_p95_ms:.2f} ms, worst {result.worst_ms:.1f} ms; double "
        f"claims {result.double_claims}"
    )


def measure(
    folder: Path,
    rows: int,
    processes: tuple[int, ...] = PROCESSES,
    repeats: int = REPEATS,
    say: Callable[[str], None] = print,
) -> list[Result]:
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / "throughput-template.db"
    if not template.exists():
        build_call_list(template, rows, history=False)
    results = []
    for n in processes:
        ours: list[Run] = []
        bare: list[Run] = []
        for repeat in range(repeats):
            bare.append(
                _run(template, folder, n, rows, throughput_worker.bare_worker, f"bare-{n}-{repeat}")
            )
            ours.append(
                _run(
                    template,
                    folder,
                    n,
                    rows,
                    throughput_worker.ringround_worker,
                    f"ringround-{n}-{repeat}",
                )
            )
        found = figures_of(n, rows, ours, bare)
        say(said(found))
        results.append(found)
        for leftover in folder.glob("*-*-*.*"):
            if leftover != template:
                leftover.unlink()
    return results
