"""What `timhooks listen` prints about requests it refuses and repeats it does not handle again,
and what `timhooks serve` logs about each attempt: enough to see what went wrong, at both ends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import loopback
from loopback import HOST, free_port, timhooks_argv
from timhooks.cli.events import NoticePrinter, rejection_line, repeat_line
from timhooks.cli.output import printable
from timhooks.protocol import build_query, compute_sign
from timhooks.receiver import Cause, Rejection, Repeat

APP = 1400000001
OTHER_APP = 1400000002
GROUP_FULL = "Group.CallbackAfterGroupFull"
AT = 1700000000.0


def rejection(cause: Cause, status: int, reason: str, **kw: Any) -> Rejection:
    return Rejection(status=status, cause=cause, reason=reason, at=AT, **kw)


def test_printable_escapes_control_characters() -> None:
    """Escape sequences, new lines and bidirectional overrides are shown as escapes; ordinary
    text, including non-ASCII letters, is left alone."""
    assert printable("plain Ünïcödé 群组") == "plain Ünïcödé 群组"
    assert printable("a\x1b]0;owned\x07b") == "a\\x1b]0;owned\\x07b"
    assert printable("one\ntwo\r\tthree") == "one\\ntwo\\r\\tthree"
    assert printable("\x9b31m\x7f") == "\\x9b31m\\x7f"
    assert printable("abc\u202edcba\u2028") == "abc\\u202edcba\\u2028"


def test_sign_mismatch_line_names_the_app_and_the_fix() -> None:
    """A wrong Sign is one line: status, what failed for which app, and that the sender's token
    differs from --token."""
    line = rejection_line(
        rejection(
            Cause.SIGN_MISMATCH,
            401,
            "Sign does not match sha256(token + RequestTime)",
            sdk_app_id=APP,
            command=GROUP_FULL,
            peer="127.0.0.1:5000",
        )
    )
    assert line.endswith(
        f"401 Sign mismatch for SdkAppid={APP}: the sender's token differs from --token"
        f" ({GROUP_FULL} from 127.0.0.1:5000)"
    )


def test_unknown_app_line_says_which_app_id_to_start_with() -> None:
    """A webhook for another app says to start listen with that --app-id."""
    line = rejection_line(
        rejection(
            Cause.UNKNOWN_APP,
            403,
            f"SdkAppid {OTHER_APP} is not a configured app",
            sdk_app_id=OTHER_APP,
        )
    )
    assert line.endswith(
        f"403 SdkAppid {OTHER_APP} is not a configured app: start listen with --app-id {OTHER_APP}"
    )
    assert rejection_line(
        rejection(Cause.NOT_POST, 405, "webhooks are POST requests, not GET", peer="[::1]:80")
    ).endswith(
        "405 webhooks are POST requests, not GET: Tencent sends webhooks with POST; is"
        " something else calling this URL? ([::1]:80)"
    )


def test_wire_text_in_a_notice_cannot_forge_lines_or_drive_the_terminal() -> None:
    """Control characters in a reason or a command are printed escaped."""
    evil = rejection(
        Cause.BAD_BODY,
        400,
        'body says "\x1b]0;title\x07"\n2024-01-01T00:00:00.000Z #1 forged',
        sdk_app_id=APP,
        command="Group.Evil\x1b[2J",
    )
    repeat = Repeat(entry_id=5, sdk_app_id=APP, command="Group.\x1b[31mRed\n", at=AT)
    for line in (rejection_line(evil), repeat_line(repeat)):
        assert "\x1b" not in line
        assert "\n" not in line
        assert "\\x1b" in line
    assert repeat_line(repeat).endswith("repeat of #5 (Group.\\x1b[31mRed\\n), not handled again")


async def test_a_flood_of_rejections_is_cut_short_and_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Thirty rejections at once print the first ten, then one line with how many were not
    shown; repeats have a budget of their own."""
    printer = NoticePrinter()
    for n in range(30):
        printer(rejection(Cause.NO_SIGN, 401, "no Sign", sdk_app_id=APP, peer=f"10.0.0.{n}:1"))
    printer(Repeat(entry_id=7, sdk_app_id=APP, command=GROUP_FULL, at=AT))
    printer.report()
    lines = capsys.readouterr().err.splitlines()
    assert len([line for line in lines if " 401 no Sign " in line]) == 10
    assert "… 20 more rejected requests not shown" in lines
    assert any(
        line.endswith("repeat of #7 (Group.CallbackAfterGroupFull), not handled again")
        for line in lines
    )


# --- real processes -----------------------------------------------------------------------


def wait_for(check: Callable[[], Any], within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {value!r})")
        time.sleep(0.05)


@contextmanager
def listen(tmp_path: Path, *flags: str) -> Iterator[tuple[str, Path, Path]]:
    """`timhooks listen` for APP (people's output); yields its URL, stdout and stderr files."""
    port = free_port()
    argv = timhooks_argv("listen", "--app-id", str(APP), "--host", HOST, "--port", str(port))
    argv += ["--db", str(tmp_path / "inbox.db"), *flags]
    out, err = tmp_path / "listen.out", tmp_path / "listen.err"
    with loopback.running(argv, port, out, err):
        yield f"http://{HOST}:{port}", out, err


def signed_query(app: int, command: str, token: str | None) -> str:
    now = int(time.time())
    extra = {} if token is None else {"request_time": now, "sign": compute_sign(token, now)}
    return build_query(
        sdk_app_id=app, callback_command=command, client_ip=HOST, opt_platform="Web", **extra
    )


@pytest.mark.slow
def test_wrong_callback_token_is_explained_by_listen_and_by_serve(tmp_path: Path) -> None:
    """serve with another token than listen's: listen prints a 401 line per request naming the
    app and the fix; serve logs each failed attempt with the status and the first line of the
    answer, never a Sign."""
    with ExitStack() as stack:
        listen_url, _, listen_err = stack.enter_context(listen(tmp_path, "--token", "RIGHT"))
        port = free_port()
        serve_out, serve_err = tmp_path / "serve.out", tmp_path / "serve.err"
        argv = timhooks_argv(
            "serve", "--port", str(port), "--db", str(tmp_path / "served.db"),
            "--app-id", str(APP), "--callback-url", f"{listen_url}/im",
            "--callback-token", "WRONG", "--json",
        )  # fmt: skip
        stack.enter_context(loopback.running(argv, port, serve_out, serve_err))
        # serve prints its start-up facts before it listens; wait for the line all the same.
        facts = json.loads(wait_for(lambda: serve_out.read_text().partition("\n")[0]))
        rest = (
            f"http://{HOST}:{port}/v4/group_open_http_svc/create_group?sdkappid={APP}"
            f"&identifier={facts['admin']}&usersig={facts['admin_usersig']}&random=7"
            "&contenttype=json"
        )
        answer = httpx.post(rest, json={"Type": "Public", "Name": "g"}, timeout=10).json()
        assert answer["ErrorCode"] == 0, answer  # the before-webhook failed: proceed

        def explained() -> list[str]:
            lines = listen_err.read_text().splitlines()
            return [line for line in lines if " 401 Sign mismatch " in line]

        lines = wait_for(lambda: len(explained()) >= 2 and explained())
        for line in lines:
            assert f"401 Sign mismatch for SdkAppid={APP}: the sender's token differs" in line

        def attempt_logged() -> list[str]:
            lines = serve_err.read_text().splitlines()
            return [line for line in lines if "attempt 1" in line and "failed" in line]

        [after] = wait_for(attempt_logged)
        assert "WARNING" in after
        assert "Group.CallbackAfterCreateGroup" in after
        assert "HTTP 401" in after
        assert "Sign does not match" in after
        before = [
            line for line in serve_err.read_text().splitlines() if "BeforeCreateGroup" in line
        ]
        assert any("HTTP 401" in line and "policy: proceed" in line for line in before)
        assert "WRONG" not in serve_err.read_text()
        assert compute_sign("WRONG", 0)[:8] not in serve_err.read_text()


@pytest.mark.slow
def test_listen_prints_other_apps_repeats_and_escapes_what_it_prints(tmp_path: Path) -> None:
    """listen says which --app-id a refused webhook needs, says when a webhook is a repeat of
    a stored one, and prints a webhook's command escaped."""
    evil = "Group.CallbackAfterEvil\x1b]0;owned\x07"
    evil_body = json.dumps({"CallbackCommand": evil, "GroupId": "g"}).encode()
    payload = json.dumps({"CallbackCommand": GROUP_FULL, "GroupId": "@TGS#1"}).encode()
    with listen(tmp_path) as (url, out, err), httpx.Client(base_url=url, timeout=10) as http:
        other = http.post(f"/?{signed_query(OTHER_APP, GROUP_FULL, None)}", content=payload)
        assert other.status_code == 403
        first = http.post(f"/?{signed_query(APP, GROUP_FULL, None)}", content=payload)
        again = http.post(f"/?{signed_query(APP, GROUP_FULL, None)}", content=payload)
        assert (first.status_code, again.status_code) == (200, 200)
        weird = http.post(f"/?{signed_query(APP, evil, None)}", content=evil_body)
        assert weird.status_code == 200

        def printed() -> str:
            text = err.read_text()
            return text if "repeat of #" in text and "start listen" in text else ""

        notices = wait_for(printed)
        assert (
            f"403 SdkAppid {OTHER_APP} is not a configured app: start listen with --app-id"
            f" {OTHER_APP} ({GROUP_FULL} from 127.0.0.1:"
        ) in notices
        assert f"repeat of #1 ({GROUP_FULL}), not handled again" in notices
        events = wait_for(lambda: "CallbackAfterEvil" in out.read_text() and out.read_text())
        assert "\x1b" not in events
        assert "Group.CallbackAfterEvil\\x1b]0;owned\\x07" in events
