"""The SQLite engine's opening and write transactions (behind storage/engine.py).

Every connection is made by :func:`open_database` (WAL, ``synchronous=FULL``,
a WAL size limit, busy timeout, foreign keys, autocommit mode so that
transactions are explicit)
and every write goes through :func:`write`, which starts with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails
with SQLITE_BUSY_SNAPSHOT when another operator committed in between. Writers
wait for their turn asleep (storage/write_turns.py), which keeps the worst
wait under many writers short and costs no processor time.

The database file is never opened as a plain file while a connection exists:
closing any descriptor on it drops the process's SQLite locks.

A user who may not write the database file is refused before SQLite sees
the file, except by commands that only read, which get a strictly read-only
connection (:func:`read_only_connection`): either way no -wal or -shm file is
made by that user (docs/deploy.md, "Users who may only read").
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from storage import admin_log
from storage.connection import Connection
from storage.errors import EXIT_BAD_INPUT, BadInput, RingroundError
from storage.file_modes import (
    COMPANIONS,
    create_database_file,
    share_companions,
    unwritable_companion,
)
from storage.i18n import _
from storage.schema import APPLICATION_ID, MIGRATIONS, migrate
from storage.write_turns import NoTurn, Turn

BUSY_TIMEOUT_MS = 5000
# After a long read transaction of another program has let the WAL grow (checkpoints
# cannot pass it), the next restart of the WAL cuts the file back to this size. Twice
# the usual size at an automatic checkpoint (1000 pages), so normal work never cuts.
WAL_SIZE_LIMIT = 8 * 1024 * 1024
# Free bytes on the database's disk below which saves fail (a save writes a few pages to
# the -wal file; a checkpoint may need more), and opening may too (the -shm file).
DISK_FULL_BELOW = 1_000_000
# SQLite's primary result code for a failed read or write of a file (SQLITE_IOERR); its
# extended codes keep it in the low byte.
SQLITE_IOERR = 10
NETWORK_FILE_SYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "fuse.sshfs",
        "sshfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "fuse.glusterfs",
        "lustre",
        "davfs",
        "fuse.davfs2",
        "fuse.rclone",
        "ncpfs",
    }
)


class StorageError(RingroundError):
    """A problem with the database or with what it holds, as one sentence for clinic staff."""


class NotADatabase(StorageError):
    exit_code = EXIT_BAD_INPUT


class NetworkFileSystem(StorageError):
    exit_code = EXIT_BAD_INPUT


class DatabaseBusy(StorageError):
    """Another program holds the write lock longer than the busy timeout; retry later."""


class DiskFull(StorageError):
    pass


class ReadOnlyDatabase(StorageError):
    pass


class DatabaseUnreachable(StorageError):
    """The database server does not answer (down, restarting, the network); the sentence
    says "nothing was saved" when a save was under way (storage/postgres_connection.py).

    Only a database on a server (PostgreSQL, storage/postgres_connection.py)
    can be unreachable; the next use of the connection tries it again.
    """


class LoginRefused(StorageError):
    """A database server that answered refused the login: the role, its password, its
    CONNECT right, pg_hba.conf (storage/server_logins.py). Waiting does not help until an
    administrator acts, so the app names the reason rather than "not answering"; the next
    connection tries again all the same (storage/postgres_connection.py).
    """


class DatabaseGone(StorageError):
    """The database file, or its -wal or -shm, was deleted, renamed, or replaced while open.

    SQLite would go on writing into the files it opened, which nobody else
    reads any more: each save would be lost to every other operator, silently.
    """


def database_gone(path: str) -> DatabaseGone:
    return DatabaseGone(
        _(
            "The database file {path} was moved, replaced or deleted while ringround had it "
            "open, so nothing more can be saved; ask the administrator."
        ).format(path=path)
    )


def working_file_gone(path: str) -> DatabaseGone:
    return DatabaseGone(
        _(
            "{path}, a working file of the database, was moved, replaced or deleted while "
            "ringround had it open, so nothing more can be saved; ask the administrator."
        ).format(path=path)
    )


SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database


def file_uri(path: str | Path, options: str) -> str:
    """SQLite's "file:" address of the file at ``path``, with ``options`` ("mode=ro").

    Built from the name's bytes: a name that is not UTF-8 (made under another
    character set) is kept exactly, where quoting its text would stop on it.
    """
    return f"file:{quote(os.fsencode(os.path.realpath(path)))}?{options}"


def bad_path(error: OSError, shown: str) -> BadInput | None:
    """The sentence for a path no file can have (``shown``, as the admin gave it), or None.

    A name longer than the file system allows, or a file where a folder should be
    ("clinic.db/clients.csv"), is the argument's mistake (exit 2), not a failure of
    the system for the administrator to look into.
    """
    if error.errno == errno.ENAMETOOLONG:
        return BadInput(
            _("The name {path} is longer than the file system allows; give a shorter one.").format(
                path=shown
            )
        )
    if error.errno == errno.ENOTDIR:
        return file_not_folder(shown)
    return None


def file_not_folder(shown: str) -> BadInput:
    """``shown`` cannot be made: a file stands where a folder on its path should be."""
    return BadInput(
        _("In {path}, a part before the last / is a file, not a folder.").format(path=shown)
    )


def file_in_the_way(folder: str | Path) -> bool:
    """Whether a file stands where ``folder``, or a folder above it, should be."""
    try:
        return not stat.S_ISDIR(os.stat(folder).st_mode)
    except OSError as error:
        return error.errno == errno.ENOTDIR


def missing_folder(folder: str | Path, shown: str) -> BadInput:
    """Why ``folder`` cannot hold the new file ``shown``: a file in the way, or no such folder."""
    if file_in_the_way(folder):
        return file_not_folder(shown)
    return BadInput(_("The folder {folder} does not exist.").format(folder=folder))


# What Python's sqlite3 says of a text value that is not UTF-8 (the value follows: not shown).
_NOT_UTF8 = re.compile(r"Could not decode to UTF-8 column '([^']*)'")


def describe(error: sqlite3.Error, path: str) -> StorageError:
    """Turn an sqlite3 error into a StorageError with a plain sentence."""
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return busy(path)
    if "full" in text:
        return DiskFull(_("The disk holding {path} is full; nothing was saved.").format(path=path))
    if "readonly" in text or "read-only" in text:
        suffix = unwritable_companion(path)
        if suffix is not None:
            return ReadOnlyDatabase(
                _(
                    "You may not write {companion}, a working file of the database, so "
                    "nothing can be saved; ask the administrator to run ringround check, "
                    "which names the fix."
                ).format(companion=path + suffix)
            )
        return ReadOnlyDatabase(
            _("The database {path} is read-only for you; nothing was saved.").format(path=path)
        )
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return NotADatabase(
            _("{path} is damaged or is not a ringround database.").format(path=path)
        )
    undecodable = _NOT_UTF8.search(str(error))
    if undecodable is not None:  # SQLite keeps any bytes; Python reads text only as UTF-8
        return NotADatabase(
            _(
                "{path} holds text that is not UTF-8 in the column {column}, which another "
                "program wrote there; correct it there and try again."
            ).format(path=path, column=undecodable.group(1))
        )
    return StorageError(
        _("The database {path} could not be used: {error}.").format(path=path, error=error)
    )


def busy(path: str) -> DatabaseBusy:
    return DatabaseBusy(
        _("The database {path} is busy with another operator's save.").format(path=path)
    )


def database_path(conn: Connection) -> str:
    if isinstance(conn, ClinicConnection):
        return conn.writers()[0]
    return _file_of(conn)


def _file_of(conn: Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "?"


FileIdentity = tuple[int, int]  # (device, inode): which file a path names


def file_identity(path: str | Path) -> FileIdentity | None:
    """Which file ``path`` names now (one stat()); None when there is none.

    Raises OSError when that cannot be told (a folder on the way closed).
    """
    try:
        found = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (found.st_dev, found.st_ino)


def still_in_place(path: str | Path, opened: FileIdentity) -> bool:
    """Whether ``path`` still names the file that was opened as ``opened``.

    A file deleted, renamed, or replaced by another (``mv`` of a restored copy
    over it) is not; when the file system cannot tell (permission denied on a
    folder), it is taken to be, and opening the database says what is wrong.
    """
    try:
        now = file_identity(path)
    except OSError:
        return True
    return now is not None and now == opened


class ClinicConnection(sqlite3.Connection):
    """A connection made by :func:`open_database`: it knows its file and keeps its writers' turn.

    Both are found at the first write (or the first message that names the
    file) and kept, so a write does not ask SQLite for the file's name nor the
    file system for its folder again (storage/write_turns.py). Which files were
    opened is noted at opening (:meth:`note_files`), so that a write can tell
    that one was deleted or replaced meanwhile (:func:`check_in_place`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writers: tuple[str, Turn] | None = None
        self.opened_database: tuple[str, FileIdentity] | None = None
        self.opened_working: tuple[tuple[str, FileIdentity], ...] = ()  # its -wal and -shm

    def note_files(self, path: str | Path) -> None:
        """Remember the files just opened, by absolute path and identity: the database, and
        the -wal and -shm that WAL mode keeps open until this connection closes (only the
        last connection to close removes them). One that cannot be seen is not checked."""
        found: list[tuple[str, FileIdentity]] = []
        absolute = os.path.abspath(path)
        for suffix in ("", *COMPANIONS):
            with suppress(OSError):
                identity = file_identity(absolute + suffix)
                if identity is not None:
                    found.append((absolute + suffix, identity))
        if found and found[0][0] == absolute:
            self.opened_database = found.pop(0)
        self.opened_working = tuple(found)

    def writers(self) -> tuple[str, Turn]:
        """The database file, and this connection's place in the queue of its writers."""
        if self._writers is None:
            path = _file_of(self)
            self._writers = (path, Turn(path))
        return self._writers

    def close(self) -> None:
        if self._writers is not None:
            self._writers[1].close()
        super().close()


def check_in_place(conn: Connection, *, working_files: bool = True) -> None:
    """DatabaseGone when ``conn``'s file, or with ``working_files`` its -wal or -shm, is no
    longer at its path (a stat() each).

    SQLite would go on reading and writing the files it opened, which nobody
    else sees any more. Connections made elsewhere (read-only ones, a backup's
    copy, PostgreSQL's) are not checked: they save nothing for others.
    """
    if not isinstance(conn, ClinicConnection):
        return
    if conn.opened_database is not None:
        path, identity = conn.opened_database
        if not still_in_place(path, identity):
            raise database_gone(path)
    for path, identity in conn.opened_working if working_files else ():
        if not still_in_place(path, identity):
            raise working_file_gone(path)


def file_system_type(path: Path) -> str:
    """The type of the file system holding ``path``, from /proc/mounts (Linux)."""
    target = os.path.realpath(path)
    best, best_type = "", "unknown"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                inside = target == point or target.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, best_type = point, fields[2]
    except OSError:
        return "unknown"
    return best_type


def open_database(
    path: str | Path,
    *,
    create: bool = False,
    check_same_thread: bool = True,
    reading: bool = False,
) -> sqlite3.Connection:
    """Open (or, with ``create``, make) the clinic database, migrated to this version.

    ``check_same_thread=False`` is for a connection that its owner hands from
    thread to thread while making sure only one uses it at a time.

    ``reading`` is for commands that only read (exports, reports, listing
    locks): a user who may read but not write the file gets a strictly
    read-only connection instead of a refusal.

    Raises StorageError subclasses with a sentence for people; a file that is
    not a ringround database is left exactly as it was.
    """
    path = Path(path)
    shown = str(path)
    try:
        os.stat(path)
    except PermissionError:  # a folder on the way (the database's own, 2770) is closed
        raise ReadOnlyDatabase(
            _(
                "You may not open the database {path}: its folder is closed to you; ask the "
                "administrator to add you to the operators' group (see docs/deploy.md)."
            ).format(path=shown)
        ) from None
    except OSError:
        pass  # not there: said below, as fits the command
    if path.is_dir():
        raise NotADatabase(_("{path} is a folder, not a ringround database.").format(path=shown))
    exists = path.exists()
    if not exists and not create:
        raise NotADatabase(
            _(
                "There is no database at {path} (make one with 'ringround demo' or an import)."
            ).format(path=shown)
        )
    folder = path.resolve().parent
    if not folder.is_dir():
        raise missing_folder(folder, shown)
    fs_type = file_system_type(folder)
    if fs_type in NETWORK_FILE_SYSTEMS:
        raise NetworkFileSystem(
            _(
                "{path} is on a network file system ({type}); the database must be on the "
                "server's own disk, or operators' saves can be lost."
            ).format(path=shown, type=fs_type)
        )
    if exists and not os.access(path, os.R_OK):
        raise ReadOnlyDatabase(
            _("You may not read the database {path} (permission denied).").format(path=shown)
        )
    if exists and not os.access(path, os.W_OK):
        if not reading and read_only_file_system(folder):  # no group or mode can help there
            raise ReadOnlyDatabase(
                _(
                    "{shown} is on a file system mounted read-only, so nothing can be saved; "
                    "remount it read-write or move the database to a writable disk."
                ).format(shown=shown)
            )
        if not reading:
            raise ReadOnlyDatabase(
                _(
                    "The database {path} is read-only for you, so nothing could be saved; ask the "
                    "administrator to add you to the operators' group (see docs/deploy.md)."
                ).format(path=shown)
            )
        return _prepared(
            read_only_connection(path, check_same_thread=check_same_thread),
            shown,
            create=False,
            writable=False,
        )
    if not exists:
        _create(path, shown, folder)
    try:
        made = sqlite3.connect(
            path,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=check_same_thread,
            factory=ClinicConnection,
        )
    except sqlite3.Error as error:
        raise describe(error, shown) from None
    conn = _prepared(made, shown, create=create, writable=True)
    made.note_files(path)  # after the first reads, which opened (or made) the -wal and -shm
    if not exists:
        share_companions(path)
    return conn


def read_only_connection(
    path: str | Path, *, timeout_ms: int = BUSY_TIMEOUT_MS, check_same_thread: bool = True
) -> sqlite3.Connection:
    """A connection that only reads and makes no file beside the database.

    SQLite makes missing -wal and -shm files even for a connection opened
    with ``mode=ro``, owned by the reader and with the database's mode, and
    such files can stop the operators. So: when neither exists, nobody has the
    database open and every save is in the file itself, which is read as
    ``immutable`` (no locks, no side files); when both exist (operators at
    work), they are used read-only (``readonly_shm``: SQLite fails rather than
    make a missing one). One without the other is refused with a sentence.
    """
    shown = str(path)
    side_files = [os.path.exists(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    if any(side_files) and not all(side_files):
        raise ReadOnlyDatabase(
            _(
                "The database {path} is read-only for you and its -wal or -shm file is missing, "
                "so it cannot be read without making one; ask an operator to start and quit "
                "ringround, then try again."
            ).format(path=shown)
        )
    options = "mode=ro&readonly_shm=1" if all(side_files) else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(
            file_uri(path, options),
            uri=True,
            isolation_level=None,
            timeout=timeout_ms / 1000,
            check_same_thread=check_same_thread,
        )
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as error:
        raise describe(error, shown) from None
    return conn


def _prepared(
    conn: sqlite3.Connection, shown: str, *, create: bool, writable: bool
) -> sqlite3.Connection:
    try:
        _prepare(conn, shown, create=create, writable=writable)
    except BaseException:
        conn.close()
        raise
    return conn


def no_new_database(folder: str | Path, shown: str) -> ReadOnlyDatabase:
    """A new database ``shown`` cannot be made: this user may not make files in ``folder``."""
    return ReadOnlyDatabase(
        _(
            "You may not make files in {folder}, so the database {path} cannot be made there."
        ).format(folder=folder, path=shown)
    )


def _create(path: Path, shown: str, folder: Path) -> None:
    """Make the file of a new database, mode 0660 and its folder's group (storage/file_modes.py)."""
    try:
        create_database_file(path)
    except FileExistsError:
        pass  # made by another program meanwhile: opened, and checked, as it is
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise DiskFull(
                _("The disk holding {path} is full; nothing was saved.").format(path=shown)
            ) from None
        if isinstance(error, PermissionError) or error.errno == errno.EROFS:
            raise no_new_database(folder, shown) from None
        raise StorageError(
            _("The database {path} could not be used: {error}.").format(
                path=shown, error=error.strerror
            )
        ) from None


def _prepare(conn: sqlite3.Connection, shown: str, *, create: bool, writable: bool) -> None:
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as error:
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            raise describe(error, shown) from None
        if isinstance(error, sqlite3.OperationalError) and (
            "unable to open" in str(error) or "readonly" in str(error)
        ):
            # WAL needs the -wal and -shm files beside the database: the folder or
            # those files are not writable for this user (SQLITE_CANTOPEN, or
            # SQLITE_READONLY_DIRECTORY when only the folder is closed).
            raise ReadOnlyDatabase(
                _(
                    "You may not write the folder of {path} or its -wal and -shm files; ask the "
                    "administrator to add you to the operators' group (see docs/deploy.md)."
                ).format(path=shown)
            ) from None
        if _is_io_error(error) and disk_full(Path(shown).parent):
            # SQLite could not grow the -shm file it needs to read a WAL database.
            raise DiskFull(
                _(
                    "{path} cannot be opened while its disk is full; free some space on it "
                    "(old backups, logs), then try again."
                ).format(path=shown)
            ) from None
        raise NotADatabase(
            _("{path} is damaged or is not a ringround database.").format(path=shown)
        ) from None
    if application_id != APPLICATION_ID and not (application_id == 0 and objects == 0):
        raise NotADatabase(
            _("{path} is an SQLite file, but not a ringround database.").format(path=shown)
        )
    if application_id == 0 and not create:
        raise NotADatabase(_("{path} is empty, not a ringround database.").format(path=shown))
    if not writable:
        _check_version(conn, shown)
        conn.create_function("fold", 1, _fold, deterministic=True)
        return
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ReadOnlyDatabase(
                _("The database {path} cannot be switched to WAL mode; is it read-only?").format(
                    path=shown
                )
            )
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.create_function("fold", 1, _fold, deterministic=True)
        _refuse_newer(conn, shown)
        migrate(conn)
    except sqlite3.Error as error:
        raise describe(error, shown) from None


def _is_io_error(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == SQLITE_IOERR


def disk_full(folder: str | Path) -> bool:
    """Whether the disk holding ``folder`` has less room than a save needs."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < DISK_FULL_BELOW  # what a user who is not root has


def read_only_file_system(folder: str | Path) -> bool:
    """Whether ``folder`` is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _refuse_newer(conn: sqlite3.Connection, shown: str) -> int:
    """The database's format version; NotADatabase if a newer ringround made it."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise NotADatabase(
            _("{path} was made by a newer ringround; update the program.").format(path=shown)
        )
    return version


def _check_version(conn: sqlite3.Connection, shown: str) -> None:
    """A database read without migrating must be in this version's format already."""
    if _refuse_newer(conn, shown) < len(MIGRATIONS):
        raise ReadOnlyDatabase(
            _(
                "The database {path} is in an older format, which ringround brings up to date the "
                "next time an operator starts it; you may only read it, so try again after that."
            ).format(path=shown)
        )


def check_integrity(conn: Connection, path: str | Path) -> None:
    """Refuse a damaged database before anything is written to it (the app's start).

    ``PRAGMA quick_check`` reads every page once (about 70 ms for 100,000 clients
    here); a database found damaged is left exactly as it was.
    """
    try:
        verdict = [str(row[0]) for row in conn.execute("PRAGMA quick_check(1)").fetchall()]
    except sqlite3.DatabaseError:
        verdict = []
    if verdict != ["ok"]:
        raise NotADatabase(
            _(
                "The database {path} is damaged, so nothing was changed in it; stop every "
                "ringround, run 'ringround check --full' and restore the latest backup."
            ).format(path=path)
        )


def _fold(value: object) -> str:
    """Case-insensitive matching for any alphabet (SQLite's lower() knows only ASCII)."""
    return value.casefold() if isinstance(value, str) else ""


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block as one ``BEGIN IMMEDIATE`` transaction; commit, or roll back on error.

    sqlite3 errors leave as StorageError. After SQLITE_FULL or an I/O error
    SQLite may already have rolled back, so ROLLBACK is sent only if needed.

    Writers of this program take turns first (storage/write_turns.py), so
    ``BEGIN IMMEDIATE`` normally finds the write lock free; when another
    program holds it, SQLite's busy timeout applies.

    A write inside a write is a savepoint of the outer transaction, so that
    several protocol steps (e.g. claim and finish of each row of a family,
    storage.families) can be one transaction: it commits with the outer one,
    and an error undoes just the inner block before it leaves.
    """
    kept = isinstance(conn, ClinicConnection)  # the connection keeps its place in the queue
    if isinstance(conn, ClinicConnection):
        path, place = conn.writers()
    else:  # one made elsewhere (a backup's copy): its place is found for this write alone
        path = _file_of(conn)
        place = Turn(path)
    if conn.in_transaction:
        with _savepoint(conn, path):
            yield conn
        return
    try:
        with place.held(BUSY_TIMEOUT_MS / 1000):
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise describe(error, path) from None
            try:
                yield conn
                # Just before the commit: a file deleted or replaced before or during the
                # block would swallow the save (SQLite writes on into what it opened).
                check_in_place(conn)
                conn.execute("COMMIT")
            except BaseException as error:
                admin_log.rolled_back(conn)
                if conn.in_transaction:
                    # The original error says more than a failed rollback would.
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise describe(error, path) from None
                raise
    except NoTurn:
        raise busy(path) from None
    finally:
        if not kept:
            place.close()
    admin_log.committed(conn)  # the log lines of what this transaction did (lock events)


@contextmanager
def _savepoint(conn: sqlite3.Connection, path: str) -> Iterator[None]:
    """The inner part of a nested :func:`write` (savepoints of one name stack)."""
    try:
        conn.execute("SAVEPOINT nested_write")
    except sqlite3.Error as error:
        raise describe(error, path) from None
    mark = admin_log.pending_mark(conn)
    try:
        yield
        conn.execute("RELEASE nested_write")
    except BaseException as error:
        admin_log.rolled_back_to(conn, mark)
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK TO nested_write")
                conn.execute("RELEASE nested_write")
        if isinstance(error, sqlite3.Error):
            raise describe(error, path) from None
        raise
