"""``ringround check``: is the policy valid and is the database fit for shared work?

Each finding is one plain sentence for the clinic's administrator, saying
what is wrong and how to fix it. Levels: ``ok``; ``warning`` (works, but may
cause trouble when several Unix users share the file); ``problem`` (operators
cannot work safely). :func:`exit_status` turns findings into the command's
exit code: 0 without problems (warnings allowed), 2 when the file is not a
ringround database at all, 1 for other problems.

The check changes nothing: the database is opened through SQLite only (never
with ``open()``, see notes/sqlite.md), never created, never switched to WAL
or upgraded, and the write test is ``BEGIN IMMEDIATE`` followed by ``ROLLBACK``.
"""

from __future__ import annotations

import grp
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from storage.database import NETWORK_FILE_SYSTEMS, file_system_type
from storage.policy import Policy
from storage.roles import login_name
from storage.schema import APPLICATION_ID, MIGRATIONS

OK = "ok"
WARNING = "warning"
PROBLEM = "problem"
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Finding:
    level: str  # OK, WARNING or PROBLEM
    text: str
    bad_input: bool = False  # the file given is not a ringround database (exit code 2)


def exit_status(findings: list[Finding]) -> int:
    if any(f.bad_input for f in findings):
        return 2
    return 1 if any(f.level == PROBLEM for f in findings) else 0


def check(path: str | Path, policy: Policy) -> list[Finding]:
    """Every finding about the policy (already loaded) and the database at ``path``."""
    findings = _policy(policy)
    shown = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return [*findings, Finding(PROBLEM, (
            f"There is no database at {shown}; give the right file with --db, or make one with "
            "'ringround demo' or an import."), bad_input=True)]
    except OSError as error:
        return [*findings, Finding(PROBLEM, (
            f"{shown} cannot be examined ({error.strerror}); ask the administrator for access "
            "to its folder."))]
    if not stat.S_ISREG(info.st_mode):
        return [*findings, Finding(PROBLEM, (
            f"{shown} is not a file (it is a folder or a device); give the database file "
            "with --db."), bad_input=True)]
    real = os.path.realpath(path)  # SQLite puts -wal and -shm next to the real file
    folder = os.path.dirname(real)
    findings += _file_system(shown, folder)
    database = _database(real, shown)
    findings += database
    if any(f.bad_input for f in database):
        return findings
    return findings + [f for f in _permissions(real, shown, folder) if f not in findings]


def _policy(policy: Policy) -> list[Finding]:
    findings = [Finding(OK, f"The policy ({policy.source}) is valid.")]
    telephony = policy.telephony
    if telephony.enabled and not os.access(telephony.secret_file, os.R_OK):
        findings.append(Finding(PROBLEM, (
            f"Telephony is on, but you cannot read the PBX password file "
            f"{telephony.secret_file}; create it readable by the operators' group, or set "
            "[telephony] enabled = false.")))
    return findings


def _file_system(shown: str, folder: str) -> list[Finding]:
    fs_type = file_system_type(Path(folder))
    if fs_type in NETWORK_FILE_SYSTEMS:
        return [Finding(PROBLEM, (
            f"{shown} is on a network file system ({fs_type}), where saves can be lost; move "
            "it to the server's own disk and change [database] path."))]
    return [Finding(OK, f"{shown} is on a local file system ({fs_type}).")]


def _connect(real: str) -> sqlite3.Connection:
    # mode=rw: never create the file; SQLite falls back to read-only where it must.
    conn = sqlite3.connect(f"file:{quote(real)}?mode=rw", uri=True, isolation_level=None,
                           timeout=PROBE_TIMEOUT_S)
    conn.execute(f"PRAGMA busy_timeout = {int(PROBE_TIMEOUT_S * 1000)}")
    return conn


def _database(real: str, shown: str) -> list[Finding]:
    """What SQLite says: is it ringround's, its version, WAL, integrity, can we write."""
    try:
        conn = _connect(real)
    except sqlite3.Error as error:
        return [_open_failure(real, shown, error)]
    try:
        try:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.Error as error:
            return [_open_failure(real, shown, error)]
        if application_id != APPLICATION_ID:
            what = "an empty file" if application_id == 0 and objects == 0 else (
                "an SQLite file of another program")
            return [Finding(PROBLEM, (
                f"{shown} is {what}, not a ringround database; check the path given with "
                "--db or in [database] path."), bad_input=True)]
        findings = [_version(shown, version)]
        try:
            findings += _journal_and_integrity(conn, shown)
        except sqlite3.DatabaseError as error:
            return [*findings, Finding(PROBLEM, (
                f"{shown} is damaged ({error}); stop every ringround and restore the latest "
                "backup."))]
        findings.append(_write_probe(conn, shown))
        return findings
    finally:
        conn.close()


def _open_failure(real: str, shown: str, error: sqlite3.Error) -> Finding:
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return Finding(WARNING, (
            f"{shown} is busy: another program has held it for over {PROBE_TIMEOUT_S:g} "
            "seconds; run the check again in a minute."))
    if "unable to open" in text:
        folder = os.path.dirname(real)
        if _read_only_file_system(folder):
            return _read_only_finding(shown)
        if not (os.access(real, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)):
            return Finding(PROBLEM, (
                f"{shown} cannot be opened because it or its folder is read-only for you (a "
                "read-only disk, or missing permissions), and SQLite must write files next to "
                "it; make the folder and file writable by the operators' group."))
        return Finding(PROBLEM, f"{shown} cannot be opened ({error}); check the file and folder.")
    return Finding(PROBLEM, (
        f"{shown} is damaged or is not a ringround database; check the path, or stop every "
        "ringround and restore the latest backup."), bad_input=True)


def _read_only_file_system(folder: str) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _read_only_finding(shown: str) -> Finding:
    return Finding(PROBLEM, (
        f"{shown} is on a file system mounted read-only, so nothing can be saved; remount it "
        "read-write or move the database to a writable disk."))


def _version(shown: str, version: int) -> Finding:
    current = len(MIGRATIONS)
    if version > current:
        return Finding(PROBLEM, (
            f"{shown} was made by a newer ringround (format {version}, this program knows "
            f"{current}); update ringround on this server."))
    if version < current:
        return Finding(WARNING, (
            f"{shown} is in an older format ({version}); ringround will upgrade it to format "
            f"{current} the next time it opens it."))
    return Finding(OK, f"{shown} is a ringround database (format {version}).")


def _journal_and_integrity(conn: sqlite3.Connection, shown: str) -> list[Finding]:
    findings = []
    mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    if mode == "wal":
        findings.append(Finding(OK, f"{shown} is in WAL mode."))
    else:
        findings.append(Finding(PROBLEM, (
            f"{shown} is in {mode} journal mode instead of WAL, so operators would block each "
            "other; start ringround on it once (it switches the file to WAL) and check again.")))
    try:
        result = [str(row[0]) for row in conn.execute("PRAGMA integrity_check(5)").fetchall()]
    except sqlite3.DatabaseError as error:
        result = [str(error)]
    if result == ["ok"]:
        findings.append(Finding(OK, f"{shown} passed SQLite's integrity check."))
    else:
        findings.append(Finding(PROBLEM, (
            f"{shown} is damaged (integrity check: {result[0]}); stop every ringround and "
            "restore the latest backup.")))
    return findings


def _write_probe(conn: sqlite3.Connection, shown: str) -> Finding:
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as error:
        text = str(error).lower()
        if "locked" in text or "busy" in text:
            return Finding(WARNING, (
                f"{shown} is busy: another program has been saving for over "
                f"{PROBE_TIMEOUT_S:g} seconds; run the check again in a minute."))
        if "readonly" in text or "read-only" in text:
            return Finding(PROBLEM, (
                f"{shown} is read-only for you, so nothing could be saved; make it writable "
                "by the operators' group (chmod g+rw) or move it off a read-only disk."))
        return Finding(PROBLEM, f"Saving to {shown} failed ({error}); check the disk.")
    return Finding(OK, f"You can save to {shown}.")


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _permissions(real: str, shown: str, folder: str) -> list[Finding]:
    """The file, its folder and any -wal/-shm: writable by me, and by the operators' group."""
    if _read_only_file_system(folder):  # chmod cannot help there
        return [_read_only_finding(shown)]
    user = login_name()
    findings: list[Finding] = []
    if not os.access(real, os.R_OK | os.W_OK):
        findings.append(Finding(PROBLEM, (
            f"You ({user}) may not write {shown}; give the operators' group write access "
            f"(chgrp GROUP {shown}; chmod g+rw {shown}).")))
    if not os.access(folder, os.W_OK | os.X_OK):
        findings.append(Finding(PROBLEM, (
            f"You ({user}) may not create files in {folder}, which SQLite needs for the -wal "
            f"and -shm files; give the operators' group write access (chmod g+rwx {folder}).")))
    for suffix in ("-wal", "-shm"):
        companion = real + suffix
        if os.path.exists(companion) and not os.access(companion, os.R_OK | os.W_OK):
            findings.append(Finding(PROBLEM, (
                f"You ({user}) may not write {companion}, so you cannot save; give the "
                f"operators' group write access (chmod g+rw {companion}).")))
    findings += _group_access(real, shown, folder)
    if not any(f.level != OK for f in findings):
        findings.insert(0, Finding(OK, f"You ({user}) may read and write {shown} and its folder."))
    return findings


def _group_access(real: str, shown: str, folder: str) -> list[Finding]:
    """Warnings for what other operators (other Unix users in the group) could not do."""
    findings = []
    for target, label in ((real, shown), (real + "-wal", shown + "-wal"),
                          (real + "-shm", shown + "-shm")):
        try:
            mode = os.stat(target)
        except FileNotFoundError:
            continue
        if mode.st_mode & (stat.S_IRGRP | stat.S_IWGRP) != stat.S_IRGRP | stat.S_IWGRP:
            findings.append(Finding(WARNING, (
                f"{label} is not writable by its group ({_group(mode.st_gid)}, mode "
                f"{stat.filemode(mode.st_mode)}); if operators log in as different users, run "
                f"chmod g+rw {label}.")))
    folder_mode = os.stat(folder)
    needed = stat.S_IWGRP | stat.S_IXGRP
    if folder_mode.st_mode & needed != needed:
        findings.append(Finding(WARNING, (
            f"The folder {folder} is not writable by its group ({_group(folder_mode.st_gid)}); "
            f"if operators log in as different users, run chmod g+rwx {folder}.")))
    elif not folder_mode.st_mode & stat.S_ISGID:
        findings.append(Finding(WARNING, (
            f"New files in {folder} (such as the -wal file) get their creator's own group, "
            f"which other operators may not write; run chmod g+s {folder}.")))
    return findings
