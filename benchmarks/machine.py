"""What the figures were measured on (CPU, cores, versions, date, load), and what a process
has used of the processor (/proc)."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")  # clock ticks a second: the unit of /proc's processor times


def process_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (proc(5)): [0] the state,
    [1] the parent, [11] to [14] utime, stime, cutime and cstime in ticks.

    OSError once the process has ended.
    """
    text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """Processor time the process has used, all its threads; with ``reaped`` also that of
    its children that have ended and that it has waited for."""
    fields = process_stat(pid)
    return sum(int(value) for value in fields[11 : 15 if reaped else 13]) / TICK


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    system: str
    python: str
    sqlite: str
    textual: str
    date: str
    disk: str  # file system of the folder the databases were in

    def lines(self) -> list[str]:
        return [
            f"- CPU: {self.cpu}, {self.cores} cores (`nproc`), {self.memory_gib:.0f} GiB RAM",
            f"- System: {self.system}",
            f"- Python {self.python}, SQLite {self.sqlite}, Textual {self.textual}",
            f"- Databases on: {self.disk}",
            f"- Date: {self.date}",
        ]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def file_system_of(folder: Path) -> str:
    """``folder``, with the file system and device it is on."""
    target = os.path.realpath(folder)
    best = ("", "?", "?")
    try:
        for line in Path("/proc/mounts").read_text(encoding="utf-8").splitlines():
            device, point, kind = line.split()[:3]
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best[0]):
                best = (point, kind, device)
    except OSError:
        pass
    return f"{folder} ({best[1]} on {best[2]}, mounted at {best[0]})"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def describe(folder: Path) -> Machine:
    return Machine(
        cpu=_cpu(),
        cores=len(os.sched_getaffinity(0)),
        memory_gib=_memory_gib(),
        system=f"{platform.system()} {platform.release()}",
        python=sys.version.split()[0],
        sqlite=sqlite3.sqlite_version,
        textual=version("textual"),
        date=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        disk=file_system_of(folder),
    )
