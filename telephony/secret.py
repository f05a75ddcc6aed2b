"""Reading the exchange's password from its own file (the policy only names the file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from storage.i18n import _
from telephony.calls import TelephonyError


def read_secret(path: str | Path) -> str:
    """The secret in ``path`` without its line ending; refuses a file other users may open.

    Like ssh with its keys, a file that "others" can read or change is refused:
    anyone on the clinic server could otherwise place calls as the clinic.
    """
    try:
        # Check the opened file, so the mode checked is the file read; O_NONBLOCK keeps
        # a FIFO put there by mistake from blocking the app until someone writes to it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise TelephonyError(
                    _("The secret file {path} is not a plain file.").format(path=path)
                )
            if mode & 0o007:
                raise TelephonyError(
                    _(
                        "The secret file {path} can be read or changed by other users; "
                        "run chmod 640 {path} (or chmod 600)."
                    ).format(path=path)
                )
            with open(fd, "rb", closefd=False) as handle:
                data = handle.read()
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise TelephonyError(
            _(
                "The secret file {path} does not exist; create it, or fix secret_file in "
                "the policy's [telephony] section."
            ).format(path=path)
        ) from None
    except PermissionError:
        raise TelephonyError(
            _(
                "The secret file {path} cannot be read by this user; give it to the "
                "operators' group with chmod 640."
            ).format(path=path)
        ) from None
    except OSError as error:
        raise TelephonyError(
            _("The secret file {path} cannot be read ({strerror}).").format(
                path=path, strerror=error.strerror
            )
        ) from None
    try:
        secret = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise TelephonyError(
            _("The secret file {path} is not UTF-8 text.").format(path=path)
        ) from None
    if not secret:
        raise TelephonyError(_("The secret file {path} is empty.").format(path=path))
    if "\n" in secret or "\r" in secret:
        # A second line would end the AMI header early and be sent as a header of its own.
        raise TelephonyError(
            _("The secret file {path} must hold the secret on one line.").format(path=path)
        )
    return secret
