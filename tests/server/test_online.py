"""Online state end to end: the client's login, logout and lost connections, the admin's kick,
query_online_status, and State.StateChange ("Status Change Webhooks",
https://www.tencentcloud.com/document/product/1047/34357) at a real timhooks Receiver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_support import LOGIN, TOKEN, Clock, Stack, check_query, stack

from timhooks.protocol import events as ev

STATE = ev.StateChange.command


async def act(st: Stack, user: str, action: str, platform: str, body: dict | None = None) -> None:
    """A client action that sends one StateChange, and its arrival: webhooks go out
    concurrently, so the next action waits for this one's."""
    before = len(st.recorder.of(STATE))
    assert (await st.rest.client(user, action, body or {}, platform))["ErrorCode"] == 0
    await st.recorder.wait_for(STATE, before + 1)


async def status(st: Stack, *users: str) -> dict[str, Any]:
    body = {"To_Account": list(users), "IsNeedDetail": 1}
    return await st.rest.ok("openim", "query_online_status", body)


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_login_and_logout_send_state_change(token: str | None, tmp_path: Path) -> None:
    """Login sends StateChange Login/Register from the client's platform and makes the user
    Online; logout sends Logout/Unregister and leaves the user Offline."""
    async with stack(tmp_path, token=token) as st:
        with Clock() as t:
            assert (await st.rest.client("u", "login", {}, "Windows"))["ErrorCode"] == 0
        await st.webhook(
            STATE,
            t.window,
            "Windows",
            Info={"Action": "Login", "To_Account": "u", "Reason": "Register"},
        )
        [event] = await st.received(STATE)
        assert isinstance(event, ev.StateChange)
        assert (event.info.action, event.info.to_account) == ("Login", "u")
        online = await status(st, "u")
        assert online["QueryResult"] == [
            {
                "To_Account": "u",
                "Status": "Online",
                "Detail": [{"Platform": "Windows", "Status": "Online"}],
            }
        ]
        with Clock() as t:
            await st.rest.client("u", "logout", {}, "Windows")
        await st.webhook(
            STATE,
            t.window,
            "Windows",
            nth=2,
            Info={"Action": "Logout", "To_Account": "u", "Reason": "Unregister"},
        )
        assert (await status(st, "u"))["QueryResult"] == [
            {"To_Account": "u", "Status": "Offline", "Detail": []}
        ]


async def test_disconnect_leaves_phones_push_online(tmp_path: Path) -> None:
    """A lost connection sends Disconnect (LinkClose or TimeOut); an Android user stays
    PushOnline, a Web user goes Offline; the phone's next login is the same device, not a
    kick."""
    async with stack(tmp_path) as st:
        await act(st, "p", "login", "Android")
        await act(st, "w", "login", "Web")
        with Clock() as t:
            await st.rest.client("p", "disconnect", {"Reason": "TimeOut"}, "Android")
        await st.webhook(
            STATE,
            t.window,
            "Android",
            nth=3,
            Info={"Action": "Disconnect", "To_Account": "p", "Reason": "TimeOut"},
        )
        await st.rest.client("w", "disconnect", {}, "Web")
        [hit] = (await st.recorder.wait_for(STATE, 4))[3:]
        assert hit.body["Info"]["Reason"] == "LinkClose"
        result = await st.rest.ok("openim", "query_online_status", {"To_Account": ["p", "w"]})
        assert result["QueryResult"] == [
            {"To_Account": "p", "Status": "PushOnline"},
            {"To_Account": "w", "Status": "Offline"},
        ]
        # The phone comes back: the same device, so its Login kicks nobody.
        await act(st, "p", "login", "Android")
        back = st.recorder.of(STATE)[-1]
        assert back.body["Info"]["Action"] == "Login"
        assert "KickedDevice" not in back.body


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_kick_logs_out_every_platform(token: str | None, tmp_path: Path) -> None:
    """kick sends a StateChange Logout per platform the user was on (that platform's
    OptPlatform) and leaves the user Offline; a user online on two platforms is Online with
    both in Detail until then."""
    async with stack(tmp_path, token=token) as st:
        await act(st, "u", "login", "iOS")
        await act(st, "u", "login", "Web")
        before = await status(st, "u")
        assert before["QueryResult"][0]["Status"] == "Online"
        assert {d["Platform"] for d in before["QueryResult"][0]["Detail"]} == {"iOS", "Web"}
        with Clock() as t:
            await st.rest.ok(LOGIN, "kick", {"UserID": "u"})
        hits = (await st.recorder.wait_for(STATE, 4))[2:]
        assert sorted(h.query["OptPlatform"] for h in hits) == ["Web", "iOS"]
        for hit in hits:
            check_query(hit, STATE, hit.query["OptPlatform"], token=token)
            assert hit.body["Info"] == {
                "Action": "Logout",
                "To_Account": "u",
                "Reason": "Unregister",
            }
            low, high = t.window
            assert int(low * 1000) - 1 <= hit.body["EventTime"] <= int(high * 1000) + 1
        assert (await status(st, "u"))["QueryResult"][0]["Status"] == "Offline"


async def test_unknown_users_and_bad_calls(tmp_path: Path) -> None:
    """query_online_status lists users not imported in ErrorList (70107); kick of one is 70107;
    a login without a platform is refused."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("u")
        result = await st.rest.ok("openim", "query_online_status", {"To_Account": ["u", "ghost"]})
        assert result["QueryResult"] == [{"To_Account": "u", "Status": "Offline"}]
        assert result["ErrorList"] == [{"To_Account": "ghost", "ErrorCode": 70107}]
        kicked = await st.rest.call(LOGIN, "kick", {"UserID": "ghost"})
        assert kicked["ErrorCode"] == 70107, kicked
        bad = await st.rest.call(LOGIN, "kick", {})
        assert bad["ErrorCode"] == 70402, bad
        assert "UserID" in bad["ErrorInfo"]
        nowhere = await st.rest.call("timhooks_client", "login", {}, identifier="u")
        assert nowhere["ErrorCode"] == 70402, nowhere
        assert "platform" in nowhere["ErrorInfo"]


async def test_second_login_on_a_platform_kicks_the_first_device(tmp_path: Path) -> None:
    """Logging in again on a platform the user is on logs the other device out: the Login
    carries KickedDevice with that platform; a login on another platform kicks nobody."""
    async with stack(tmp_path) as st:
        await act(st, "u", "login", "Android")
        await act(st, "u", "login", "Web")
        with Clock() as t:
            await st.rest.client("u", "login", {}, "Android")
        await st.webhook(
            STATE,
            t.window,
            "Android",
            nth=3,
            Info={"Action": "Login", "To_Account": "u", "Reason": "Register"},
            KickedDevice=[{"Platform": "Android"}],
        )
        events = await st.received(STATE, 3)
        kicked = [[d.platform for d in e.kicked_device] for e in events]  # type: ignore[attr-defined]
        assert sorted(kicked) == [[], [], ["Android"]]
        assert ["KickedDevice" in h.body for h in st.recorder.of(STATE)] == [False, False, True]
