"""Running ``python -m timhooks`` in subprocesses: the server, and the deliveries commands."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import httpx
from server_support import APP, KEY, Rest

from loopback import timhooks, timhooks_argv


async def timhooks_json(*args: str) -> Any:
    """Run a ``--json`` command that must succeed; return its parsed output."""
    done = await asyncio.to_thread(timhooks, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def import_owner(rest: Rest, facts: dict[str, Any]) -> None:
    """Import the user "owner" with the admin UserSig from the start-up ``facts`` of serve."""
    await rest.call(
        "im_open_login_svc", "account_import", {"UserID": "owner"}, usersig=facts["admin_usersig"]
    )


class ServeProcess:
    """``python -m timhooks serve --json`` in a subprocess; ``facts`` is its start-up JSON."""

    def __init__(
        self, tmp_path: Path, port: int, db: Path, callback_url: str, *extra: str, name: str
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = tmp_path / f"{name}.stderr"
        self._log: IO[str] = open(self.log_path, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            timhooks_argv(
                "serve",
                "--port",
                str(port),
                "--db",
                str(db),
                "--app-id",
                str(APP),
                "--key",
                KEY,
                "--callback-url",
                callback_url,
                "--json",
                *extra,
            ),
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.facts: dict[str, Any] = {}

    def stderr(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    async def started(self, within: float = 20) -> dict[str, Any]:
        """Read the start-up facts and wait until the REST endpoint answers."""
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), within)
        assert line, f"serve printed nothing; stderr: {self.stderr()}"
        self.facts = json.loads(line)
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url) as http:
            while True:
                try:
                    if (await http.get("/")).status_code == 200:
                        return self.facts
                except httpx.TransportError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"serve did not come up; stderr: {self.stderr()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        self.proc.kill()
        self.proc.wait(10)

    async def terminate(self, within: float = 15) -> int:
        """SIGTERM and wait for a graceful exit; return the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.proc.wait, within)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
