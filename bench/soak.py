"""Soak run (not a test, not in CI): `timhooks serve` and `timhooks listen` under steady load.

    python bench/soak.py --duration 60 --rate 50

Starts both as subprocesses on 127.0.0.1 (serve sends every after-webhook of create_group to
listen, with retries on), makes REST calls at a steady rate for --duration seconds, waits for the
outbox to drain, then reports webhooks sent (outbox rows created), received (inbox rows), lost
(committed changes whose webhook is not in the inbox: must be 0) and the RSS of both processes
over time (VmRSS from /proc every few seconds).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from benchlib import tables
from benchlib.procs import HOST, PYTHON, Procs, free_port, proc_status

from timhooks.protocol import generate_usersig

APP = 1400000555
KEY = "soak-key"
COMMAND = "Group.CallbackAfterCreateGroup"


def rss_kib(pid: int) -> int | None:
    """The process's resident set now (KiB), or None once it has gone."""
    return proc_status(pid).get("VmRSS")


def main() -> int:
    """Run the soak; print what was sent, received and lost, and the RSS over time."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=50.0, help="REST calls per second")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--workdir", help="where the databases go (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="timhooks-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    chat_db, inbox_db = work / "chat.db", work / "inbox.db"
    samples: list[tuple[float, int | None, int | None]] = []
    stop = threading.Event()
    committed: list[str] = []
    errors = 0
    started = time.monotonic()
    procs = Procs(work)
    with procs.running():
        listen_port, serve_port = free_port(), free_port()
        argv = [PYTHON, "-m", "timhooks", "listen", "--app-id", str(APP), "--host", HOST]
        argv += ["--port", str(listen_port), "--db", str(inbox_db)]
        listen = procs.start("listen", argv, port=listen_port)
        argv = [PYTHON, "-m", "timhooks", "serve", "--host", HOST, "--port", str(serve_port)]
        argv += ["--db", str(chat_db), "--app-id", str(APP), "--key", KEY]
        argv += ["--callback-url", f"{listen.url}/im", "--callback-commands", COMMAND]
        serve = procs.start("serve", argv, port=serve_port)

        def sample() -> None:
            while not stop.is_set():
                samples.append(
                    (time.monotonic() - started, rss_kib(serve.pid), rss_kib(listen.pid))
                )
                stop.wait(args.sample)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with httpx.Client(base_url=serve.url, timeout=30) as http:

                def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
                    sig = generate_usersig(APP, KEY, "administrator", now=int(time.time()))
                    query = {"sdkappid": str(APP), "identifier": "administrator", "usersig": sig}
                    answer: dict[str, Any] = http.post(
                        f"/v4/{path}", params=query, json=body
                    ).json()
                    return answer

                retry = {"AfterRetry": {"Attempts": 20, "BaseSeconds": 0.5, "Factor": 2}}
                answer = call("timhooks_config/set_callback", retry)
                if answer["ErrorCode"] != 0:
                    raise SystemExit(f"set_callback failed: {answer}")
                load_start = time.monotonic()
                interval = 1.0 / args.rate
                i = 0
                while (now := time.monotonic()) - load_start < args.duration:
                    due = load_start + i * interval
                    if now < due:
                        time.sleep(due - now)
                    answer = call(
                        "group_open_http_svc/create_group", {"Type": "Public", "Name": f"s{i}"}
                    )
                    if answer["ErrorCode"] == 0:
                        committed.append(answer["GroupId"])
                    else:
                        errors += 1
                    i += 1
                load_took = time.monotonic() - load_start

            drain_start = time.monotonic()
            while time.monotonic() - drain_start < 120 and tables.pending_outbox(chat_db):
                time.sleep(0.5)
            time.sleep(1.0)  # the last 200s are written before they are sent; let reads settle
            drained = time.monotonic() - drain_start
        finally:
            stop.set()
            sampler.join()

    sent = tables.after_webhooks(chat_db)
    statuses = tables.outbox_statuses(chat_db)
    bodies = [json.loads(body) for body in tables.inbox_bodies(inbox_db)]
    received_ids = [b.get("GroupId") for b in bodies]
    lost = sorted(set(committed) - set(received_ids))
    report = {
        "duration_s": round(load_took, 1),
        "rate_per_s": round(len(committed) / load_took, 1),
        "rest_calls_committed": len(committed),
        "rest_calls_failed": errors,
        "webhooks_sent": sent,
        "outbox_status": statuses,
        "webhooks_received": len(bodies),
        "duplicates_in_inbox": len(received_ids) - len(set(received_ids)),
        "lost": len(lost),
        "drain_s": round(drained, 1),
        "rss_kib": [
            {"t": round(t, 1), "serve": s, "listen": listen_rss} for t, s, listen_rss in samples
        ],
        "workdir": str(work),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            if key != "rss_kib":
                print(f"{key:>22}: {value}")
        print(f"{'t (s)':>8} {'serve RSS (MiB)':>16} {'listen RSS (MiB)':>17}")
        for t, s, listen_rss in samples:
            show = [f"{v / 1024:.1f}" if v is not None else "-" for v in (s, listen_rss)]
            print(f"{t:>8.1f} {show[0]:>16} {show[1]:>17}")
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
