"""``ringround check``: is the policy valid and is the database fit for shared work?

Each finding is one plain sentence for the clinic's administrator, saying
what is wrong and how to fix it. Levels: ``ok``; ``warning`` (works, but may
cause trouble when several Unix users share the file); ``problem`` (operators
cannot work safely). :func:`exit_status` turns findings into the command's
exit code: 0 without problems (warnings allowed), 2 when the file is not a
ringround database at all, 1 for other problems.

This module checks an SQLite file; a database on a PostgreSQL server is
storage/server_health.py's, which shares the policy's findings and the
schema version's wording from here (it says which checks apply to which engine).

The check changes nothing: the database is opened through SQLite only (never
with ``open()``, see docs/sqlite.md), never created, never switched to WAL
or upgraded, and the write test is ``BEGIN IMMEDIATE`` followed by ``ROLLBACK``.
"""

from __future__ import annotations

import grp
import os
import pwd
import sqlite3
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from storage import admin_log
from storage.admin_log import LogTarget, field
from storage.audit import Entry, verify_chain
from storage.connection import Connection
from storage.database import (
    DISK_FULL_BELOW,
    NETWORK_FILE_SYSTEMS,
    StorageError,
    bad_path,
    file_system_type,
    file_uri,
    read_only_connection,
    read_only_file_system,
)
from storage.file_modes import unwritable_companion
from storage.i18n import _, decimal_number, ngettext
from storage.policy import Policy
from storage.roles import login_name
from storage.schema import APPLICATION_ID, MIGRATIONS

OK = "ok"
WARNING = "warning"
PROBLEM = "problem"
PROBE_TIMEOUT_S = 2.0
# Free bytes on the database's disk below which saves soon fail (below
# storage.database.DISK_FULL_BELOW they do).
DISK_LOW_BELOW = 64_000_000
SHOWN_PARTS = 5  # missing parts of the schema named in the finding


@dataclass(frozen=True)
class Finding:
    level: str  # OK, WARNING or PROBLEM
    text: str
    bad_input: bool = False  # the file given is not a ringround database (exit code 2)


def exit_status(findings: list[Finding]) -> int:
    if any(f.bad_input for f in findings):
        return 2
    return 1 if any(f.level == PROBLEM for f in findings) else 0


def check(
    path: str | Path,
    policy: Policy,
    *,
    found: str = "",
    noted_audit: tuple[int, str] | None = None,
    full: bool = False,
) -> list[Finding]:
    """Every finding about the policy (already loaded) and the database at ``path``.

    ``full`` adds SQLite's integrity check, which reads every page of the file
    (seconds at a million rows; the app runs the quicker ``quick_check`` at each
    start, off its first paint). Without it the check takes well under a second
    whatever the database's size.

    ``found`` says which policy file applies and how it was found (storage.policy_files);
    ``noted_audit`` is an audit entry's (id, hash) that an earlier check printed
    and the administrator kept: the trail must still hold it unchanged.
    """
    findings = policy_findings(policy, found, _operators_group(path))
    shown = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return [
            *findings,
            Finding(
                PROBLEM,
                (
                    _(
                        "There is no database at {shown}; give the right file with --db, or make "
                        "one with "
                        "'ringround demo' or an import."
                    ).format(shown=shown)
                ),
                bad_input=True,
            ),
        ]
    except OSError as error:
        named = bad_path(error, shown)
        if named is not None:
            return [*findings, Finding(PROBLEM, str(named), bad_input=True)]
        return [
            *findings,
            Finding(
                PROBLEM,
                (
                    _(
                        "{shown} cannot be examined ({strerror}); ask the administrator for "
                        "access to its "
                        "folder."
                    ).format(shown=shown, strerror=error.strerror)
                ),
            ),
        ]
    if not stat.S_ISREG(info.st_mode):
        return [
            *findings,
            Finding(
                PROBLEM,
                (
                    _(
                        "{shown} is not a file (it is a folder or a device); give the database "
                        "file with "
                        "--db."
                    ).format(shown=shown)
                ),
                bad_input=True,
            ),
        ]
    real = os.path.realpath(path)  # SQLite puts -wal and -shm next to the real file
    folder = os.path.dirname(real)
    findings += _file_system(shown, folder)
    space = _free_space(shown, folder)
    findings += space
    database = _database(
        real,
        shown,
        policy,
        noted_audit,
        disk_full=any(f.level == PROBLEM for f in space),
        full=full,
    )
    findings += database
    if any(f.bad_input for f in database):
        return findings
    return findings + [f for f in _permissions(real, shown, folder) if f not in findings]


def policy_group(policy: Policy) -> str:
    """The operators' group for a database on a server: the policy file's (docs/deploy.md)."""
    try:
        return _group(os.stat(policy.source).st_gid)
    except OSError:
        return "GROUP"


def _operators_group(path: str | Path) -> str:
    """The operators' group as deploy.md sets it up: the group of the database's folder."""
    try:
        return _group(os.stat(os.path.dirname(os.path.realpath(path))).st_gid)
    except OSError:
        return "GROUP"


def policy_findings(policy: Policy, found: str, group: str) -> list[Finding]:
    """The policy, the PBX password file and the administrator's log: the same on both engines."""
    findings = [
        Finding(
            OK, found or _("The policy ({source}) is valid.").format(source=policy.shown_source)
        )
    ]
    if os.path.isfile(policy.source):  # not the built-in defaults
        findings += _policy_file(policy.source, group)
    if policy.telephony.enabled:
        findings += _secret_file(policy.telephony.secret_file, group)
    findings.append(_admin_log(policy.log, group))
    return findings


def _admin_log(target: LogTarget, group: str) -> Finding:
    """Can this user's ringround write the administrator's log where [log] says?"""
    if target.to == admin_log.OFF:
        return Finding(OK, _('The administrator\'s log is off ([log] to = "off").'))
    if target.to == admin_log.SYSLOG:
        socket_path = target.syslog_socket
        if not _is_socket(socket_path):
            return Finding(
                WARNING,
                _(
                    "No system log listens at {socket}, so ringround's log of errors, lock "
                    "takeovers and refused logins is lost; start systemd-journald or rsyslog, or "
                    "set "
                    '[log] to = "file".'
                ).format(socket=socket_path),
            )
        return Finding(
            OK,
            _(
                "The administrator's log goes to the system log ({socket}); read it "
                "with journalctl -t ringround."
            ).format(socket=socket_path),
        )
    path = target.file
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return Finding(
            WARNING,
            _(
                "The folder of the log file {path} does not exist, so ringround's log is lost; run "
                "install -d -g {group} -m 2770 {folder}."
            ).format(path=path, group=group, folder=folder),
        )
    if os.path.isdir(path):
        return Finding(
            WARNING,
            _(
                "The log file {path} is not a file but a folder, so ringround's log is lost; set "
                '[log] file to a file in it, such as file = "{example}".'
            ).format(path=path, example=os.path.join(path, "ringround.log")),
        )
    if (os.path.exists(path) and not os.access(path, os.W_OK)) or not os.access(
        folder, os.W_OK | os.X_OK
    ):
        return Finding(
            WARNING,
            _(
                "You may not write the log file {path}, so your ringround's log lines are lost; "
                "run chgrp -R {group} {folder}; chmod 2770 {folder}; chmod 660 {path}*."
            ).format(path=path, group=group, folder=folder),
        )
    return Finding(OK, _("The administrator's log goes to {path}.").format(path=path))


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _policy_file(source: str, group: str) -> list[Finding]:
    """Every operator must read the policy; no operator may change it (roles are in it)."""
    info = os.stat(source)
    mode = stat.filemode(info.st_mode)
    findings = []
    if not info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        findings.append(
            Finding(
                PROBLEM,
                (
                    _(
                        "Only its owner may read the policy {source} (mode {mode}), so operators' "
                        "apps "
                        "cannot start; run chgrp {group} {source}; chmod 640 {source}."
                    ).format(source=source, mode=mode, group=group)
                ),
            )
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = _("everyone") if info.st_mode & stat.S_IWOTH else _("its group")
        findings.append(
            Finding(
                WARNING,
                (
                    _(
                        "The policy {source} may be changed by {who} (mode {mode}), so an "
                        "operator could "
                        "make themselves a supervisor; run chmod go-w {source}."
                    ).format(source=source, who=who, mode=mode)
                ),
            )
        )
    return findings


def _secret_file(secret: str, group: str) -> list[Finding]:
    """The PBX password: readable by the operators' group, by nobody else (as the app demands)."""
    if not os.access(secret, os.R_OK):
        return [
            Finding(
                PROBLEM,
                (
                    _(
                        "Telephony is on, but you cannot read the PBX password file {secret}; "
                        "create it "
                        "readable by the operators' group (chgrp {group} {secret}; chmod 640 "
                        "{secret}), or "
                        "set [telephony] enabled = false."
                    ).format(secret=secret, group=group)
                ),
            )
        ]
    info = os.stat(secret)
    if not stat.S_ISREG(info.st_mode):
        return [
            Finding(
                PROBLEM,
                (
                    _(
                        "The PBX password file {secret} is not a plain file; put the password "
                        "alone on one "
                        "line in a plain file there."
                    ).format(secret=secret)
                ),
            )
        ]
    if info.st_mode & stat.S_IRWXO:
        return [
            Finding(
                PROBLEM,
                (
                    _(
                        "Every user of this server may read or change the PBX password file "
                        "{secret} (mode "
                        "{mode}), so ringround refuses it; run chmod 640 {secret}."
                    ).format(secret=secret, mode=stat.filemode(info.st_mode))
                ),
            )
        ]
    if not info.st_mode & stat.S_IRGRP:
        return [
            Finding(
                WARNING,
                (
                    _(
                        "Only {owner} may read the PBX password file {secret}, so other operators "
                        "cannot "
                        "place PBX calls; run chgrp {group} {secret}; chmod 640 {secret}."
                    ).format(owner=_owner(info.st_uid), secret=secret, group=group)
                ),
            )
        ]
    return [
        Finding(
            OK,
            (
                _(
                    "The PBX password file {secret} is readable by its group ({group}) and by "
                    "nobody "
                    "else."
                ).format(secret=secret, group=_group(info.st_gid))
            ),
        )
    ]


def _file_system(shown: str, folder: str) -> list[Finding]:
    fs_type = file_system_type(Path(folder))
    if fs_type in NETWORK_FILE_SYSTEMS:
        return [
            Finding(
                PROBLEM,
                (
                    _(
                        "{shown} is on a network file system ({fs_type}), where saves can be "
                        "lost; move it "
                        "to the server's own disk and change [database] path."
                    ).format(shown=shown, fs_type=fs_type)
                ),
            )
        ]
    return [
        Finding(
            OK,
            _("{shown} is on a local file system ({fs_type}).").format(
                shown=shown, fs_type=fs_type
            ),
        )
    ]


def _free_space(shown: str, folder: str) -> list[Finding]:
    """A full disk fails every save (SQLite needs room in the -wal file); a nearly full one soon."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return []
    free = info.f_bavail * info.f_frsize  # what a user who is not root may still use
    megabytes = free / 1_000_000
    if free < DISK_FULL_BELOW:
        return [
            Finding(
                PROBLEM,
                (
                    _(
                        "The disk holding {shown} is full ({free} MB free), so operators "
                        "cannot save "
                        "calls; free some space on it (old backups, logs) before work goes on."
                    ).format(shown=shown, free=decimal_number(megabytes))
                ),
            )
        ]
    if free < DISK_LOW_BELOW:
        return [
            Finding(
                WARNING,
                (
                    _(
                        "The disk holding {shown} is nearly full ({free} MB free); free some "
                        "space on "
                        "it before operators' saves fail."
                    ).format(shown=shown, free=decimal_number(megabytes))
                ),
            )
        ]
    return [
        Finding(
            OK,
            _("The disk holding {shown} has {free} MB free.").format(
                shown=shown, free=decimal_number(megabytes)
            ),
        )
    ]


def _connect(real: str, writable: bool) -> sqlite3.Connection:
    if not writable:
        # Read strictly: a reader's -wal and -shm files could stop the operators; the
        # permission findings say what is wrong.
        return read_only_connection(real, timeout_ms=int(PROBE_TIMEOUT_S * 1000))
    # mode=rw: never create the file.
    conn = sqlite3.connect(
        file_uri(real, "mode=rw"), uri=True, isolation_level=None, timeout=PROBE_TIMEOUT_S
    )
    conn.execute(f"PRAGMA busy_timeout = {int(PROBE_TIMEOUT_S * 1000)}")
    return conn


def _database(
    real: str,
    shown: str,
    policy: Policy,
    noted_audit: tuple[int, str] | None,
    *,
    disk_full: bool,
    full: bool,
) -> list[Finding]:
    """What SQLite says: ringround's? its version, WAL, integrity, the audit chain, can we write.

    On a full disk the write probe is left out: starting a transaction needs no
    room, so it would pass although no save can.
    """
    writable = os.access(real, os.W_OK)
    try:
        conn = _connect(real, writable)
    except sqlite3.Error as error:
        return [_open_failure(real, shown, error, disk_full=disk_full)]
    except StorageError as error:
        return [Finding(PROBLEM, str(error))]
    try:
        try:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.Error as error:
            return [_open_failure(real, shown, error, disk_full=disk_full)]
        if application_id != APPLICATION_ID:
            what = (
                _("an empty file")
                if application_id == 0 and objects == 0
                else (_("an SQLite file of another program"))
            )
            return [
                Finding(
                    PROBLEM,
                    (
                        _(
                            "{shown} is {what}, not a ringround database; check the path given "
                            "with --db or "
                            "in [database] path."
                        ).format(shown=shown, what=what)
                    ),
                    bad_input=True,
                )
            ]
        findings = [version_finding(shown, version)]
        try:
            findings += _journal_and_integrity(conn, shown, writable, full)
        except sqlite3.DatabaseError as error:
            return [
                *findings,
                Finding(
                    PROBLEM,
                    (
                        _(
                            "{shown} is damaged ({error}); stop every ringround and restore the "
                            "latest "
                            "backup."
                        ).format(shown=shown, error=error)
                    ),
                ),
            ]
        if version == len(MIGRATIONS) and all(f.level == OK for f in findings):
            findings.append(_schema(conn, shown))
            findings += audit_trail(conn, policy, noted_audit)
        if writable and not disk_full:
            findings.append(_write_probe(conn, real, shown))
        return findings
    finally:
        conn.close()


def _schema(conn: sqlite3.Connection, shown: str) -> Finding:
    """Does the file hold every table, column, index and trigger of its format?"""
    # Imported here: only the check needs sqlite-utils (export and import load this module).
    from storage.schema_parts import missing_parts

    missing = missing_parts(conn)
    if not missing:
        return Finding(
            OK,
            _("{shown} has every table, column, index and trigger of its format.").format(
                shown=shown
            ),
        )
    shown_parts = ", ".join(missing[:SHOWN_PARTS])
    if len(missing) > SHOWN_PARTS:
        shown_parts += _(" and {count} more").format(count=len(missing) - SHOWN_PARTS)
    return Finding(
        PROBLEM,
        _(
            "{shown} lacks parts of its format ({parts}): another program or a person changed it; "
            "stop every ringround and restore the latest backup."
        ).format(shown=shown, parts=shown_parts),
    )


def audit_trail(conn: Connection, policy: Policy, noted: tuple[int, str] | None) -> list[Finding]:
    """Is every audit entry still as written, in its place, none removed (storage.audit)?"""

    def describe(entry: Entry) -> str:
        at = datetime.fromtimestamp(entry.at, policy.timezone).strftime("%Y-%m-%d %H:%M")
        return f"{entry.id} ({at}, {field(entry.operator)}, {field(entry.event)})"

    try:
        report = verify_chain(conn, describe)
        kept = (
            None
            if noted is None
            else conn.execute("SELECT hash FROM audit WHERE id = ?", (noted[0],)).fetchone()
        )
    except (sqlite3.Error, StorageError) as error:
        return [
            Finding(
                PROBLEM,
                _(
                    "The audit trail could not be read ({error}); stop every "
                    "ringround and restore the latest backup."
                ).format(error=error),
            )
        ]
    if report.problem is not None:
        findings = [
            Finding(
                PROBLEM,
                ngettext(
                    "The audit trail was tampered with: {problem}; the {count} entry before that "
                    "is "
                    "intact. Compare with the latest backup (docs/audit.md).",
                    "The audit trail was tampered with: {problem}; the {count} entries before "
                    "that are "
                    "intact. Compare with the latest backup (docs/audit.md).",
                    report.entries,
                ).format(problem=report.problem, count=report.entries),
            )
        ]
    elif report.head is None:
        findings = [Finding(OK, _("The audit trail is empty."))]
    else:
        findings = [
            Finding(
                OK,
                ngettext(
                    "The audit trail is intact: {count} entry; the newest, {entry}, has the hash "
                    "{hash}. "
                    "Keep this line away from the server and compare later with 'ringround check "
                    "--audit-entry {id}:{hash}' (docs/audit.md).",
                    "The audit trail is intact: {count} entries; the newest, {entry}, has the hash "
                    "{hash}. Keep this line away from the server and compare later with "
                    "'ringround check "
                    "--audit-entry {id}:{hash}' (docs/audit.md).",
                    report.entries,
                ).format(
                    count=report.entries,
                    entry=describe(report.head),
                    hash=report.head.hash,
                    id=report.head.id,
                ),
            )
        ]
    if report.unheld is not None:
        findings.append(_unheld_ids(*report.unheld))
    if noted is not None:
        findings.append(_noted_entry(noted, None if kept is None else str(kept[0])))
    return findings


def _unheld_ids(first: int, last: int) -> Finding:
    """Ids a PostgreSQL server gave out beyond the newest entry (storage.audit.ChainReport)."""
    if first == last:
        said = _(
            "Audit id {first} was given out but holds no entry: PostgreSQL skips ids after a "
            "server crash or a switch to the standby, and for saves that did not complete; if "
            "none of that happened, the newest entry was deleted: compare with the entry noted "
            "last (--audit-entry, docs/audit.md)."
        )
    else:
        said = _(
            "Audit ids {first} to {last} were given out but hold no entry: PostgreSQL skips "
            "ids after a server crash or a switch to the standby, and for saves that did not "
            "complete; if none of that happened, the newest entries were deleted: compare with "
            "the entry noted last (--audit-entry, docs/audit.md)."
        )
    return Finding(WARNING, said.format(first=first, last=last))


def _noted_entry(noted: tuple[int, str], stored: str | None) -> Finding:
    entry, wanted = noted
    if stored == wanted:
        return Finding(
            OK,
            _(
                "Audit entry {entry} still has the hash you noted, so it and every "
                "entry before it are as they were then."
            ).format(entry=entry),
        )
    if stored is None:
        return Finding(
            PROBLEM,
            _(
                "Audit entry {entry}, whose hash you noted, is gone: the trail "
                "was cut or rewritten since (docs/audit.md)."
            ).format(entry=entry),
        )
    return Finding(
        PROBLEM,
        _(
            "Audit entry {entry} no longer has the hash you noted: the trail "
            "was rewritten at or before that entry (docs/audit.md)."
        ).format(entry=entry),
    )


def _open_failure(real: str, shown: str, error: sqlite3.Error, *, disk_full: bool) -> Finding:
    text = str(error).lower()
    if disk_full and "not a database" not in text and "malformed" not in text:
        # SQLite could not make the -shm file it needs to read a WAL database.
        return Finding(
            PROBLEM,
            (
                _("{shown} cannot be opened while its disk is full ({error}).").format(
                    shown=shown, error=error
                )
            ),
        )
    if "locked" in text or "busy" in text:
        return Finding(
            WARNING,
            (
                _(
                    "{shown} is busy: another program has held it for over {seconds:g} seconds; "
                    "run the check again in a minute."
                ).format(shown=shown, seconds=PROBE_TIMEOUT_S)
            ),
        )
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        # SQLITE_READONLY_DIRECTORY: no -shm yet, and no right to make one beside the file.
        folder = os.path.dirname(real)
        if read_only_file_system(folder):
            return _read_only_finding(shown)
        if not (os.access(real, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)):
            return Finding(
                PROBLEM,
                (
                    _(
                        "{shown} cannot be opened because it or its folder is read-only for you (a "
                        "read-only disk, or missing permissions), and SQLite must write files "
                        "next to "
                        "it; make the folder and file writable by the operators' group."
                    ).format(shown=shown)
                ),
            )
        return Finding(
            PROBLEM,
            _("{shown} cannot be opened ({error}); check the file and folder.").format(
                shown=shown, error=error
            ),
        )
    return Finding(
        PROBLEM,
        (
            _(
                "{shown} is damaged or is not a ringround database; check the path, or stop every "
                "ringround and restore the latest backup."
            ).format(shown=shown)
        ),
        bad_input=True,
    )


def _read_only_finding(shown: str) -> Finding:
    return Finding(
        PROBLEM,
        (
            _(
                "{shown} is on a file system mounted read-only, so nothing can be saved; "
                "remount it read-write or move the database to a writable disk."
            ).format(shown=shown)
        ),
    )


def version_finding(shown: str, version: int) -> Finding:
    current = len(MIGRATIONS)
    if version > current:
        return Finding(
            PROBLEM,
            (
                _(
                    "{shown} was made by a newer ringround (format {version}, this program knows "
                    "{current}); update ringround on this server."
                ).format(shown=shown, version=version, current=current)
            ),
        )
    if version < current:
        return Finding(
            WARNING,
            (
                _(
                    "{shown} is in an older format ({version}); ringround will upgrade it to "
                    "format "
                    "{current} the next time it opens it."
                ).format(shown=shown, version=version, current=current)
            ),
        )
    return Finding(
        OK,
        _("{shown} is a ringround database (format {version}).").format(
            shown=shown, version=version
        ),
    )


def _journal_and_integrity(
    conn: sqlite3.Connection, shown: str, writable: bool, full: bool
) -> list[Finding]:
    findings = []
    # A strictly read-only connection to an unused database reads it as immutable, and
    # then SQLite reports the "delete" journal mode whatever the file's mode is: the
    # journal mode is checked only by users who may write the file.
    mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() if writable else ""
    if mode == "wal":
        findings.append(Finding(OK, _("{shown} is in WAL mode.").format(shown=shown)))
    elif writable:
        findings.append(
            Finding(
                PROBLEM,
                (
                    _(
                        "{shown} is in {mode} journal mode instead of WAL, so operators would "
                        "block each "
                        "other; start ringround on it once (it switches the file to WAL) and check "
                        "again."
                    ).format(shown=shown, mode=mode)
                ),
            )
        )
    if not full:
        findings.append(
            Finding(
                OK,
                _(
                    "{shown}: its pages were not all read; 'ringround check --full' runs SQLite's "
                    "integrity check too (it reads the whole file)."
                ).format(shown=shown),
            )
        )
        return findings
    try:
        result = [str(row[0]) for row in conn.execute("PRAGMA integrity_check(5)").fetchall()]
    except sqlite3.DatabaseError as error:
        result = [str(error)]
    if result == ["ok"]:
        findings.append(
            Finding(OK, _("{shown} passed SQLite's integrity check.").format(shown=shown))
        )
    else:
        findings.append(
            Finding(
                PROBLEM,
                (
                    _(
                        "{shown} is damaged (integrity check: {result}); stop every ringround and "
                        "restore "
                        "the latest backup."
                    ).format(shown=shown, result=result[0])
                ),
            )
        )
    return findings


def _write_probe(conn: sqlite3.Connection, real: str, shown: str) -> Finding:
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as error:
        text = str(error).lower()
        if "locked" in text or "busy" in text:
            return Finding(
                WARNING,
                (
                    _(
                        "{shown} is busy: another program has been saving for over {seconds:g} "
                        "seconds; run the check again in a minute."
                    ).format(shown=shown, seconds=PROBE_TIMEOUT_S)
                ),
            )
        if "readonly" in text or "read-only" in text:
            # The database itself is writable (the probe runs only then), so chmod on it
            # would not help.
            suffix = unwritable_companion(real)
            if suffix is not None:
                return Finding(
                    PROBLEM,
                    _(
                        "You cannot save to {shown}: you may not write its working file "
                        "{companion}; run chmod g+rw {companion}."
                    ).format(shown=shown, companion=shown + suffix),
                )
            return Finding(
                PROBLEM,
                (
                    _(
                        "{shown} is read-only for you, so nothing could be saved; make it "
                        "writable by "
                        "the operators' group (chmod g+rw) or move it off a read-only disk."
                    ).format(shown=shown)
                ),
            )
        return Finding(
            PROBLEM,
            _("Saving to {shown} failed ({error}); check the disk.").format(
                shown=shown, error=error
            ),
        )
    return Finding(OK, _("You can save to {shown}.").format(shown=shown))


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def current_umask() -> int:
    """This process's umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _permissions(real: str, shown: str, folder: str) -> list[Finding]:
    """The file, its folder and any -wal/-shm: writable by me, and by the operators' group."""
    if read_only_file_system(folder):  # chmod cannot help there
        return [_read_only_finding(shown)]
    user = login_name()
    findings: list[Finding] = []
    if not os.access(real, os.R_OK | os.W_OK):
        findings.append(
            Finding(
                PROBLEM,
                (
                    _(
                        "You ({user}) may not write {shown}; give the operators' group write "
                        "access (chgrp "
                        "GROUP {shown}; chmod g+rw {shown})."
                    ).format(user=user, shown=shown)
                ),
            )
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        findings.append(
            Finding(
                PROBLEM,
                (
                    _(
                        "You ({user}) may not create files in {folder}, which SQLite needs for "
                        "the -wal and "
                        "-shm files; give the operators' group write access (chmod g+rwx {folder})."
                    ).format(user=user, folder=folder)
                ),
            )
        )
    for suffix in ("-wal", "-shm"):
        companion = real + suffix
        if os.path.exists(companion) and not os.access(companion, os.R_OK | os.W_OK):
            findings.append(
                Finding(
                    PROBLEM,
                    (
                        _(
                            "You ({user}) may not write {companion}, so you cannot save; give the "
                            "operators' group write access (chmod g+rw {companion})."
                        ).format(user=user, companion=companion)
                    ),
                )
            )
    findings += _group_access(real, shown, folder)
    findings += _others_access(real, shown)
    findings += _way_in(folder)
    findings += _umask(folder)
    if not any(f.level != OK for f in findings):
        findings.insert(
            0,
            Finding(
                OK,
                _("You ({user}) may read and write {shown} and its folder.").format(
                    user=user, shown=shown
                ),
            ),
        )
    return findings


def _group_access(real: str, shown: str, folder: str) -> list[Finding]:
    """Warnings for what other operators (other Unix users in the group) could not do."""
    findings = []
    for target, label in (
        (real, shown),
        (real + "-wal", shown + "-wal"),
        (real + "-shm", shown + "-shm"),
    ):
        try:
            mode = os.stat(target)
        except FileNotFoundError:
            continue
        if mode.st_mode & (stat.S_IRGRP | stat.S_IWGRP) != stat.S_IRGRP | stat.S_IWGRP:
            findings.append(
                Finding(
                    WARNING,
                    (
                        _(
                            "{label} is not writable by its group ({group}, mode {mode}); if "
                            "operators log "
                            "in as different users, run chmod g+rw {label}."
                        ).format(
                            label=label, group=_group(mode.st_gid), mode=stat.filemode(mode.st_mode)
                        )
                    ),
                )
            )
    folder_mode = os.stat(folder)
    needed = stat.S_IWGRP | stat.S_IXGRP
    if folder_mode.st_mode & needed != needed:
        findings.append(
            Finding(
                WARNING,
                (
                    _(
                        "The folder {folder} is not writable by its group ({group}); if operators "
                        "log in as "
                        "different users, run chmod g+rwx {folder}."
                    ).format(folder=folder, group=_group(folder_mode.st_gid))
                ),
            )
        )
    elif not folder_mode.st_mode & stat.S_ISGID:
        findings.append(
            Finding(
                WARNING,
                (
                    _(
                        "New files in {folder} (such as the -wal file) get their creator's own "
                        "group, which "
                        "other operators may not write; run chmod g+s {folder}."
                    ).format(folder=folder)
                ),
            )
        )
    group = _group(folder_mode.st_gid)
    for target, label in (
        (real, shown),
        (real + "-wal", shown + "-wal"),
        (real + "-shm", shown + "-shm"),
    ):
        try:
            gid = os.stat(target).st_gid
        except FileNotFoundError:
            continue
        if gid != folder_mode.st_gid and folder_mode.st_mode & stat.S_IWGRP:
            findings.append(
                Finding(
                    WARNING,
                    (
                        _(
                            "{label} belongs to the group {group}, not to its folder's group "
                            "({group2}), so "
                            "that group's operators may not save; run chgrp {group2} {label}."
                        ).format(label=label, group=_group(gid), group2=group)
                    ),
                )
            )
    return findings


def _others_access(real: str, shown: str) -> list[Finding]:
    """The database holds patients' data: users outside the group get no access."""
    findings = []
    for target, label in ((real, shown), (real + "-wal", shown + "-wal")):
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            continue
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            what = _("read and change") if mode & stat.S_IWOTH else _("read")
            findings.append(
                Finding(
                    WARNING,
                    (
                        _(
                            "Every user of this server may {what} {label} (mode {mode}), which "
                            "holds "
                            "patients' data; run chmod o-rwx {label}."
                        ).format(what=what, label=label, mode=stat.filemode(mode))
                    ),
                )
            )
    return findings


def _way_in(folder: str) -> list[Finding]:
    """Operators of the folder's group must be able to pass through every folder above it."""
    info = os.stat(folder)
    if not info.st_mode & stat.S_IWGRP:
        return []  # not a shared folder: the group findings say what to do first
    group_id = info.st_gid
    for above in Path(folder).parents:
        info = os.stat(above)
        if info.st_mode & stat.S_IXOTH:
            continue
        if info.st_mode & stat.S_IXGRP and info.st_gid == group_id:
            continue
        return [
            Finding(
                WARNING,
                (
                    _(
                        "Operators of the group {group} cannot reach {folder}, because {above} is "
                        "closed to "
                        "them (mode {mode}); move the database to a folder such as "
                        "/var/lib/ringround, or "
                        "run chmod o+x {above}."
                    ).format(
                        group=_group(group_id),
                        folder=folder,
                        above=above,
                        mode=stat.filemode(info.st_mode),
                    )
                ),
            )
        ]
    return []


def _umask(folder: str) -> list[Finding]:
    """Files made by hand in a shared folder (a new or restored database) need g+rw."""
    if not os.stat(folder).st_mode & stat.S_IWGRP:
        return []  # not a shared folder: the group findings above say what to do
    mask = current_umask()
    if not mask & (stat.S_IRGRP | stat.S_IWGRP):
        return []
    return [
        Finding(
            WARNING,
            (
                _(
                    "Your umask is {mask:04o}, so a file you make in {folder} (a new database, a "
                    "restored "
                    "backup) would not be writable by the operators' group; run umask 002 before "
                    "such work "
                    "(operators get it from their login, see docs/deploy.md)."
                ).format(mask=mask, folder=folder)
            ),
        )
    ]
