"""The PostgreSQL part: claim → finish on a real server, and change propagation on both engines.

The benchmark starts a PostgreSQL cluster of its own (benchmarks/postgres_cluster.py)
on this machine with **every server setting at its default** — ``fsync =
on``, ``synchronous_commit = on``, ``full_page_writes = on``, 128 MB of
shared buffers — and reads back the ones that decide the figures, with the
server's version, for the report. The server and the worker processes share
the machine's cores, as the SQLite figures' workers do.

- Claim → finish: as benchmarks/throughput.py does on SQLite, N worker
  processes go through every row of a fresh copy of one call list, through
  ``storage.locks`` on the PostgreSQL engine (``open_engine(url)``); each
  write transaction takes the writers' advisory lock as every ringround write
  on PostgreSQL does. Against it, in turn and in the same number of
  processes on the same server, the bare loop of one-row UPDATE transactions
  (benchmarks/throughput_worker.py, ``bare_postgres_worker``): the most this
  server commits for the same work, so its physical limit. ``REPEATS`` rounds
  (bare, then ringround), each run on a fresh database made from one
  template (``CREATE DATABASE … TEMPLATE``); the ratio is the median of the
  rounds' ratios of ringround to bare. Afterwards every row must be finished
  exactly once, as on SQLite. Each run also counts the processor time per
  finished row: the server's (its processes, read from /proc, from before
  the workers start until their sessions have ended) and the workers' (from
  the common start to each one's end), which is what sets the pace once the
  server and the workers share the machine's few cores.
  At N = 1 a third kind of run gives the ceiling of ringround's statements:
  one ringround process's work is recorded first (every text its connection
  sent, parameters written in: ``throughput_worker.record_postgres``), then
  each round replays that recording on its own fresh copy of the template,
  one message per claim and one per finish, from bare psycopg
  (``replayed_postgres_worker``): the server's whole share of ringround's
  work, with none of the client's. Its ratio to the bare loop is the most any
  client, however thin, could reach with these statements.
  The template is filled by ``storage.copying.copy_clinic`` from an SQLite
  call list built as the SQLite runs' is (benchmarks/databases.py), so both
  engines work the same rows.
- Change propagation: benchmarks/propagation.py, on an SQLite file and on a
  database of this server.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from benchmarks import propagation, throughput, throughput_worker
from benchmarks.databases import build_call_list
from benchmarks.machine import file_system_of
from benchmarks.postgres_cluster import PostgresServer, start_cluster, why_not_here
from benchmarks.throughput import Result, Run, check_done, figures_of, said, spawn_workers, tally
from storage.copying import copy_clinic
from storage.database import open_database
from storage.engine import open_engine
from storage.policy import default_policy

PROCESSES = (1, 4, 16, 32)
OURS = throughput_worker.ringround_worker
BARE = throughput_worker.bare_postgres_worker
REPLAYED = throughput_worker.replayed_postgres_worker
REPEATS = 3
ROWS = throughput.ROWS
CHANGES = 20  # changes timed from commit to screen, per engine
PROPAGATION_ROWS = 1_000
# The settings the report states, read back from the server.
SHOWN_SETTINGS = (
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "shared_buffers",
    "max_connections",
)


@dataclass(frozen=True)
class Processor:
    """Processor time per finished row, in ms: the server's and the workers'."""

    server_ms: float
    workers_ms: float

    def said(self) -> str:
        """As the report and the progress lines write it: the server's + the workers'."""
        return f"{self.server_ms:.2f} + {self.workers_ms:.2f}"


@dataclass(frozen=True)
class Ceiling:
    """ringround's recorded statements replayed with no application logic, one process."""

    rows_per_s: float  # median run
    bare_rows_per_s: float  # the same rounds' bare loop, median run
    ratio: float  # median over the rounds of replayed / bare
    ours_ratio: float  # median over the rounds of ringround / replayed: what ringround keeps
    processor: Processor


@dataclass
class PostgresFigures:
    version: str = ""  # the server's own words (SELECT version())
    settings: dict[str, str] = field(default_factory=dict)
    data: str = ""  # where the cluster's files were
    throughput: list[Result] = field(default_factory=list)
    # N → (ringround's, the bare loop's), each the median over the runs
    processor: dict[int, tuple[Processor, Processor]] = field(default_factory=dict)
    ceiling: Ceiling | None = None  # at N = 1 (see the module's docstring)
    propagation_ms: dict[str, list[float]] = field(default_factory=dict)  # engine → times
    missing: str = ""  # why nothing was measured, when PostgreSQL could not be run here


def measure(
    folder: Path,
    *,
    rows: int = ROWS,
    processes: tuple[int, ...] = PROCESSES,
    repeats: int = REPEATS,
    changes: int = CHANGES,
    say: Callable[[str], None] = print,
) -> PostgresFigures:
    """Start a cluster, measure both parts (see the module's docstring), remove the cluster."""
    reason = why_not_here()
    if reason is not None:
        say(f"  PostgreSQL not measured: {reason}")
        return PostgresFigures(missing=reason)
    folder.mkdir(parents=True, exist_ok=True)
    server = start_cluster({})
    try:
        figures = _describe(server)
        say(f"  {figures.version}")
        say("  claim -> finish on PostgreSQL, ringround against bare one-row UPDATEs")
        figures.throughput, figures.processor, figures.ceiling = _throughput(
            server, folder, rows, processes, repeats, say
        )
        say(f"  change propagation, {changes} changes per engine (headless app)")
        lists = folder / f"propagation-{PROPAGATION_ROWS}.db"
        if not lists.exists():
            build_call_list(lists, PROPAGATION_ROWS, history=False)
        copy = folder / "propagation-sqlite.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        copy.write_bytes(lists.read_bytes())
        places = {"SQLite": str(copy), "PostgreSQL": _filled(server, lists)}
        for engine, location in places.items():
            times = propagation.measure(location, changes)
            figures.propagation_ms[engine] = times
            say(f"  {engine}: {propagation.summary(times)}")
    finally:
        server.remove()
    return figures


def _describe(server: PostgresServer) -> PostgresFigures:
    import psycopg

    shown = ", ".join(f"current_setting('{name}')" for name in SHOWN_SETTINGS)
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        row = conn.execute(f"SELECT version(), {shown}").fetchone()
    assert row is not None
    settings = dict(zip(SHOWN_SETTINGS, map(str, row[1:]), strict=True))
    return PostgresFigures(version=str(row[0]), settings=settings, data=file_system_of(server.data))


def _filled(server: PostgresServer, call_list: Path) -> str:
    """A new database of ``server`` holding the clinic of the SQLite file ``call_list``."""
    url = server.url(server.new_database())
    engine = open_engine(url)
    source, target = open_database(call_list), engine.connect(create=True)
    try:
        copy_clinic(
            source,
            target,
            shown=(str(call_list), engine.location),
            policy=default_policy(),
            now=engine.now(),
        )
    finally:
        source.close()
        target.close()
    return url


def _throughput(
    server: PostgresServer,
    folder: Path,
    rows: int,
    processes: tuple[int, ...],
    repeats: int,
    say: Callable[[str], None],
) -> tuple[list[Result], dict[int, tuple[Processor, Processor]], Ceiling | None]:
    """Each N's result, its processor time per row (ringround's, the bare loop's), and at
    N = 1 the ceiling of ringround's statements."""
    call_list = folder / f"throughput-{rows}.db"
    if not call_list.exists():
        build_call_list(call_list, rows, history=False)
    template_url = _filled(server, call_list)
    _add_bare_rows(template_url, rows)
    template = template_url.rsplit("/", 1)[1]
    recording = _record(server, template, folder, rows)
    replayed_worker = partial(REPLAYED, str(recording))
    results = []
    processor: dict[int, tuple[Processor, Processor]] = {}
    ceiling = None
    for n in processes:
        ours: list[tuple[Run, float]] = []
        bare: list[tuple[Run, float]] = []
        replayed: list[tuple[Run, float]] = []
        for repeat in range(repeats):
            bare.append(_run(server, template, folder, n, rows, BARE, tag=f"bare-{repeat}"))
            ours.append(_run(server, template, folder, n, rows, OURS, tag=f"ours-{repeat}"))
            if n == 1:
                tag = f"replayed-{repeat}"
                replayed.append(_run(server, template, folder, n, rows, replayed_worker, tag=tag))
        found = figures_of(n, rows, [run for run, _ in ours], [run for run, _ in bare])
        processor[n] = (_per_row(ours, rows), _per_row(bare, rows))
        say(
            f"{said(found)}; processor ms per row (server + workers): ringround "
            f"{processor[n][0].said()}, bare {processor[n][1].said()}"
        )
        results.append(found)
        if replayed:
            ceiling = _ceiling(replayed, bare, ours, rows)
            say(
                f"  N = 1, ringround's statements replayed with no application logic: "
                f"{ceiling.rows_per_s:,.0f} rows/s, {ceiling.ratio:.0%} of bare (ringround "
                f"{ceiling.ours_ratio:.0%} of it); processor ms per row {ceiling.processor.said()}"
            )
    server.drop_database(template)
    recording.unlink()
    return results, processor, ceiling


def _record(server: PostgresServer, template: str, folder: Path, rows: int) -> Path:
    """What one ringround process sends for every row of a fresh copy of ``template``."""
    name = server.new_database(template)
    recording = folder / "postgresql-recording.json"
    try:
        throughput_worker.record_postgres(
            server.url(name), list(range(1, rows + 1)), str(recording)
        )
    finally:
        server.drop_database(name)
    return recording


def _ceiling(
    replayed: list[tuple[Run, float]],
    bare: list[tuple[Run, float]],
    ours: list[tuple[Run, float]],
    rows: int,
) -> Ceiling:
    def ratio(these: list[tuple[Run, float]], those: list[tuple[Run, float]]) -> float:
        pairs = zip(these, those, strict=True)
        return statistics.median(a.rows_per_s / b.rows_per_s for (a, _), (b, _) in pairs)

    return Ceiling(
        rows_per_s=statistics.median(run.rows_per_s for run, _ in replayed),
        bare_rows_per_s=statistics.median(run.rows_per_s for run, _ in bare),
        ratio=ratio(replayed, bare),
        ours_ratio=ratio(ours, replayed),
        processor=_per_row(replayed, rows),
    )


def _per_row(runs: list[tuple[Run, float]], rows: int) -> Processor:
    """The median processor time per finished row of ``runs`` (each with the server's seconds)."""
    return Processor(
        server_ms=statistics.median(server for _, server in runs) / rows * 1000,
        workers_ms=statistics.median(run.processor_s for run, _ in runs) / rows * 1000,
    )


def _add_bare_rows(url: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(throughput_worker.BARE_ROWS)
        conn.execute(
            f"INSERT INTO {throughput_worker.BARE_TABLE} (id) SELECT generate_series(1, %s)",
            (rows,),
        )


def _run(
    server: PostgresServer,
    template: str,
    folder: Path,
    processes: int,
    rows: int,
    worker: Callable[..., None],
    *,
    tag: str,
) -> tuple[Run, float]:
    """One run, and the processor seconds the server spent on it."""
    name = server.new_database(template)
    url = server.url(name)
    outs = [folder / f"postgresql-{tag}-{processes}-{n}.json" for n in range(processes)]
    bare = worker is BARE
    try:
        running = len(server.processes())
        before = server.processor_seconds()
        reports = spawn_workers(url, processes, rows, worker, outs)
        spent = server.processor_seconds_settled(running) - before
        run, wins = tally(reports)
        problems = _bare_problems(url, rows, wins) if bare else _problems(url, rows, wins)
        if problems:
            raise AssertionError(f"PostgreSQL, {tag}, N = {processes}: {'; '.join(problems)}")
    finally:
        server.drop_database(name)
        for out in outs:
            out.unlink(missing_ok=True)
    return run, spent


def _problems(url: str, rows: int, wins: list[int]) -> list[str]:
    conn = open_engine(url).connect()
    try:
        return check_done(conn, rows, wins)
    finally:
        conn.close()


def _bare_problems(url: str, rows: int, wins: list[int]) -> list[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {throughput_worker.BARE_TABLE}"
            " WHERE done_at IS NULL OR claimed_by IS NULL"
        ).fetchone()
    problems = []
    if sorted(set(wins)) != list(range(1, rows + 1)):
        problems.append("not every row was finished")
    if row is None or row[0]:
        problems.append("a bare row was left")
    return problems
