"""``ringround backup``: a consistent copy of the live database, safe while operators work.

Copying the file (cp, rsync, a file-level backup tool) while operators save
can give a broken copy and misses what is still in the -wal file. This uses
SQLite's online backup API instead, from a connection made by
:func:`storage.database.open_database`: the copy is one snapshot of the
database as it was at one moment (WAL readers never block the operators'
saves, and the saves never block the copy).

The copy is written to a hidden temporary file in the destination's folder,
checked with ``PRAGMA integrity_check``, flushed to disk and only then renamed
over the destination, so a destination file is always either the old backup
or a complete, checked new one. The live database, and its -wal, -shm and
-journal files, are never a destination, nor is an existing file that is not
a database (the policy or an import file typed by mistake). The copy gets mode
0660 and the group of its folder, whatever the umask, so that it can be
restored as it is (storage/file_modes.py); others get no access (it holds
patient data).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from storage.database import (
    SQLITE_HEADER,
    StorageError,
    describe,
    file_in_the_way,
    file_not_folder,
    open_database,
    read_only_file_system,
)
from storage.engine import is_server_address
from storage.errors import EXIT_BAD_INPUT, BadInput
from storage.file_modes import (
    ALL_COMPANIONS,
    hidden_prefix,
    remove_database_files,
    share_with_group,
)
from storage.i18n import _


class BadDestination(StorageError):
    """The destination cannot be used (the live database, a missing folder...)."""

    exit_code = EXIT_BAD_INPUT


class BackupFailed(StorageError):
    """The copy could not be made or did not pass the integrity check."""


@dataclass(frozen=True)
class Backup:
    source: str
    destination: str
    size: int  # bytes
    seconds: float


def destination_for(source: str | Path, destination: str | Path, moment: datetime) -> Path:
    """The file to write: ``destination`` itself, or a dated name inside it if it is a folder."""
    target = Path(destination)
    if target.is_dir():
        stem = Path(source).stem or "ringround"
        return target / f"{stem}-{moment:%Y-%m-%d-%H%M%S}.db"
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check_destination(source: Path, target: Path) -> None:
    shown = str(target)
    live = Path(os.path.realpath(source))
    if _same_file(target, live):
        raise BadDestination(
            _(
                "{shown} is the live database itself; give another file or a folder for the backup."
            ).format(shown=shown)
        )
    real = Path(os.path.realpath(target))
    for suffix in ALL_COMPANIONS:
        if real == Path(f"{live}{suffix}"):
            raise BadDestination(
                _(
                    "{shown} is the live database's {suffix} file, which must never be replaced; "
                    "give another file or a folder for the backup."
                ).format(shown=shown, suffix=suffix)
            )
    folder = real.parent
    if file_in_the_way(folder):
        raise file_not_folder(shown)
    if not folder.is_dir():
        raise BadDestination(
            _(
                "The folder {folder} for the backup does not exist; create it first (mkdir -p)."
            ).format(folder=folder)
        )
    if target.exists() and not stat.S_ISREG(os.stat(target).st_mode):
        raise BadDestination(
            _("{shown} exists and is not a plain file; give a file or a folder.").format(
                shown=shown
            )
        )
    if target.exists() and not _empty_or_database(target):
        raise BadDestination(
            _(
                "{shown} exists and is not a database backup; nothing was written to it: give a "
                "new file name or a folder for the backup."
            ).format(shown=shown)
        )
    if read_only_file_system(folder):  # no permission helps there, not even root's
        raise BackupFailed(
            _(
                "The folder {folder} for the backup is on a disk mounted read-only; remount it "
                "read-write or choose another folder."
            ).format(folder=folder)
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupFailed(
            _(
                "You may not create files in {folder}; choose a folder you may "
                "write, or ask the administrator."
            ).format(folder=folder)
        )


def _empty_or_database(path: Path) -> bool:
    """May a backup replace this existing file: an earlier backup, or an empty file?

    Anything else (the policy, an import file typed as DEST by mistake) is kept.
    A file this user may not read is left to the rename, which the folder's
    permissions decide.
    """
    try:
        with open(path, "rb") as existing:
            header = existing.read(len(SQLITE_HEADER))
    except OSError:
        return True
    return header in (b"", SQLITE_HEADER)


def _fsync(path: Path, *, folder: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if folder else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _integrity(path: Path) -> str:
    """'ok', or the first problem SQLite's full integrity check finds in the copy."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
        # Back to one self-contained file: a copy is never left needing a -wal beside it.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return "ok" if rows == ["ok"] else (rows[0] if rows else _("no answer"))


def backup_database(
    source: str | Path, destination: str | Path, *, moment: datetime | None = None
) -> Backup:
    """Copy the ringround database ``source`` to ``destination`` (a file or a folder).

    Raises BadInput for a PostgreSQL database (the server's own tools back it
    up), BadDestination for a destination that cannot be used (nothing is
    written then), BackupFailed or another StorageError when the copy fails;
    a failed copy leaves no file behind and an earlier backup untouched.
    """
    if is_server_address(source):
        raise BadInput(
            _(
                "The database is on a PostgreSQL server: back it up with the server's own "
                "tools (pg_basebackup, pg_dump; docs/deploy-postgresql.md, step 7), or copy "
                "it into an SQLite file with 'ringround copy'."
            )
        )
    source = Path(source)
    started = time.monotonic()
    if str(destination).endswith(os.sep) and not Path(destination).is_dir():
        if file_in_the_way(destination):
            raise file_not_folder(str(destination))
        raise BadDestination(
            _(
                "The folder {destination} for the backup does not exist; create it "
                "first (mkdir -p)."
            ).format(destination=destination)
        )
    target = destination_for(source, destination, moment or datetime.now())
    _check_destination(source, target)
    # reading: a backup user who may only read the file gets a strictly read-only connection.
    live = open_database(source, reading=True)  # refuses a file that is not ringround's
    try:
        temporary = _copy(live, source, target)
    finally:
        live.close()
    try:
        try:
            verdict = _integrity(temporary)
        except sqlite3.Error as error:
            verdict = str(error)
        if verdict != "ok":
            raise BackupFailed(
                _(
                    "The copy of {source} failed SQLite's integrity check "
                    "({verdict}); nothing was written to {target}."
                ).format(source=source, verdict=verdict, target=target)
            )
        share_with_group(temporary)
        _fsync(temporary)
        os.replace(temporary, target)
        _fsync(target.parent, folder=True)
    except BaseException:
        remove_database_files(temporary)
        raise
    return Backup(str(source), str(target), os.stat(target).st_size, time.monotonic() - started)


def _copy(live: sqlite3.Connection, source: Path, target: Path) -> Path:
    """The live database copied into a new hidden file beside ``target``; returns its path."""
    try:
        fd, name = tempfile.mkstemp(
            prefix=hidden_prefix(target),
            suffix=".tmp",
            dir=os.path.dirname(os.path.abspath(target)),
        )
    except OSError as error:
        raise BackupFailed(
            _("A file for the backup cannot be made in {parent} ({strerror}).").format(
                parent=target.parent, strerror=error.strerror
            )
        ) from None
    os.close(fd)  # an empty file is an empty database; nothing else holds it open
    temporary = Path(name)
    try:
        copy = sqlite3.connect(temporary, isolation_level=None)
        try:
            live.backup(copy)  # every page in one step: one consistent snapshot
        finally:
            copy.close()
    except BaseException as error:
        remove_database_files(temporary)
        if isinstance(error, sqlite3.Error):
            raise describe(error, str(target)) from None
        raise
    return temporary
