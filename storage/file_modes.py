"""New database files are shared with the operators' group, whatever the umask.

docs/deploy.md keeps the database in a folder that belongs to the operators'
group; every operator must be able to write the database and its -wal and
-shm files. A file made by ``demo``, by an import into a new database or by
``backup`` therefore gets mode 0660 and its folder's group, even when the
admin's umask is 022 or 077 (SQLite then gives the -wal and -shm files it
makes the database file's mode). Users outside the group get nothing: the
files hold patients' data.

The database file is changed by path (chmod, chown), never through a
descriptor of our own, except when it is made: closing any descriptor on a
database drops the process's SQLite locks on it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DATABASE_MODE = 0o660
COMPANIONS = ("-wal", "-shm")
# Every file SQLite may keep beside a database: a rollback journal as well, which a
# connection not (yet) in WAL mode writes, e.g. while the backup API fills a new copy.
ALL_COMPANIONS = (*COMPANIONS, "-journal")


def share_with_group(path: str | Path) -> None:
    """Give ``path`` mode 0660 and the group of its folder (where this user may)."""
    os.chmod(path, DATABASE_MODE)
    folder_gid = os.stat(os.path.dirname(os.path.abspath(path))).st_gid
    if os.stat(path).st_gid != folder_gid:
        # Only root, or a member of that group, may; check warns about the rest.
        with contextlib.suppress(PermissionError):
            os.chown(path, -1, folder_gid)


def create_database_file(path: str | Path) -> None:
    """Make the empty file of a new database, shared with its folder's group.

    Raises FileExistsError when there is a file already (nothing is changed
    then) and OSError when the folder does not let us make one.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DATABASE_MODE)
    os.close(fd)  # nothing holds the new file open yet: closing drops no SQLite lock
    share_with_group(path)


def share_companions(path: str | Path) -> None:
    """The -wal and -shm files of a database we made: its folder's group, mode 0660."""
    for suffix in COMPANIONS:
        companion = f"{path}{suffix}"
        with contextlib.suppress(FileNotFoundError):
            if os.stat(companion).st_uid == os.geteuid():
                share_with_group(companion)


def unwritable_companion(path: str | Path) -> str | None:
    """The suffix of a -wal or -shm file beside the database that this user may not write
    (an operator's umask kept the group from writing it); None if there is none.

    Saving then fails though the database itself may be writable, so a message must
    name that file, not the database.
    """
    for suffix in COMPANIONS:
        if os.path.exists(f"{path}{suffix}") and not os.access(f"{path}{suffix}", os.W_OK):
            return suffix
    return None


def remove_database_files(path: str | Path) -> None:
    """Remove a database a failed command made (a copy, an import, a backup's temporary
    file), with its -wal, -shm and -journal files.

    Best effort: a file that is not there, or a folder that lets nobody remove it (a
    read-only disk, where nothing could be made either), is left alone; the sentence of
    the failure itself is what the admin must see, not this one's.
    """
    for name in (str(path), *(f"{path}{suffix}" for suffix in ALL_COMPANIONS)):
        with contextlib.suppress(OSError):
            os.unlink(name)


def hidden_prefix(path: str | Path) -> str:
    """The start of the name of a hidden file written beside ``path``, then renamed over it.

    "." and the name's first 100 bytes: with mkstemp's 8 characters and ".tmp" it fits
    wherever ``path`` does (255 bytes at most in a name), and still says whose it is.
    """
    return f".{os.fsdecode(os.fsencode(os.path.basename(path))[:100])}."
