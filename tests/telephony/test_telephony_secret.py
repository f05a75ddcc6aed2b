"""The exchange's secret file: read without its line ending, refused when others may open it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from telephony import TelephonyError, read_secret


def secret_file(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "ami.secret"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
def test_private_file_is_read_without_line_ending(tmp_path: Path, mode: int) -> None:
    assert read_secret(secret_file(tmp_path, "pa ss:word\r\n", mode)) == "pa ss:word"


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602, 0o666, 0o641])
def test_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = secret_file(tmp_path, "s3cret\n", mode)
    with pytest.raises(TelephonyError) as refused:
        read_secret(path)
    assert str(refused.value) == (
        f"The secret file {path} can be read or changed by other users; "
        f"run chmod 640 {path} (or chmod 600)."
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TelephonyError, match="does not exist"):
        read_secret(tmp_path / "nowhere.secret")


@pytest.mark.parametrize(("text", "problem"), [("\n", "is empty"), ("a\nb\n", "one line")])
def test_unusable_content(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(TelephonyError, match=problem):
        read_secret(secret_file(tmp_path, text, 0o600))


def test_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o750)
    with pytest.raises(TelephonyError, match="is not a plain file"):
        read_secret(folder)


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "ami.secret"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(TelephonyError, match="is not a plain file"):
        read_secret(fifo)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: root, who runs CI, may read any file; a skipped test would fail CI there.
    def refuse(path: str, flags: int) -> int:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr("telephony.secret.os.open", refuse)
    with pytest.raises(TelephonyError, match="cannot be read by this user"):
        read_secret(secret_file(tmp_path, "s3cret\n", 0o600))
