"""Tencent REST clients written by others work unchanged against ``timhooks serve``.

Two PyPI packages drive a real ``timhooks serve`` subprocess over loopback, and every webhook
it sends arrives, signed with the app's token, at a real timhooks Receiver
(``timhooks.testing.WebhookCapture``), parsed as its typed event:

- ``tencentcloud-sdk-python-im`` (module ``tencentcloud_im``): ``TCIMClient`` takes the REST
  base URL (``tencent_url``), so it is pointed at serve's ``/v4``.
- ``timsdk``: its ``HttpClient`` hard-codes ``https://console.tim.qq.com``. The client's code
  stays unchanged: a requests transport adapter is mounted on the client's own
  ``requests.Session`` for that prefix and sends each of its requests to serve on 127.0.0.1
  instead (``LoopbackAdapter``). Nothing leaves the machine.

The areas are one section each: accounts, friends, blocklist, profile, online state,
one-to-one messages, group messages and group life.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import timsdk
from requests.adapters import HTTPAdapter
from tencentcloud_im import tcim_client as tencentcloud_im

from loopback import free_port, reap, timhooks_argv, wait_port
from pg_support import fresh_schema
from timhooks.protocol import events as ev
from timhooks.protocol import generate_usersig
from timhooks.protocol.query import Platform
from timhooks.testing import Captured, EventLoopThread, WebhookCapture

pytestmark = pytest.mark.slow

APP = 1400054321
KEY = "0c1d5a1b2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f"
ADMIN = "administrator"
TENCENT = "https://console.tim.qq.com"


class LoopbackAdapter(HTTPAdapter):
    """A requests transport that sends what was meant for Tencent's REST host to ``base``."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = request.url or ""
        assert url.startswith(TENCENT), url
        request.url = self.base + url[len(TENCENT) :]
        return super().send(request, *args, **kwargs)


@dataclass
class Env:
    """serve, its webhooks' receiver, and the two third-party clients pointed at serve."""

    url: str
    capture: WebhookCapture
    tcim: Any  # tencentcloud_im.tcim_client.TCIMClient
    tim: Any  # timsdk.TimClient

    def webhook(self, model: type[ev.Event]) -> tuple[ev.Event, Captured]:
        """The next webhook of ``model``: its typed event and how it came (query facts)."""
        event = self.capture.wait_for(model, timeout=20)
        assert isinstance(event, model)
        [captured] = [c for c in self.capture.captured if c.event is event]
        assert captured.meta.sdk_app_id == APP
        assert captured.meta.client_ip == "127.0.0.1"
        return event, captured

    def client(self, user: str, action: str, platform: str, body: dict[str, Any]) -> Any:
        """A timhooks client action (login, logout): what an app's SDK does, not a REST call."""
        params = {
            "sdkappid": str(APP),
            "identifier": user,
            "usersig": generate_usersig(APP, KEY, user, now=int(time.time())),
            "random": "1",
            "contenttype": "json",
            "platform": platform,
        }
        answer = requests.post(
            f"{self.url}/v4/timhooks_client/{action}", params=params, json=body, timeout=30
        ).json()
        assert answer["ErrorCode"] == 0, answer
        return answer


@contextlib.contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """serve's database: a SQLite file, or a fresh PostgreSQL schema (TEST_POSTGRES_URL)."""
    if kind == "sqlite":
        yield str(tmp / "chat.db")
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """``timhooks serve`` on SQLite or PostgreSQL, in a subprocess whose callback URL (with a
    token) is a Receiver."""
    tmp = tmp_path_factory.mktemp("thirdparty")
    with database(request.param, tmp) as db:
        yield from _serve(tmp, db)


def _serve(tmp: Path, db: str) -> Iterator[Env]:
    loop = EventLoopThread()
    capture = WebhookCapture.start(loop, tmp / "inbox.db", app_id=APP)
    port = free_port()
    argv = timhooks_argv(
        "serve",
        "--port",
        str(port),
        "--db",
        db,
        "--app-id",
        str(APP),
        "--key",
        KEY,
        "--admins",
        ADMIN,
        "--callback-url",
        capture.url,
        "--callback-token",
        capture.token,
        "--json",
    )
    with open(tmp / "serve.out", "wb") as out, open(tmp / "serve.err", "wb") as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err)
        try:
            wait_port(port, process, log=tmp / "serve.err")
            url = f"http://127.0.0.1:{port}"
            tcim = tencentcloud_im.TCIMClient(APP, KEY, ADMIN, tencent_url=f"{url}/v4")
            tim = timsdk.TimClient(APP, KEY, identifier=ADMIN)
            # The timsdk client's own session: one HttpClient serves all its API groups.
            tim.profile.get_client()._http.mount(TENCENT, LoopbackAdapter(url))
            yield Env(url, capture, tcim, tim)
        finally:
            reap(process)
            capture.close()
            loop.close()


def ok(answer: Any) -> dict[str, Any]:
    """A REST answer (a requests.Response or timsdk's dict) that must succeed."""
    data: dict[str, Any] = answer.json() if isinstance(answer, requests.Response) else answer
    assert data["ActionStatus"] == "OK", data
    assert data["ErrorCode"] == 0, data
    return data


def import_users(e: Env, *users: str) -> None:
    for user in users:
        ok(e.tcim.add_single_user(user, f"Nick of {user}", f"http://faces.example/{user}.png"))


# --- accounts ----------------------------------------------------------------------------------


def test_account_import_gives_the_profile_nick_and_image(env: Env) -> None:
    """tencentcloud_im's account_import; timsdk's portrait_get reads its Nick and FaceUrl as
    Tag_Profile_IM_Nick and Tag_Profile_IM_Image."""
    import_users(env, "acc1")
    got = ok(
        env.tim.profile.portrait_get(["acc1"], ["Tag_Profile_IM_Nick", "Tag_Profile_IM_Image"])
    )
    [item] = got["UserProfileItem"]
    assert {p["Tag"]: p["Value"] for p in item["ProfileItem"]} == {
        "Tag_Profile_IM_Nick": "Nick of acc1",
        "Tag_Profile_IM_Image": "http://faces.example/acc1.png",
    }


# --- friends -----------------------------------------------------------------------------------


def test_add_and_delete_friends(env: Env) -> None:
    """tencentcloud_im adds a friend (forced, both ways) and deletes it both ways: FriendAdd and
    FriendDelete arrive typed, and the lists say so in between."""
    import_users(env, "fr1", "fr2")
    friend = tencentcloud_im.FriendObj("fr2", "Web", remark="colleague", group_name="work")
    answer = ok(env.tcim.add_friend("fr1", [friend]))
    assert answer["ResultItem"] == [{"To_Account": "fr2", "ResultCode": 0, "ResultInfo": ""}]
    added, came = env.webhook(ev.FriendAdd)
    assert isinstance(added, ev.FriendAdd)
    assert came.meta.opt_platform is Platform.RESTAPI
    assert [(p.from_account, p.to_account) for p in added.pair_list] == [
        ("fr1", "fr2"),
        ("fr2", "fr1"),
    ]
    assert (added.admin_account, added.force_flag, added.client_cmd) == (ADMIN, 1, "friend_add")
    friends = ok(env.tcim.get_friends("fr1"))
    [item] = friends["UserDataItem"]
    values = {v["Tag"]: v["Value"] for v in item["ValueItem"]}
    assert values["Tag_SNS_IM_AddSource"] == "AddSource_Type_Web"
    assert values["Tag_SNS_IM_Remark"] == "colleague"
    check = ok(env.tim.sns.friend_check("fr1", ["fr2"]))
    assert check["InfoItem"][0]["Relation"] == "CheckResult_Type_BothWay"

    ok(env.tcim.delete_friends("fr1", ["fr2"]))
    deleted, _ = env.webhook(ev.FriendDelete)
    assert isinstance(deleted, ev.FriendDelete)
    assert {(p.from_account, p.to_account) for p in deleted.pair_list} == {
        ("fr1", "fr2"),
        ("fr2", "fr1"),
    }
    assert ok(env.tcim.get_friends("fr1"))["UserDataItem"] == []


def test_client_request_and_answer_then_read_by_the_client(env: Env) -> None:
    """A user's friend request (timhooks client action) waits for the other's confirmation;
    the answer adds both; PrevFriendAdd, PrevFriendResponse and FriendAdd arrive typed and
    tencentcloud_im's friend_get lists the friendship."""
    import_users(env, "rq1", "rq2")
    asked = env.client("rq1", "friend_add", "iOS", {"AddFriendItem": [{"To_Account": "rq2"}]})
    assert asked["ResultItem"][0]["ResultCode"] == 30539
    prev, came = env.webhook(ev.PrevFriendAdd)
    assert isinstance(prev, ev.PrevFriendAdd)
    assert prev.recipients() == ("rq2",)
    assert came.meta.opt_platform is Platform.IOS
    item = {"To_Account": "rq1", "ResponseAction": "Response_Action_AgreeAndAdd"}
    env.client("rq2", "friend_response", "Web", {"ResponseFriendItem": [item]})
    answered, _ = env.webhook(ev.PrevFriendResponse)
    assert isinstance(answered, ev.PrevFriendResponse)
    assert answered.recipients() == ("rq1",)
    added, came = env.webhook(ev.FriendAdd)
    assert isinstance(added, ev.FriendAdd)
    assert (added.client_cmd, added.admin_account) == ("friend_response", "")
    assert came.meta.opt_platform is Platform.WEB
    friends = ok(env.tcim.get_friends("rq1"))
    assert [i["To_Account"] for i in friends["UserDataItem"]] == ["rq2"]


# --- blocklist ---------------------------------------------------------------------------------


def test_blocklist(env: Env) -> None:
    """timsdk blocks and unblocks: BlackListAdd and BlackListDelete arrive typed."""
    import_users(env, "bl1", "bl2")
    answer = ok(env.tim.sns.black_list_add("bl1", ["bl2"]))
    assert answer["ResultItem"][0]["ResultCode"] == 0
    blocked, _ = env.webhook(ev.BlackListAdd)
    assert isinstance(blocked, ev.BlackListAdd)
    assert [(p.from_account, p.to_account) for p in blocked.pair_list] == [("bl1", "bl2")]
    listed = ok(env.tim.sns.black_list_get("bl1"))
    assert [i["To_Account"] for i in listed["BlackListItem"]] == ["bl2"]
    ok(env.tim.sns.black_list_delete("bl1", ["bl2"]))
    unblocked, _ = env.webhook(ev.BlackListDelete)
    assert isinstance(unblocked, ev.BlackListDelete)
    assert [(p.from_account, p.to_account) for p in unblocked.pair_list] == [("bl1", "bl2")]
    assert ok(env.tim.sns.black_list_get("bl1"))["BlackListItem"] == []


# --- profile -----------------------------------------------------------------------------------


def test_set_a_profile(env: Env) -> None:
    """timsdk's portrait_set: PortraitSet arrives typed with the admin as operator; the new
    Nick is the account's."""
    import_users(env, "pf1")
    items = [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "Pat"},
        {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Female"},
        {"Tag": "Tag_Profile_IM_BirthDay", "Value": 19900101},
    ]
    ok(env.tim.profile.portrait_set("pf1", items))
    event, came = env.webhook(ev.PortraitSet)
    assert isinstance(event, ev.PortraitSet)
    assert came.meta.opt_platform is Platform.RESTAPI
    assert (event.operator_account, event.from_account) == (ADMIN, "pf1")
    assert [(i.tag, i.value) for i in event.profile_item] == [(i["Tag"], i["Value"]) for i in items]
    got = ok(env.tim.profile.portrait_get(["pf1"], [i["Tag"] for i in items]))
    assert got["UserProfileItem"][0]["ProfileItem"] == items


# --- online state ------------------------------------------------------------------------------


def test_kick_and_query_online_state(env: Env) -> None:
    """A user logs in (timhooks client action): StateChange Login; tencentcloud_im sees them
    Online, kicks them (abolition_user_sig): StateChange Logout from that platform; then
    Offline. A user not imported is in ErrorList with 70107."""
    import_users(env, "on1")
    env.client("on1", "login", "Android", {})
    login, came = env.webhook(ev.StateChange)
    assert isinstance(login, ev.StateChange)
    assert (login.info.action, login.info.reason, login.info.to_account) == (
        "Login",
        "Register",
        "on1",
    )
    assert came.meta.opt_platform is Platform.ANDROID
    status = ok(env.tcim.check_user_online(["on1", "nobody"]))
    assert status["QueryResult"] == [
        {
            "To_Account": "on1",
            "Status": "Online",
            "Detail": [{"Platform": "Android", "Status": "Online"}],
        }
    ]
    assert status["ErrorList"] == [{"To_Account": "nobody", "ErrorCode": 70107}]
    ok(env.tcim.abolition_user_sig("on1"))
    logout, came = env.webhook(ev.StateChange)
    assert isinstance(logout, ev.StateChange)
    assert (logout.info.action, logout.info.reason) == ("Logout", "Unregister")
    assert came.meta.opt_platform is Platform.ANDROID
    after = ok(env.tcim.check_user_online(["on1"]))
    assert after["QueryResult"][0]["Status"] == "Offline"


# --- one-to-one messages -----------------------------------------------------------------------


def text_of(body: tuple[ev.MsgElement, ...]) -> list[tuple[str, Any]]:
    """A webhook's MsgBody as (MsgType, MsgContent) pairs of plain values."""
    return [(e.msg_type, e.msg_content.to_wire()) for e in body]


def test_one_to_one_messages_send_recall_and_read(env: Env) -> None:
    """tencentcloud_im sends (send_message), reports read (set_user_message_read) and recalls
    (draw_message); timsdk sends too (open_im.send_text_msg). C2C.CallbackBeforeSendMsg,
    AfterSendMsg, AfterMsgReport and AfterMsgWithDraw arrive typed, with the MsgKey serve
    answered."""
    import_users(env, "cc1", "cc2")
    message = tencentcloud_im.MessageObj(
        "cc1", "cc2", text_messages=[tencentcloud_im.MessageText("hi from tcim")]
    )
    sent = ok(env.tcim.send_message(message))
    before, came = env.webhook(ev.C2CBeforeSendMsg)
    assert isinstance(before, ev.C2CBeforeSendMsg)
    assert came.meta.opt_platform is Platform.RESTAPI
    assert (before.from_account, before.to_account) == ("cc1", "cc2")
    assert before.msg_random == message.MsgRandom
    assert text_of(before.msg_body) == [("TIMTextElem", {"Text": "hi from tcim"})]
    after, _ = env.webhook(ev.C2CAfterSendMsg)
    assert isinstance(after, ev.C2CAfterSendMsg)
    assert (after.msg_key, after.msg_time, after.send_msg_result) == (
        sent["MsgKey"],
        sent["MsgTime"],
        0,
    )

    ok(env.tcim.set_user_message_read("cc2", "cc1"))
    read, _ = env.webhook(ev.C2CAfterMsgReport)
    assert isinstance(read, ev.C2CAfterMsgReport)
    assert (read.report_account, read.peer_account) == ("cc2", "cc1")
    assert read.last_read_time >= sent["MsgTime"]

    ok(env.tcim.draw_message("cc1", "cc2", sent["MsgKey"]))
    recalled, _ = env.webhook(ev.C2CAfterMsgWithDraw)
    assert isinstance(recalled, ev.C2CAfterMsgWithDraw)
    assert (recalled.from_account, recalled.to_account, recalled.msg_key) == (
        "cc1",
        "cc2",
        sent["MsgKey"],
    )

    by_timsdk = ok(env.tim.open_im.send_text_msg("cc2", "hi from timsdk", from_account="cc1"))
    env.webhook(ev.C2CBeforeSendMsg)
    after, _ = env.webhook(ev.C2CAfterSendMsg)
    assert isinstance(after, ev.C2CAfterSendMsg)
    assert after.msg_key == by_timsdk["MsgKey"]
    assert text_of(after.msg_body) == [("TIMTextElem", {"Text": "hi from timsdk"})]
    ok(env.tim.open_im.admin_msg_withdraw("cc2", "cc1", by_timsdk["MsgKey"]))
    recalled, _ = env.webhook(ev.C2CAfterMsgWithDraw)
    assert isinstance(recalled, ev.C2CAfterMsgWithDraw)
    assert recalled.msg_key == by_timsdk["MsgKey"]


# --- groups: messages and life -----------------------------------------------------------------


def test_group_messages_send_and_recall(env: Env) -> None:
    """tencentcloud_im creates a group with a member, sends in it (send_group_message) and
    recalls (recall_group_message); timsdk sends and recalls too. Group.CallbackBeforeSendMsg,
    AfterSendMsg and AfterRecallMsg arrive typed with the MsgSeq serve answered."""
    import_users(env, "gm1", "gm2")
    group = tencentcloud_im.GroupObj(
        "gm1", "Public", "Walkers", mem_list=[tencentcloud_im.GroupMemObj("gm2")]
    )
    group_id = ok(env.tcim.create_group(group))["GroupId"]
    env.webhook(ev.BeforeCreateGroup)
    env.webhook(ev.AfterCreateGroup)
    text = [tencentcloud_im.MessageText("to the hills")]
    sent = ok(env.tcim.send_group_message(group_id, text, from_account="gm2"))
    before, _ = env.webhook(ev.GroupBeforeSendMsg)
    assert isinstance(before, ev.GroupBeforeSendMsg)
    assert (before.group_id, before.from_account, before.type) == (group_id, "gm2", "Public")
    after, came = env.webhook(ev.GroupAfterSendMsg)
    assert isinstance(after, ev.GroupAfterSendMsg)
    assert came.meta.opt_platform is Platform.RESTAPI
    assert (after.msg_seq, after.msg_time) == (sent["MsgSeq"], sent["MsgTime"])
    assert text_of(after.msg_body) == [("TIMTextElem", {"Text": "to the hills"})]
    answer = ok(env.tcim.recall_group_message(group_id, [sent["MsgSeq"]]))
    assert answer["RecallRetList"] == [{"MsgSeq": sent["MsgSeq"], "RetCode": 0}]
    recalled, _ = env.webhook(ev.AfterRecallMsg)
    assert isinstance(recalled, ev.AfterRecallMsg)
    assert [i.msg_seq for i in recalled.msg_seq_list] == [sent["MsgSeq"]]

    body = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "by timsdk"}}]
    # timsdk 1.1.12 drops its from_account (it annotates the field instead of setting it), so
    # the message goes out as the admin's, as Tencent sends a body without From_Account.
    again = ok(env.tim.group_open_http_svc.send_group_msg(group_id, body, from_account="gm1"))
    env.webhook(ev.GroupBeforeSendMsg)
    after, _ = env.webhook(ev.GroupAfterSendMsg)
    assert isinstance(after, ev.GroupAfterSendMsg)
    assert (after.msg_seq, after.from_account) == (again["MsgSeq"], ADMIN)
    ok(env.tim.group_open_http_svc.group_msg_recall(group_id, [{"MsgSeq": again["MsgSeq"]}]))
    recalled, _ = env.webhook(ev.AfterRecallMsg)
    assert isinstance(recalled, ev.AfterRecallMsg)
    assert [i.msg_seq for i in recalled.msg_seq_list] == [again["MsgSeq"]]


def test_group_life_mute_owner_attributes_profile_and_dismissal(env: Env) -> None:
    """tencentcloud_im mutes a member (forbid_send_msg), whose send then fails with
    Group.CallbackSendMsgException; changes the owner, the attributes and the profile; and
    dismisses the group (delete_group): each webhook arrives typed."""
    import_users(env, "gl1", "gl2")
    group = tencentcloud_im.GroupObj(
        "gl1", "Public", "Climbers", mem_list=[tencentcloud_im.GroupMemObj("gl2")]
    )
    group_id = ok(env.tcim.create_group(group))["GroupId"]
    env.webhook(ev.BeforeCreateGroup)
    env.webhook(ev.AfterCreateGroup)

    ok(env.tcim.forbid_send_msg(group_id, ["gl2"], 600))
    muted = env.tcim.send_group_message(
        group_id, [tencentcloud_im.MessageText("let me speak")], from_account="gl2"
    ).json()
    assert muted["ErrorCode"] == 10017, muted
    failed, _ = env.webhook(ev.GroupSendMsgException)
    assert isinstance(failed, ev.GroupSendMsgException)
    assert (failed.group_id, failed.from_account, failed.error_code) == (group_id, "gl2", 10017)

    ok(env.tcim.change_group_owner(group_id, "gl2"))
    owner, _ = env.webhook(ev.AfterChangeGroupOwner)
    assert isinstance(owner, ev.AfterChangeGroupOwner)
    assert (owner.old_owner_account, owner.new_owner_account) == ("gl1", "gl2")

    ok(env.tcim.update_group_attr(group_id, [tencentcloud_im.GroupAttr("route", "north")]))
    attrs, _ = env.webhook(ev.AfterGroupAttrChanged)
    assert isinstance(attrs, ev.AfterGroupAttrChanged)
    assert [(a.key, a.value) for a in attrs.group_attr] == [("route", "north")]

    ok(env.tcim.update_group_baseinfo(group_id, group_name="Summit"))
    info, _ = env.webhook(ev.AfterGroupInfoChanged)
    assert isinstance(info, ev.AfterGroupInfoChanged)
    assert info.name == "Summit"

    ok(env.tcim.delete_group(group_id))
    gone, _ = env.webhook(ev.AfterGroupDestroyed)
    assert isinstance(gone, ev.AfterGroupDestroyed)
    assert (gone.group_id, gone.owner_account, gone.name) == (group_id, "gl2", "Summit")
