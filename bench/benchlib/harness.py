"""What every scenario uses: the processes under test, the load generators, and the steps that
turn a measurement into figures or a failed check.

``Bench`` starts `timhooks listen`, `timhooks serve`, `timhooks worker` and the bare app as
subprocesses on fresh ports (bench/README.md, "How every figure is measured"), and runs
bench/loadgen.py or bench/rawclient.py against them to completion.
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchlib.calls import APP_ID, KEY, TOKEN
from benchlib.cpu import CpuWindow
from benchlib.procs import BENCH, HOST, PYTHON, BenchError, Proc, Procs, free_port, run_json
from benchlib.results import Section
from benchlib.settings import Settings
from timhooks.hosting import DEFAULT_KEEP_ALIVE


class Bench:
    """Starts the processes of a scenario and runs load generators against them."""

    def __init__(self, settings: Settings, root: Path, procs: Procs, say: Callable[[str], None]):
        self.s = settings
        self.root = root
        self.procs = procs
        self.say = say
        self._dirs = 0

    def workdir(self, name: str) -> Path:
        """A new directory under the run's temp directory."""
        self._dirs += 1
        path = self.root / f"{self._dirs:02d}-{name}"
        path.mkdir()
        return path

    # --- processes --------------------------------------------------------------------------

    def listen(self, db: Path, *, token: str | None = TOKEN, metrics: bool = True) -> Proc:
        """``timhooks listen`` on a fresh port (its event lines go to /dev/null);
        ``metrics=False``: ``--no-metrics``."""
        port = free_port()
        argv = [PYTHON, "-m", "timhooks", "listen", "--app-id", str(APP_ID), "--host", HOST]
        argv += ["--port", str(port), "--db", str(db)]
        if token:
            argv += ["--token", token]
        if not metrics:
            argv.append("--no-metrics")
        return self.procs.start("listen", argv, port=port)

    def bare(self) -> Proc:
        """bench/bare_app.py under uvicorn with the options ``timhooks listen`` uses."""
        return self._uvicorn("bare", "bare_app:app")

    def durable(self, db: Path) -> Proc:
        """bench/durable_app.py, committing each body to ``db``, under uvicorn as ``bare``."""
        return self._uvicorn("durable", "durable_app:app", env={"TIMHOOKS_BENCH_DB": str(db)})

    def _uvicorn(self, name: str, app: str, env: dict[str, str] | None = None) -> Proc:
        port = free_port()
        argv = [PYTHON, "-m", "uvicorn", app, "--app-dir", str(BENCH)]
        argv += ["--host", HOST, "--port", str(port), "--log-level", "warning"]
        argv += ["--no-access-log", "--lifespan", "on", "--ws", "none"]
        # The HTTP protocol with the connection limits timhooks serves with, and its idle
        # keep-alive time (src/timhooks/hosting.py).
        argv += ["--http", "timhooks.hosting:LimitedHttpProtocol"]
        argv += ["--timeout-keep-alive", f"{DEFAULT_KEEP_ALIVE:g}"]
        return self.procs.start(name, argv, port=port, env=env)

    def serve(
        self,
        db: str | Path,
        *,
        callback: str | None,
        name: str = "serve",
        dispatch: bool = True,
        metrics: bool = True,
    ) -> Proc:
        """``timhooks serve`` on ``db`` for the bench app, webhooks to ``callback`` (signed);
        ``dispatch=False``: ``--no-dispatch`` (workers deliver); ``metrics=False``:
        ``--no-metrics``."""
        port = free_port()
        argv = [PYTHON, "-m", "timhooks", "serve", "--db", str(db), "--app-id", str(APP_ID)]
        argv += ["--key", KEY, "--host", HOST, "--port", str(port)]
        if callback is not None:
            argv += ["--callback-url", callback, "--callback-token", TOKEN]
        if not dispatch:
            argv.append("--no-dispatch")
        if not metrics:
            argv.append("--no-metrics")
        return self.procs.start(name, argv, port=port)

    def worker(self, db: str | Path, *, name: str = "worker", settle: float = 1.0) -> Proc:
        """``timhooks worker`` delivering from ``db`` (it listens nowhere), checked to be still
        running after ``settle`` seconds."""
        argv = [PYTHON, "-m", "timhooks", "worker", "--db", str(db)]
        return self.procs.start(name, argv, port=None, settle=settle)

    # --- load -------------------------------------------------------------------------------

    def loadgen(self, url: str | Sequence[str], *args: str, timeout: float) -> dict[str, Any]:
        """Run bench/loadgen.py to completion against one URL or several; its JSON figures."""
        urls = [url] if isinstance(url, str) else list(url)
        return run_json(
            [PYTHON, str(BENCH / "loadgen.py"), *urls, "--app-id", str(APP_ID), *args],
            timeout=timeout,
            cwd=self.root,
        )

    def calls(self, proc: Proc, requests: Path, *, connections: int) -> dict[str, Any]:
        """Send a file of REST calls once over ``connections`` connections; every answer must be
        OK (``--expect-ok``)."""
        return self.loadgen(
            proc.url + "/",
            "--requests-file",
            str(requests),
            "--connections",
            str(connections),
            "--duration",
            "600",
            "--expect-ok",
            timeout=660,
        )

    def rawclient(self, url: str, requests: Path, *, loop: str, cap: float) -> dict[str, Any]:
        """Run bench/rawclient.py over a requests file; its JSON figures."""
        argv = [PYTHON, str(BENCH / "rawclient.py"), url, "--requests-file", str(requests)]
        argv += ["--connections", str(self.s.connections), "--loop", loop, "--duration", str(cap)]
        return run_json(argv, timeout=cap + 60, cwd=self.root)

    def closed_loop(self, proc: Proc, *extra: str) -> tuple[dict[str, Any], CpuWindow]:
        """Signed after-webhooks from ``connections`` connections for ``duration`` seconds."""
        s = self.s
        args = ["--token", TOKEN, "--connections", str(s.connections)]
        args += ["--duration", str(s.duration), "--warmup", str(s.warmup), *extra]
        with CpuWindow([proc]) as window:
            result = self.loadgen(proc.url + "/", *args, timeout=s.duration + s.warmup + 60)
        proc.check_alive()
        return result, window

    def background_load(self, proc: Proc, seconds: float) -> subprocess.Popen[bytes]:
        """The closed-loop load of signed after-webhooks, left running (while a profiler
        samples ``proc``)."""
        argv = [PYTHON, str(BENCH / "loadgen.py"), proc.url + "/", "--app-id", str(APP_ID)]
        argv += ["--token", TOKEN, "--connections", str(self.s.connections)]
        argv += ["--duration", str(seconds)]
        return subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.root,
            start_new_session=True,
        )


# --- steps ---------------------------------------------------------------------------------------


def order(run: int, sides: Sequence[str]) -> list[str]:
    """The sides in this run's order: as given on even runs, reversed on odd ones."""
    return list(sides) if run % 2 == 0 else list(reversed(sides))


def need(condition: bool, message: str) -> None:
    """A check of the scenario: BenchError with ``message`` unless it holds."""
    if not condition:
        raise BenchError(message)


def no_errors(result: dict[str, Any], what: str) -> None:
    """Check that the load generator saw no failed request."""
    need(
        int(result.get("errors", 0)) == 0,
        f"{what}: {result.get('errors')} failed requests ({result.get('sample_error', '')})",
    )


def wait_for(
    check: Callable[[], bool], *, cap: float, alive: Sequence[Proc], every: float = 0.2
) -> tuple[bool, float]:
    """Poll ``check`` until true or ``cap`` seconds, while ``alive`` still run; (done, seconds
    waited)."""
    start = time.perf_counter()
    while True:
        for proc in alive:
            proc.check_alive()
        if check():
            return True, time.perf_counter() - start
        if time.perf_counter() - start > cap:
            return False, time.perf_counter() - start
        time.sleep(every)


@contextmanager
def scenario(section: Section, say: Callable[[str], None]) -> Iterator[Section]:
    """Time a scenario; a failure becomes the section's error instead of ending the harness."""
    start = time.perf_counter()
    say(f"[{section.key}] {section.title}")
    try:
        yield section
    except BenchError as exc:
        section.error = str(exc)
        say(f"[{section.key}] FAILED: {exc}")
    finally:
        section.seconds = time.perf_counter() - start


def cpu_figures(
    section: Section, prefix: str, window: CpuWindow, proc: Proc, per_second: float
) -> None:
    """CPU of the process under test (cores, and microseconds per request), of the load
    generator and of everything else on the machine."""
    cores = window.cores(proc.name)
    section.figure(f"{prefix}: CPU", "cores", 2).add(cores)
    section.figure(f"{prefix}: CPU per request", "µs", 0).add(
        cores / per_second * 1e6 if per_second > 0 else math.nan
    )
    section.figure(f"{prefix}: load generator CPU", "cores", 2).add(window.load_cores)
    section.figure(f"{prefix}: other processes' CPU", "cores", 2).add(window.other_cores)
