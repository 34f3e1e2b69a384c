"""``timhooks check URL``: audit an app's webhook endpoint against what Tencent expects."""

from __future__ import annotations

import argparse
from typing import Any

from timhooks.cli.output import print_json, printable, run_async
from timhooks.cli.parser import add_command

__all__ = ["add_commands"]

_DESCRIPTION = """\
Sends real webhooks and judges each answer, like a linter for the endpoint: a valid signed
after-webhook must get HTTP 200 and {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
within Tencent's 2 s; a before-webhook (--command) a valid decision the command allows, within
2 s; a wrong SdkAppid, a wrong Sign, a missing Sign and a RequestTime over 60 s old must each be
refused; the same webhook sent twice must be answered OK both times. The bodies are realistic
samples: point check at a development or staging endpoint. Exit status 1 when a check fails."""

_MARKS = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


def add_commands(commands: Any) -> None:
    """Register ``check``."""
    check = add_command(
        commands,
        "check",
        summary="audit an app's webhook endpoint: answers, Sign checks, deadlines, repeats",
        description=_DESCRIPTION,
        example="timhooks check http://127.0.0.1:8000/im --app-id 1400000001 --token s3cret\n"
        "timhooks check http://127.0.0.1:8000/im --app-id 1400000001 --token s3cret"
        " --command C2C.CallbackBeforeSendMsg --json",
        json_help="print the report as one JSON object (for CI)",
    )
    check.add_argument("url", metavar="URL", help="the endpoint: the app's webhook URL")
    check.add_argument(
        "--app-id", type=int, required=True, metavar="SDKAPPID", help="the app's SDKAppID"
    )
    check.add_argument(
        "--token",
        help="the app's webhook token (default: none: the Sign checks are skipped)",
    )
    check.add_argument(
        "--command",
        dest="commands",
        action="append",
        default=[],
        metavar="NAME",
        help="a command to send a valid webhook of; a before-webhook's decision is checked;"
        " repeatable (default: Group.CallbackAfterGroupFull)",
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for each answer (one after 2 s fails all the same)",
    )
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Run the checks; print the report; exit status 1 if one failed."""
    from timhooks.devtools.checks import DEFAULT_CHECK_COMMAND, EndpointChecker, evidence_lines

    checker = EndpointChecker(
        args.url,
        app_id=args.app_id,
        token=args.token,
        commands=args.commands or [DEFAULT_CHECK_COMMAND],
        time_limit=args.timeout,
    )
    results = run_async(checker.run())
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in _MARKS}
    if args.json:
        print_json(
            {
                "url": args.url,
                "sdk_app_id": args.app_id,
                "checks": [r.to_dict() for r in results],
                "passed": counts["pass"],
                "failed": counts["fail"],
                "skipped": counts["skip"],
            }
        )
    else:
        signed = "signed" if args.token else "unsigned"
        print(f"timhooks check {args.url} (SdkAppid {args.app_id}, {signed})")
        for r in results:
            print(f"{_MARKS[r.outcome]}  {r.title}")
            for line in evidence_lines(r):
                print(printable(f"      {line}"))
            if r.outcome != "pass" or r.id == "before-decision":
                print(printable(f"      {r.detail}"))
        print(
            f"{len(results)} checks: {counts['pass']} passed, {counts['fail']} failed,"
            f" {counts['skip']} skipped"
        )
    return 1 if counts["fail"] else 0
