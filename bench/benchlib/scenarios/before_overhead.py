"""e: what a before-webhook adds to create_official_account, with BeforeCreateOfficialAccount on
and off in one `timhooks serve` whose app backend is `timhooks listen`."""

from __future__ import annotations

from typing import Any

import httpx

from benchlib import tables
from benchlib.calls import admin_usersig, pool_user, rest_call, rest_target, write_lines
from benchlib.harness import Bench, need, no_errors, order, scenario, wait_for
from benchlib.results import Section
from timhooks.protocol.commands import COMMANDS
from timhooks.protocol.events import BeforeCreateOfficialAccount

OWNERS = 100  # imported accounts that own the new Official Accounts in turn


def before_overhead(b: Bench) -> Section:
    """e. create_official_account latency with BeforeCreateOfficialAccount on and off."""
    s = b.s
    m = s.create_calls
    before = BeforeCreateOfficialAccount.command
    sec = Section("e", "Before-webhook overhead on create_official_account")
    sec.sizes = f"batches of {m} calls, one connection"
    with scenario(sec, b.say):
        work = b.workdir("e-before")
        db = work / "server.db"
        tables.fill_accounts(db, OWNERS)
        listener = b.listen(work / "inbox.db")
        serve = b.serve(db, callback=listener.url + "/")
        sig = admin_usersig()
        on_list = sorted(COMMANDS)
        off_list = [c for c in on_list if c != before]

        def set_commands(commands: list[str]) -> None:
            answer = httpx.post(
                serve.url + rest_target("timhooks_config/set_callback", sig),
                json={"CallbackCommandList": commands},
                timeout=10,
            ).json()
            need(answer.get("ActionStatus") == "OK", f"set_callback failed: {answer}")

        def batch(name: str, calls: int) -> dict[str, Any]:
            file = write_lines(
                work / f"{name}.jsonl",
                (
                    rest_call(
                        "official_account_open_http_svc/create_official_account",
                        sig,
                        {
                            "Owner_Account": pool_user(j % OWNERS),
                            "Name": f"bench {name} {j}",
                            "OfficialAccountUserID": f"@TOA#_{name}_{j}",
                        },
                    )
                    for j in range(calls)
                ),
            )
            return b.calls(serve, file, connections=1)

        set_commands(on_list)
        batch("warm", 20)
        for run in range(s.runs):
            p: dict[str, tuple[float, float]] = {}
            for side in order(run, ("on", "off")):
                set_commands(on_list if side == "on" else off_list)
                counted = tables.before_webhooks(db, before)
                result = batch(f"r{run}{side}", m)
                no_errors(result, f"create_official_account ({side})")
                want = counted + (m if side == "on" else 0)
                settled, _ = wait_for(
                    lambda w=want: tables.before_webhooks(db, before) == w,
                    cap=10,
                    alive=[serve, listener],
                )
                need(
                    settled,
                    f"{side}: {tables.before_webhooks(db, before) - counted} before-webhooks "
                    f"recorded for {m} calls",
                )
                label = f"before-webhook {side}"
                p[side] = (result["p50_ms"], result["p99_ms"])
                sec.figure(f"{label}: p50 latency", "ms", 2).add(result["p50_ms"])
                sec.figure(f"{label}: p99 latency", "ms", 2).add(result["p99_ms"])
                sec.figure(f"{label}: calls/s", "calls/s", 0).add(result["rps"])
                b.say(f"  run {run + 1} {label}: p50 {result['p50_ms']:.2f} ms")
            sec.figure("added p50 latency (on - off)", "ms", 2).add(p["on"][0] - p["off"][0])
            sec.figure("added p99 latency (on - off)", "ms", 2).add(p["on"][1] - p["off"][1])
        b.procs.stop(serve)
        b.procs.stop(listener)
    return sec
