"""docs/deploy.md as written: its first import files import; its login program runs only ringround.

The login program is run with ``sh`` exactly as the guide prints it, with the
path of ringround replaced by a stand-in that records how it was called; the
real SSH server's side of it is tests/e2e/test_e2e_ssh.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from storage.database import open_database
from tests.pty_app import ringround_argv

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
LOGIN = "/usr/local/bin/ringround-login"


def blocks(language: str) -> list[str]:
    return re.findall(
        rf"```{language}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL
    )


def login_program() -> str:
    [program] = [block for block in blocks("sh") if block.startswith("#!/bin/sh")]
    return program


def test_the_first_import_files_make_a_clinic_from_nothing(tmp_path: Path) -> None:
    """The guide's files make the clinic; importing them again (the nightly import of the
    clinic's system) updates what is there and adds no second client or appointment."""
    clients, appointments = blocks("csv")
    (tmp_path / "first-clients.csv").write_text(clients, encoding="utf-8")
    (tmp_path / "first-appointments.csv").write_text(appointments, encoding="utf-8")
    for kind, name in (
        ("clients", "first-clients.csv"),
        ("appointments", "first-appointments.csv"),
    ) * 2:
        done = subprocess.run(
            [*ringround_argv(), "import", kind, name, "--db", "clinic.db"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    conn = open_database(tmp_path / "clinic.db")
    try:
        got = conn.execute(
            "SELECT c.name, c.external_id, a.doctor FROM appointments a"
            " JOIN clients c ON c.id = a.client_id ORDER BY a.starts_at"
        ).fetchall()
        phones = conn.execute("SELECT count(*) FROM phones").fetchone()[0]
    finally:
        conn.close()
    assert [tuple(row) for row in got] == [
        ("Иванова Анна Петровна", "K-1001", "Орлова Е. В."),
        ("Petrov Boris", "K-1002", "Dr. Wilson"),
    ]
    assert phones == 3


@pytest.fixture
def login(tmp_path: Path) -> tuple[Path, Path]:
    """The guide's login program, starting a stand-in for ringround that records its call."""
    record = tmp_path / "started"
    stand_in = tmp_path / "ringround"
    stand_in.write_text(f'#!/bin/sh\necho "$* umask=$(umask)" > {record}\n', encoding="utf-8")
    stand_in.chmod(0o755)
    program = tmp_path / "ringround-login"
    program.write_text(
        login_program().replace("exec /usr/local/bin/ringround ", f"exec {stand_in} "),
        encoding="utf-8",
    )
    program.chmod(0o755)
    return program, record


def run_login(
    program: Path, *args: str, original: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SSH_ORIGINAL_COMMAND"}
    if original is not None:
        env["SSH_ORIGINAL_COMMAND"] = original
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, env=env, timeout=30, check=False
    )


@pytest.mark.parametrize("args", [(), ("-c", LOGIN)], ids=["console or su", "ForceCommand"])
def test_the_login_program_starts_ringround_for_a_login(
    login: tuple[Path, Path], args: tuple[str, ...]
) -> None:
    program, record = login
    done = run_login(program, *args)
    assert (done.returncode, done.stderr) == (0, "")
    assert record.read_text(encoding="utf-8") == (
        "--policy /etc/ringround/policy.toml umask=0002\n"
    )


@pytest.mark.parametrize(
    ("args", "original"),
    [
        (("-c", "bash"), None),  # ssh host bash, or su -c, without ForceCommand
        (("-c", "/usr/lib/openssh/sftp-server"), None),
        (("-c", LOGIN), "bash"),  # with ForceCommand: what the client asked for
        (("-c", LOGIN), "/usr/lib/openssh/sftp-server"),  # sftp
        (("-c", LOGIN), "internal-sftp"),
        (("-c", LOGIN), "scp -t /tmp"),  # scp -O
        (("-c", LOGIN), ""),  # an empty command is still a command
        (("-c", f"{LOGIN}; bash"), None),
        (("-i",), None),
    ],
    ids=[
        "-c bash",
        "-c sftp-server",
        "bash",
        "sftp",
        "internal-sftp",
        "scp",
        "empty",
        "chained",
        "-i",
    ],
)
def test_the_login_program_refuses_everything_else(
    login: tuple[Path, Path], args: tuple[str, ...], original: str | None
) -> None:
    program, record = login
    done = run_login(program, *args, original=original)
    assert done.returncode == 2
    assert done.stderr == (
        "This login only runs ringround: commands, file transfer and shells are not available.\n"
    )
    assert done.stdout == ""
    assert not record.exists()
