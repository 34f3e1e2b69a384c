"""``timhooks trigger``: send one webhook to an endpoint exactly as Tencent would, or make
``timhooks serve`` send it from a real change (``--via-server``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from timhooks.cli.output import print_json, printable, run_async
from timhooks.cli.parser import add_command
from timhooks.protocol.commands import COMMANDS, CommandSpec
from timhooks.protocol.errors import ConfigError
from timhooks.protocol.query import Platform

__all__ = ["add_commands"]

_DESCRIPTION = """\
With --url, the body is built from the command's model with realistic values (Tencent's sample)
and a fresh EventTime; the query carries SdkAppid, CallbackCommand, contenttype, ClientIP and
OptPlatform (as the command's page documents them) and, with --token, Sign and a fresh
RequestTime. trigger prints the answer, its status and latency and, for a before-webhook, what
the answer does to the caller. Exit status 1 unless the endpoint answers HTTP 200 with a valid
{ActionStatus, ErrorCode, ErrorInfo} answer within --timeout.

With --via-server, trigger makes the change that sends the webhook on a running timhooks serve,
through its REST API (fresh users, a fresh Official Account or group): serve then sends the
webhook to its callback URL, exactly as in production. Only the commands serve sends can be
triggered so (--list says which).

--set FIELD=VALUE changes the body: dotted paths reach nested fields, numbers index arrays
(MsgBody.0.MsgContent.Text=hi), and a VALUE that parses as JSON is JSON (5, true, [..], {..},
"5" for a string of digits); any other VALUE is a string."""


def add_commands(commands: Any) -> None:
    """Register ``trigger``."""
    trigger = add_command(
        commands,
        "trigger",
        summary="send one webhook to an endpoint as Tencent would, or make timhooks serve send it",
        description=_DESCRIPTION,
        example="timhooks trigger Group.CallbackAfterGroupFull --url http://127.0.0.1:8000/im"
        " --app-id 1400000001 --token s3cret\n"
        "timhooks trigger C2C.CallbackBeforeSendMsg --url http://127.0.0.1:8000/im --app-id"
        " 1400000001 --set MsgBody.0.MsgContent.Text=spam\n"
        "timhooks trigger OfficialAccount.CallbackAfterOfficialAccountFull --via-server"
        " http://127.0.0.1:8600 --app-id 1400000001 --key my-secret-key\n"
        "timhooks trigger --list",
        json_help="print the result (or the list) as one JSON object",
    )
    trigger.add_argument(
        "command",
        nargs="?",
        metavar="COMMAND",
        help="the CallbackCommand, e.g. Group.CallbackAfterGroupFull",
    )
    trigger.add_argument(
        "--list",
        action="store_true",
        help="list every command with its phase and whether --via-server can send it",
    )
    trigger.add_argument(
        "--url", help="the endpoint to send the webhook to (default: none; or --via-server)"
    )
    trigger.add_argument(
        "--app-id",
        type=int,
        metavar="SDKAPPID",
        help="the app's SDKAppID (default: none; required with --url and --via-server)",
    )
    trigger.add_argument(
        "--token",
        help="webhook token: sign the query with Sign and RequestTime (default: none, unsigned)",
    )
    trigger.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set a body field; dotted paths, JSON values; repeatable (default: none)",
    )
    trigger.add_argument(
        "--body",
        metavar="FILE",
        help="the body from a JSON file, or - for stdin, instead of the built one; --set still"
        " applies (default: built from the command's model)",
    )
    trigger.add_argument(
        "--platform",
        default=Platform.RESTAPI.value,
        choices=[p.value for p in Platform],
        help="OptPlatform of the query",
    )
    trigger.add_argument("--client-ip", default="127.0.0.1", metavar="IP", help="ClientIP")
    trigger.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for the answer (default: %(default)s, Tencent's timeout; an"
        " answer after 2 s counts as failed)",
    )
    trigger.add_argument(
        "--via-server",
        metavar="URL",
        help="make a running timhooks serve send the webhook from a real change, through its"
        " REST API (default: none; or --url)",
    )
    trigger.add_argument(
        "--key",
        help="the app's secret key, for the admin's UserSig with --via-server (default: none)",
    )
    trigger.add_argument(
        "--admin",
        default="administrator",
        metavar="ID",
        help="the admin identifier with --via-server",
    )
    trigger.set_defaults(run=run_trigger)


def run_trigger(args: argparse.Namespace) -> int:
    """Send the webhook (or run the scenario, or list the commands); the exit status."""
    if args.list:
        return _list(args)
    if not args.command:
        raise ConfigError("name the CallbackCommand to send (`timhooks trigger --list` lists them)")
    from timhooks.devtools.bodies import known_command

    spec = known_command(args.command)
    if (args.url is None) == (args.via_server is None):
        raise ConfigError("give the endpoint with --url URL, or a server with --via-server URL")
    if args.app_id is None:
        raise ConfigError("give the app's SDKAppID with --app-id")
    if args.via_server is not None:
        return _via_server(args, spec)
    return _send(args, spec)


def _list(args: argparse.Namespace) -> int:
    from timhooks.devtools.scenarios import SCENARIOS

    rows = [
        {"command": name, "phase": spec.phase.value, "via_server": name in SCENARIOS}
        for name, spec in COMMANDS.items()
    ]
    if args.json:
        print_json({"commands": rows})
        return 0
    width = max(len(name) for name in COMMANDS)
    print(f"{'COMMAND':<{width}}  PHASE   --via-server")
    for row in rows:
        print(f"{row['command']:<{width}}  {row['phase']:<6}  {'yes' if row['via_server'] else ''}")
    return 0


# --- --url: one webhook ------------------------------------------------------------------------


def _read_body(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read --body {source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--body {source} is not UTF-8 text (a JSON body is)") from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--body {source} is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ConfigError(f"--body {source} must hold a JSON object (a webhook body)")
    return body


def _send(args: argparse.Namespace, spec: CommandSpec) -> int:
    from timhooks.delivery.http import HttpPool
    from timhooks.devtools import bodies, webhook
    from timhooks.protocol.signing import compute_sign
    from timhooks.server.config import validate_callback_url

    validate_callback_url(args.url)
    if args.timeout <= 0:
        raise ConfigError("--timeout must be a positive number of seconds")
    assignments = [bodies.Assignment.parse(text) for text in args.assignments]
    now = time.time()
    if args.body is not None:
        body = _read_body(args.body)
    else:
        body = bodies.build_body(spec, now=now, sdk_app_id=args.app_id)
    bodies.apply_assignments(body, assignments)
    raw = bodies.check_body(spec, body)
    request_time = int(now) if args.token else None
    query = webhook.webhook_query(
        spec.name,
        sdk_app_id=args.app_id,
        client_ip=args.client_ip,
        platform=args.platform,
        request_time=request_time,
        sign=compute_sign(args.token, request_time) if request_time is not None else None,
    )

    async def post() -> webhook.Exchange:
        pool = HttpPool()
        try:
            return await webhook.post_webhook(pool, args.url, query, raw, time_limit=args.timeout)
        finally:
            await pool.aclose()

    exchange = run_async(post())
    verdict = webhook.judge(spec, exchange, budget=min(args.timeout, webhook.TENCENT_TIMEOUT))
    meaning = (
        webhook.describe_decision(spec, verdict.decision) if verdict.decision is not None else None
    )
    if args.json:
        print_json(
            {
                "command": spec.name,
                "phase": spec.phase.value,
                "url": exchange.url,
                "body": body,
                "status": exchange.status,
                "latency_ms": round(exchange.latency_ms, 3),
                "answer": exchange.answer_json(),
                "ok": verdict.ok,
                "problem": verdict.problem,
                "decision": meaning,
            }
        )
    else:
        print(f"POST {printable(exchange.url)}")
        print(f"  {printable(raw.decode())}")
        if exchange.status is not None:
            print(f"HTTP {exchange.status} in {exchange.latency_ms:.1f} ms")
            print(f"  {printable(exchange.answer_text(2000))}")
        if meaning is not None:
            print(f"decision: {printable(meaning)}")
        if not verdict.ok:
            print(
                f"failed: {printable(verdict.problem or '')}: Tencent counts this webhook as"
                " failed",
                file=sys.stderr,
            )
    return 0 if verdict.ok else 1


# --- --via-server: a real change -----------------------------------------------------------------


def _via_server(args: argparse.Namespace, spec: CommandSpec) -> int:
    from timhooks.devtools.scenarios import SCENARIOS

    scenario = SCENARIOS.get(spec.name)
    if scenario is None:
        raise ConfigError(
            f"timhooks serve cannot send {spec.name}: it sends only the webhooks its REST"
            " commands and client actions make (`timhooks trigger --list` marks them); send this"
            f" one to your endpoint directly with `timhooks trigger {spec.name} --url URL`"
        )
    if args.key is None:
        raise ConfigError("--via-server calls the REST API as the admin: give the app's --key")
    if args.assignments or args.body is not None:
        raise ConfigError(
            "--set and --body change a body trigger builds; with --via-server the server builds"
            " it from the change"
        )
    from timhooks.devtools.scenarios import Step
    from timhooks.devtools.trigger import trigger_via_server

    def show(step: Step) -> None:
        if args.json:
            return
        answer = {k: v for k, v in step.answer.items() if k not in ("ActionStatus", "RequestId")}
        who = "" if step.identifier == args.admin else f" as {step.identifier}"
        print(printable(f"POST {step.command}{who} {json.dumps(dict(step.body))}"))
        print(printable(f"  → {json.dumps(answer, ensure_ascii=False)}"))

    outcome = run_async(
        trigger_via_server(
            args.via_server, spec, app_id=args.app_id, key=args.key, admin=args.admin, on_step=show
        )
    )
    if args.json:
        print_json(outcome.to_dict())
    elif outcome.sent:
        print(printable(outcome.summary))
    else:
        print(printable(outcome.summary), file=sys.stderr)
    return 0 if outcome.sent else 1
