"""`timhooks serve` and `timhooks listen` ports: validated, bound before anything is created,
and the real one printed."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from loopback import HOST, reap, timhooks, timhooks_argv, wait_port

pytestmark = pytest.mark.slow

COMMANDS = {
    "serve": ("serve", "--app-id", "1400000001", "--key", "k"),
    "listen": ("listen", "--app-id", "1400000001"),
}


def argv(command: str, port: int | str, db: Path) -> list[str]:
    """The flags of ``command`` on ``port`` with its database at ``db``."""
    return [*COMMANDS[command], "--host", HOST, "--port", str(port), "--db", str(db)]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_a_port_out_of_range_is_refused(tmp_path: Path, command: str, port: str) -> None:
    """A port outside 0-65535 is one error, exit status 2, and no database is created."""
    db = tmp_path / "x.db"
    done = timhooks(*argv(command, port, db))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"timhooks: error: port {port} is out of range: 1 to 65535, or 0 for any free port\n"
    )
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_busy_port_is_one_error_and_creates_nothing(tmp_path: Path, command: str) -> None:
    """A port something else listens on is one line on stderr, exit status 2, nothing on stdout
    and no database file."""
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = tmp_path / "x.db"
        done = timhooks(*argv(command, port, db))
    assert done.returncode == 2, done.stderr
    busy = f"timhooks: error: cannot listen on {HOST}:{port}: Address already in use\n"
    assert done.stderr == busy
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_serve_on_port_0_prints_the_port_it_listens_on(tmp_path: Path) -> None:
    """serve --port 0 --json gives the URL with the port it picked, and that port answers."""
    with subprocess.Popen(
        timhooks_argv(*argv("serve", 0, tmp_path / "s.db"), "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            assert process.stdout is not None
            url = json.loads(process.stdout.readline())["url"]
            host, port = url.removeprefix("http://").rsplit(":", 1)
            assert host == HOST
            assert int(port) != 0
            wait_port(int(port), process)
        finally:
            reap(process)


def test_listen_on_port_0_prints_the_port_it_listens_on(tmp_path: Path) -> None:
    """listen --port 0 names the port it picked in its start-up line, and that port answers."""
    with subprocess.Popen(
        timhooks_argv(*argv("listen", 0, tmp_path / "l.db")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as process:
        try:
            assert process.stderr is not None
            line = process.stderr.readline().decode()
            assert line.startswith(f"timhooks listening on http://{HOST}:"), line
            port = int(line.split()[3].rsplit(":", 1)[1])
            assert port != 0
            wait_port(port, process)
        finally:
            reap(process)
