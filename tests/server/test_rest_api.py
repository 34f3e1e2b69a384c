"""Tencent's REST API on the Chat backend: every command's happy path and its documented error
codes, always as HTTP 200 with the ActionStatus/ErrorInfo/ErrorCode/RequestId envelope.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import (
    ADMIN,
    APP,
    CLIENT,
    CONFIG,
    GROUP,
    KEY,
    LOGIN,
    OA,
    BackgroundStack,
    Stack,
    envelope,
    members,
    stack,
    subs,
)

from timhooks.protocol import generate_usersig

OTHER_APP = 1400099999
TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]

# Every command the backend serves: admin ones first, then the client API.
ADMIN_COMMANDS = [
    (LOGIN, "account_import"),
    (LOGIN, "multiaccount_import"),
    (OA, "create_official_account"),
    (OA, "destroy_official_account"),
    (OA, "modify_official_account_base_info"),
    (OA, "get_official_account_info"),
    (OA, "add_subscriber"),
    (OA, "delete_subscriber"),
    (OA, "get_subscriber_info"),
    (OA, "send_official_account_msg"),
    (OA, "official_account_msg_recall"),
    (GROUP, "create_group"),
    (GROUP, "add_group_member"),
    (GROUP, "delete_group_member"),
    (GROUP, "destroy_group"),
    (GROUP, "get_group_info"),
    (GROUP, "get_group_member_info"),
    (GROUP, "modify_group_base_info"),
    (GROUP, "change_group_owner"),
    (GROUP, "modify_group_member_info"),
    (GROUP, "forbid_send_msg"),
    (GROUP, "get_group_muted_account"),
    ("group_open_attr_http_svc", "get_group_attr"),
    (GROUP, "modify_group_attr"),
    (GROUP, "set_group_attr"),
    (GROUP, "delete_group_attr"),
    (GROUP, "clear_group_attr"),
    ("million_group_open_http_svc", "create_topic"),
    ("million_group_open_http_svc", "destroy_topic"),
    ("million_group_open_http_svc", "modify_topic"),
    ("million_group_open_http_svc", "get_topic"),
    (CONFIG, "set_callback"),
    (CONFIG, "get_callback"),
    ("openim", "sendmsg"),
    ("openim", "batchsendmsg"),
    ("openim", "admin_msgwithdraw"),
    ("openim", "admin_set_msg_read"),
    ("openim", "admin_getroammsg"),
    (GROUP, "send_group_msg"),
    (GROUP, "group_msg_recall"),
    (GROUP, "group_msg_get_simple"),
    # friends, blocklists, profiles, online state
    *(("sns", name) for name in ("friend_add", "friend_delete", "friend_check", "friend_get")),
    *(("sns", name) for name in ("black_list_add", "black_list_delete", "black_list_get")),
    ("profile", "portrait_set"),
    ("profile", "portrait_get"),
    (LOGIN, "kick"),
    ("openim", "query_online_status"),
]
CLIENT_COMMANDS = [
    (CLIENT, name)
    for name in (
        "subscribe_official_account",
        "unsubscribe_official_account",
        "send_official_account_msg",
        "official_account_msg_recall",
        "apply_join_group",
        "handle_join_application",
        "invite_group_member",
        "kick_group_member",
        "quit_group",
        "sendmsg",
        "msgwithdraw",
        "set_msg_read",
        "send_group_msg",
        "group_msg_recall",
        "destroy_group",
        "modify_group_base_info",
        "change_group_owner",
        "modify_group_member_info",
        "set_group_attr",
        "modify_group_attr",
        "delete_group_attr",
        "create_topic",
        # friends, profiles, online state
        "friend_add",
        "friend_response",
        "friend_delete",
        "black_list_add",
        "black_list_delete",
        "portrait_set",
        "login",
        "logout",
        "disconnect",
    )
]


def now() -> int:
    return int(time.time())


def sig(user: str = ADMIN, *, app: int = APP, key: str = KEY, **kw: Any) -> str:
    return generate_usersig(app, key, user, now=kw.pop("at", now()), **kw)


def params(**changes: str | None) -> dict[str, str]:
    """The REST query for the admin, with ``changes`` applied (None removes a parameter)."""
    query: dict[str, str | None] = {
        "sdkappid": str(APP),
        "identifier": ADMIN,
        "usersig": sig(),
        "random": "123456",
        "contenttype": "json",
    }
    query.update(changes)
    return {k: v for k, v in query.items() if v is not None}


async def _setup(st: Stack) -> dict[str, Any]:
    await st.rest.import_users("owner", "amy", "bob")
    oa = await st.rest.create_oa("owner", "Fixture", OfficialAccountUserID="@TOA#_fixture")
    group = await st.rest.create_group("owner", "Public", GroupId="fixture-group")
    room = await st.rest.create_group("owner", "AVChatRoom", GroupId="fixture-room")
    return {"oa": oa, "group": group, "room": room}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    """One Chat backend (no webhooks) with an OA, a Public group and an AVChatRoom."""
    with BackgroundStack(tmp_path_factory.mktemp("rest"), _setup, connect=False) as bg:
        yield bg


def post(
    api: BackgroundStack,
    service: str,
    command: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST one REST call to the shared backend and return its envelope."""
    content = raw if raw is not None else json.dumps({} if body is None else body).encode()

    async def go(st: Stack) -> Any:
        response = await st.rest.http.post(
            f"/v4/{service}/{command}", content=content, params=query or params()
        )
        return envelope(response)

    result: dict[str, Any] = api.run(go)
    return result


def test_the_command_tables_match_the_service(api: BackgroundStack) -> None:
    """The lists above are exactly the backend's commands, admin and client."""

    async def table(st: Stack) -> dict[tuple[str, str], bool]:
        return {k: c.admin for k, c in st.server.rest.commands.items()}

    served = api.run(table)
    assert {k for k, admin in served.items() if admin} == set(ADMIN_COMMANDS)
    assert {k for k, admin in served.items() if not admin} == set(CLIENT_COMMANDS)


# --- the envelope and the credentials ------------------------------------------------------------


INFO = {"OfficialAccountIdList": [{"Official_Account": "@TOA#_fixture"}]}

CREDENTIAL_CASES = {
    "garbage usersig": (lambda: params(usersig="garbage!"), 70003),
    "truncated usersig": (lambda: params(usersig=sig()[:24]), 70003),
    "no usersig": (lambda: params(usersig=None), 70003),
    "expired usersig": (lambda: params(usersig=sig(at=now() - 100, expire=1)), 70001),
    "usersig of another key": (lambda: params(usersig=sig(key="not-the-key")), 70009),
    "usersig of another user": (lambda: params(usersig=sig("someone")), 70013),
    "usersig of another app": (lambda: params(usersig=sig(app=OTHER_APP)), 70014),
    "no sdkappid": (lambda: params(sdkappid=None), 60012),
    "empty sdkappid": (lambda: params(sdkappid=""), 60012),
    "unknown sdkappid": (lambda: params(sdkappid=str(OTHER_APP)), 70020),
    "sdkappid not a number": (lambda: params(sdkappid="abc"), 60006),
    "no identifier": (lambda: params(identifier=None), 60004),
}


@pytest.mark.parametrize("case", CREDENTIAL_CASES)
def test_credential_errors(api: BackgroundStack, case: str) -> None:
    """Bad or missing credentials give the documented code (60xxx/70xxx) in an HTTP 200 FAIL
    envelope."""
    make_query, code = CREDENTIAL_CASES[case]
    result = post(api, OA, "get_official_account_info", INFO, query=make_query())
    assert result["ErrorCode"] == code, result
    assert result["ErrorInfo"]


def test_a_valid_call_has_the_ok_envelope(api: BackgroundStack) -> None:
    """A good call answers ActionStatus OK, ErrorCode 0, empty ErrorInfo and a fresh RequestId."""
    first = post(api, OA, "get_official_account_info", INFO)
    second = post(api, OA, "get_official_account_info", INFO)
    for result in (first, second):
        assert (result["ActionStatus"], result["ErrorCode"], result["ErrorInfo"]) == ("OK", 0, "")
    assert first["RequestId"] != second["RequestId"]


@pytest.mark.parametrize(("service", "command"), ADMIN_COMMANDS)
def test_admin_commands_refuse_other_users(api: BackgroundStack, service: str, command: str):
    """A valid UserSig of a user who is not an App admin gets 60010 on every admin command."""
    result = post(api, service, command, {}, query=params(identifier="amy", usersig=sig("amy")))
    assert result["ErrorCode"] == 60010, result


@pytest.mark.parametrize(
    "path",
    [
        (OA, "no_such_command"),
        ("no_such_svc", "create_group"),
        (CLIENT, "create_group"),
        (CONFIG, "account_import"),
    ],
)
def test_unknown_command_path(api: BackgroundStack, path: tuple[str, str]) -> None:
    """A path that names no command gets 60009."""
    assert post(api, *path, {})["ErrorCode"] == 60009


@pytest.mark.parametrize("path", ["/v4/0/", "/v4/", "/v4/a/b/c", "/v4/%2e/x/"])
@pytest.mark.parametrize("method", ["POST", "GET", "PUT", "DELETE"])
def test_malformed_rest_paths_get_an_envelope(api: BackgroundStack, path: str, method: str) -> None:
    """A path under /v4/ without exactly a service and a command gets 60009 in an envelope,
    HTTP 200, whatever the method."""

    async def go(st: Stack) -> Any:
        response = await st.rest.http.request(method, path, params=params(), content=b"{}")
        assert response.status_code == 200, response.text
        return envelope(response)

    result = api.run(go)
    assert result["ErrorCode"] == 60009, result
    assert result["ActionStatus"] == "FAIL"


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nothing", 404), ("POST", "/", 405)]
)
def test_paths_outside_the_api_answer_json(
    api: BackgroundStack, method: str, path: str, status: int
) -> None:
    """Paths outside /v4/ answer their HTTP status with a JSON body that says where REST is."""

    async def go(st: Stack) -> httpx.Response:
        return await st.rest.http.request(method, path)

    response = api.run(go)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert "/v4/" in response.json()["ErrorInfo"]


def test_get_is_refused(api: BackgroundStack) -> None:
    """REST calls are POST only: a GET gets 60002 in the envelope, still HTTP 200."""

    async def go(st: Stack) -> Any:
        response = await st.rest.http.get(f"/v4/{OA}/get_official_account_info", params=params())
        return envelope(response)

    assert api.run(go)["ErrorCode"] == 60002


@pytest.mark.parametrize(
    "raw", [b"", b"   \n", b"{", b'{"Owner_Account": "owner",}', b"[]", b'"text"', b"\xff\xfe"]
)
def test_body_must_be_a_json_object(api: BackgroundStack, raw: bytes) -> None:
    """An empty body (send {} for no fields), bad JSON or a non-object gives 60003."""
    assert post(api, OA, "get_official_account_info", raw=raw)["ErrorCode"] == 60003


def test_non_ascii_digit_sdkappid_is_an_envelope_error(api: BackgroundStack) -> None:
    """An sdkappid of non-ASCII digits is refused in the envelope (60006), not with HTTP 500."""
    assert (
        post(api, OA, "get_official_account_info", INFO, query=params(sdkappid="²"))["ErrorCode"]
        == 60006
    )


# --- field types and limits ----------------------------------------------------------------------

FIELD_CASES = {
    "OA Name not a string": (
        OA,
        "create_official_account",
        {"Owner_Account": "owner", "Name": 5},
        6017,
    ),
    "OA Name missing": (OA, "create_official_account", {"Owner_Account": "owner"}, 6017),
    "OA Name too long": (
        OA,
        "create_official_account",
        {"Owner_Account": "owner", "Name": "n" * 151},
        6017,
    ),
    "OA MaxSubscriberNum a string": (
        OA,
        "create_official_account",
        {"Owner_Account": "owner", "Name": "n", "MaxSubscriberNum": "10"},
        6017,
    ),
    "SubscriberList not an array": (
        OA,
        "add_subscriber",
        {"Official_Account": "@TOA#_fixture", "SubscriberList": "amy"},
        6017,
    ),
    "MsgBody not an array": (
        OA,
        "send_official_account_msg",
        {"Official_Account": "@TOA#_fixture", "MsgBody": "hi"},
        6017,
    ),
    "MsgKeyList of numbers": (
        OA,
        "official_account_msg_recall",
        {"Official_Account": "@TOA#_fixture", "MsgKeyList": [1]},
        6017,
    ),
    "group Name not a string": (
        GROUP,
        "create_group",
        {"Owner_Account": "owner", "Type": "Public", "Name": 5},
        10004,
    ),
    "group Type unknown": (
        GROUP,
        "create_group",
        {"Owner_Account": "owner", "Type": "Club", "Name": "n"},
        10004,
    ),
    "MemberList not an array": (
        GROUP,
        "add_group_member",
        {"GroupId": "fixture-group", "MemberList": {}},
        10004,
    ),
    "MemberToDel_Account of objects": (
        GROUP,
        "delete_group_member",
        {"GroupId": "fixture-group", "MemberToDel_Account": [{"Member_Account": "amy"}]},
        10004,
    ),
    "GroupId not a string": (GROUP, "destroy_group", {"GroupId": 7}, 10004),
    "UserID not a string": (LOGIN, "account_import", {"UserID": 5}, 70402),
    "UserID too long": (LOGIN, "account_import", {"UserID": "u" * 33}, 70402),
    "AccountList not an array": (LOGIN, "multiaccount_import", {"AccountList": "amy"}, 70402),
}


@pytest.mark.parametrize("case", FIELD_CASES)
def test_wrong_field_gives_the_services_bad_parameter_code(api: BackgroundStack, case: str):
    """A missing or wrongly typed field gives the service's code: 6017 for Official Accounts,
    10004 for groups, 70402 for accounts."""
    service, command, body, code = FIELD_CASES[case]
    result = post(api, service, command, body)
    assert result["ErrorCode"] == code, result
    assert result["ErrorInfo"]


def _ids(n: int) -> list[str]:
    return [f"user{i}" for i in range(n)]


LIMITS = {
    "add_subscriber 100": (
        OA,
        "add_subscriber",
        lambda n: {"Official_Account": "@TOA#_fixture", "SubscriberList": subs(*_ids(n))},
        100,
        6017,
    ),
    "add_group_member 300": (
        GROUP,
        "add_group_member",
        lambda n: {"GroupId": "fixture-group", "MemberList": members(*_ids(n))},
        300,
        10004,
    ),
    "delete_group_member 100": (
        GROUP,
        "delete_group_member",
        lambda n: {"GroupId": "fixture-group", "MemberToDel_Account": _ids(n)},
        100,
        10004,
    ),
    "official_account_msg_recall 10": (
        OA,
        "official_account_msg_recall",
        lambda n: {
            "Official_Account": "@TOA#_fixture",
            "MsgKeyList": [f"{i}_1_1" for i in range(n)],
        },
        10,
        6017,
    ),
    "get_official_account_info 50": (
        OA,
        "get_official_account_info",
        lambda n: {"OfficialAccountIdList": [{"Official_Account": f"@TOA#_{i}"} for i in range(n)]},
        50,
        6017,
    ),
    "multiaccount_import 100": (
        LOGIN,
        "multiaccount_import",
        lambda n: {"AccountList": [f"bulk{i}" for i in range(n)]},
        100,
        70402,
    ),
}


@pytest.mark.parametrize("case", LIMITS)
def test_per_call_limits(api: BackgroundStack, case: str) -> None:
    """A list at the documented limit is served; one item more is refused with the service's
    bad-parameter code."""
    service, command, make, limit, code = LIMITS[case]
    assert post(api, service, command, make(limit))["ErrorCode"] == 0
    assert post(api, service, command, make(limit + 1))["ErrorCode"] == code


# --- Official Accounts ---------------------------------------------------------------------------

MISSING_OA = "@TOA#_missing"


@pytest.mark.parametrize(
    ("command", "body"),
    [
        ("destroy_official_account", {}),
        ("modify_official_account_base_info", {"Name": "x"}),
        ("add_subscriber", {"SubscriberList": subs("amy")}),
        ("delete_subscriber", {"SubscriberToDel_Account": ["amy"]}),
        ("get_subscriber_info", {}),
        ("send_official_account_msg", {"MsgBody": TEXT}),
        ("official_account_msg_recall", {"MsgKeyList": ["1_1_1"]}),
    ],
)
def test_missing_official_account_is_130004(api: BackgroundStack, command: str, body: dict) -> None:
    """Every command on an OA that does not exist gets 130004."""
    result = post(api, OA, command, {"Official_Account": MISSING_OA, **body})
    assert result["ErrorCode"] == 130004, result


def test_official_account_info_reports_missing_ones_per_item(api: BackgroundStack) -> None:
    """get_official_account_info gives each OA's profile, and 130004 for one that is missing."""
    result = post(
        api,
        OA,
        "get_official_account_info",
        {
            "OfficialAccountIdList": [
                {"Official_Account": "@TOA#_fixture"},
                {"Official_Account": MISSING_OA},
            ]
        },
    )
    found, missing = result["OfficialAccountInfoList"]
    assert found["Official_Account"] == "@TOA#_fixture"
    assert found["ErrorCode"] == 0
    assert found["Owner_Account"] == "owner"
    assert found["Name"] == "Fixture"
    assert found["MaxSubscriberNum"] == 100000
    assert abs(found["CreateTime"] - time.time()) < 600
    assert {
        "Introduction",
        "FaceUrl",
        "Organization",
        "CustomString",
        "SubscriberNum",
        "LastMsgTime",
    } <= set(found)
    assert (missing["Official_Account"], missing["ErrorCode"]) == (MISSING_OA, 130004)


@pytest.mark.parametrize(
    "oa_id",
    [
        "no-prefix",
        "@TOA#_",
        "@TOA#_@TOA#_nested",
        "@TOA#_" + "x" * 43,
        "@TOA#_tab\there",
        "@TOA#_caf\u00e9",
    ],
)
def test_invalid_custom_official_account_id_is_130007(api: BackgroundStack, oa_id: str) -> None:
    """A custom OA ID that is not printable ASCII of at most 48 bytes starting with @TOA#_ (and
    not @TOA#_@TOA#) gets 130007."""
    body = {"Owner_Account": "owner", "Name": "n", "OfficialAccountUserID": oa_id}
    assert post(api, OA, "create_official_account", body)["ErrorCode"] == 130007


def test_custom_official_account_id_in_use_is_130008(api: BackgroundStack) -> None:
    """A custom OA ID that already exists gets 130008; a fresh 48-byte one is accepted as is."""
    body = {"Owner_Account": "owner", "Name": "n", "OfficialAccountUserID": "@TOA#_fixture"}
    assert post(api, OA, "create_official_account", body)["ErrorCode"] == 130008
    longest = "@TOA#_" + "y" * 42
    body["OfficialAccountUserID"] = longest
    assert post(api, OA, "create_official_account", body)["OfficialAccountUserID"] == longest


def test_official_account_owner_must_be_imported(api: BackgroundStack) -> None:
    """create_official_account for an owner who was never imported gets 70107."""
    body = {"Owner_Account": "stranger", "Name": "n"}
    assert post(api, OA, "create_official_account", body)["ErrorCode"] == 70107


def test_huge_max_subscriber_num_is_a_bad_parameter(api: BackgroundStack) -> None:
    """A MaxSubscriberNum beyond 64 bits is refused with 6017, not an HTTP 500."""
    body = {"Owner_Account": "owner", "Name": "n", "MaxSubscriberNum": 2**63}
    assert post(api, OA, "create_official_account", body)["ErrorCode"] == 6017


@pytest.mark.parametrize("cursor", ["²", "99999999999999999999"])
def test_bad_next_cursor_is_a_bad_parameter(api: BackgroundStack, cursor: str) -> None:
    """A Next that no call returned is refused with 6017, not an HTTP 500."""
    body = {"Official_Account": "@TOA#_fixture", "Next": cursor}
    assert post(api, OA, "get_subscriber_info", body)["ErrorCode"] == 6017


async def test_subscriber_pages_follow_next(tmp_path: Path) -> None:
    """get_subscriber_info pages 450 subscribers 200 at a time: Next leads through all of them
    once, SubscriberNum is the total, and the last page's Next is empty."""
    async with stack(tmp_path, connect=False) as st:
        users = [f"s{i:03d}" for i in range(450)]
        await st.rest.import_users("owner", *users)
        oa = await st.rest.create_oa("owner")
        for start in range(0, 450, 100):
            await st.rest.ok(
                OA,
                "add_subscriber",
                {"Official_Account": oa, "SubscriberList": subs(*users[start : start + 100])},
            )
        seen: list[str] = []
        sizes: list[int] = []
        cursor = ""
        while True:
            page = await st.rest.ok(
                OA, "get_subscriber_info", {"Official_Account": oa, "Limit": 200, "Next": cursor}
            )
            assert page["SubscriberNum"] == 450
            sizes.append(len(page["SubscriberList"]))
            for item in page["SubscriberList"]:
                seen.append(item["Subscriber_Account"])
                assert abs(item["SubscribeTime"] - time.time()) < 600
            cursor = page["Next"]
            if not cursor:
                break
        assert sizes == [200, 200, 50]
        assert seen == users
        default = await st.rest.ok(OA, "get_subscriber_info", {"Official_Account": oa})
        assert len(default["SubscriberList"]) == 200
        too_many = await st.rest.call(
            OA, "get_subscriber_info", {"Official_Account": oa, "Limit": 201}
        )
        assert too_many["ErrorCode"] == 6017


async def test_accounts_are_imported(tmp_path: Path) -> None:
    """account_import and multiaccount_import make users that can own things; FailAccounts
    lists the UserIDs that could not be imported."""
    async with stack(tmp_path, connect=False) as st:
        await st.rest.ok(LOGIN, "account_import", {"UserID": "solo", "Nick": "Solo", "FaceUrl": ""})
        await st.rest.ok(LOGIN, "account_import", {"Identifier": "legacy"})
        result = await st.rest.ok(
            LOGIN, "multiaccount_import", {"AccountList": ["bulk1", "", "u" * 33, "bulk2"]}
        )
        assert result["FailAccounts"] == ["", "u" * 33]
        for owner in ("solo", "legacy", "bulk1", "bulk2"):
            await st.rest.create_oa(owner)
        again = await st.rest.ok(LOGIN, "account_import", {"UserID": "solo", "Nick": "New"})
        assert again["ErrorCode"] == 0


# --- groups --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "body"),
    [
        ("add_group_member", {"MemberList": members("amy")}),
        ("delete_group_member", {"MemberToDel_Account": ["amy"]}),
        ("destroy_group", {}),
        ("get_group_member_info", {}),
    ],
)
def test_missing_group_is_10010(api: BackgroundStack, command: str, body: dict) -> None:
    """Every command on a group that does not exist gets 10010."""
    result = post(api, GROUP, command, {"GroupId": "no-such-group", **body})
    assert result["ErrorCode"] == 10010, result


def test_avchatroom_takes_no_added_members(api: BackgroundStack) -> None:
    """add_group_member on an AVChatRoom gets 10007; creating one with members gets 10007; and
    delete_group_member on it gets 10004."""
    add = post(
        api, GROUP, "add_group_member", {"GroupId": "fixture-room", "MemberList": members("amy")}
    )
    assert add["ErrorCode"] == 10007
    create = post(
        api,
        GROUP,
        "create_group",
        {"Owner_Account": "owner", "Type": "AVChatRoom", "Name": "n", "MemberList": members("amy")},
    )
    assert create["ErrorCode"] == 10007
    delete = post(
        api,
        GROUP,
        "delete_group_member",
        {"GroupId": "fixture-room", "MemberToDel_Account": ["amy"]},
    )
    assert delete["ErrorCode"] == 10004


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"GroupId": "fixture-group"}, 10021),
        ({"GroupId": "@TGS#reserved"}, 10015),
        ({"GroupId": "has space"}, 10015),
        ({"Owner_Account": "stranger"}, 10019),
        ({"MemberList": members("stranger")}, 10019),
        ({"MaxMemberCount": 1, "MemberList": members("amy")}, 10004),
    ],
)
def test_create_group_errors(api: BackgroundStack, body: dict, code: int) -> None:
    """create_group refuses a GroupId in use (10021), a reserved or malformed one (10015),
    users never imported (10019) and more members than MaxMemberCount (10004)."""
    request = {"Owner_Account": "owner", "Type": "Public", "Name": "n", **body}
    assert post(api, GROUP, "create_group", request)["ErrorCode"] == code


def test_group_info_and_members(api: BackgroundStack) -> None:
    """get_group_info gives the profile (10010 per missing item); get_group_member_info pages
    the members with the owner first."""
    info = post(api, GROUP, "get_group_info", {"GroupIdList": ["fixture-group", "no-such-group"]})
    found, missing = info["GroupInfo"]
    assert found["GroupId"] == "fixture-group"
    assert (found["Type"], found["Owner_Account"], found["ErrorCode"]) == ("Public", "owner", 0)
    assert {"Name", "MemberNum", "MaxMemberNum", "ApplyJoinOption", "CreateTime"} <= set(found)
    assert (missing["GroupId"], missing["ErrorCode"]) == ("no-such-group", 10010)

    post(
        api,
        GROUP,
        "create_group",
        {
            "Owner_Account": "owner",
            "Type": "Public",
            "Name": "p",
            "GroupId": "paged",
            "MemberList": members("amy", "bob"),
        },
    )
    page = post(api, GROUP, "get_group_member_info", {"GroupId": "paged", "Limit": 2})
    assert page["MemberNum"] == 3
    assert [(m["Member_Account"], m["Role"]) for m in page["MemberList"]] == [
        ("owner", "Owner"),
        ("amy", "Member"),
    ]
    rest = post(api, GROUP, "get_group_member_info", {"GroupId": "paged", "Limit": 2, "Offset": 2})
    assert [m["Member_Account"] for m in rest["MemberList"]] == ["bob"]


def test_destroy_group(api: BackgroundStack) -> None:
    """destroy_group dismisses the group: it is gone (10010) afterwards."""
    post(
        api,
        GROUP,
        "create_group",
        {"Owner_Account": "owner", "Type": "Private", "Name": "d", "GroupId": "doomed"},
    )
    assert post(api, GROUP, "destroy_group", {"GroupId": "doomed"})["ErrorCode"] == 0
    info = post(api, GROUP, "get_group_info", {"GroupIdList": ["doomed"]})
    assert info["GroupInfo"][0]["ErrorCode"] == 10010
    assert post(api, GROUP, "destroy_group", {"GroupId": "doomed"})["ErrorCode"] == 10010


def test_huge_member_offset_is_a_bad_parameter(api: BackgroundStack) -> None:
    """An Offset beyond 64 bits is refused with 10004, not an HTTP 500."""
    body = {"GroupId": "fixture-group", "Offset": 2**63}
    assert post(api, GROUP, "get_group_member_info", body)["ErrorCode"] == 10004


# --- client API ----------------------------------------------------------------------------------


def test_client_errors(api: BackgroundStack) -> None:
    """Client actions check the user's UserSig and rights: 70003, 10007 for no right, 10013 for
    a second application, 10004 for an owner quitting or a missing application."""

    def client(user: str, command: str, body: dict, **changes: str) -> dict[str, Any]:
        query = params(**{"identifier": user, "usersig": sig(user), "platform": "Web", **changes})
        return post(api, CLIENT, command, body, query=query)

    assert (
        client("amy", "apply_join_group", {"GroupId": "fixture-group"}, usersig="bad")["ErrorCode"]
        == 70003
    )
    assert (
        client(
            "amy", "invite_group_member", {"GroupId": "fixture-group", "MemberList": members("bob")}
        )["ErrorCode"]
        == 10007
    )
    post(
        api,
        GROUP,
        "create_group",
        {
            "Owner_Account": "owner",
            "Type": "Private",
            "Name": "w",
            "GroupId": "closed",
            "MemberList": members("bob"),
        },
    )
    assert client("amy", "apply_join_group", {"GroupId": "closed"})["ErrorCode"] == 10007
    assert client("bob", "apply_join_group", {"GroupId": "closed"})["ErrorCode"] == 10013
    assert client("owner", "quit_group", {"GroupId": "closed"})["ErrorCode"] == 10004
    assert (
        client(
            "owner", "handle_join_application", {"GroupId": "closed", "Applicant_Account": "amy"}
        )["ErrorCode"]
        == 10004
    )
    assert (
        client("amy", "subscribe_official_account", {"Official_Account": MISSING_OA})["ErrorCode"]
        == 130004
    )


# --- apps are separate ---------------------------------------------------------------------------


async def test_one_app_cannot_see_another_apps_things(tmp_path: Path) -> None:
    """Two apps on one backend see only their own OAs, groups and users, may reuse custom IDs,
    and refuse each other's UserSigs (70014)."""
    async with stack(tmp_path, connect=False) as st:
        other_key = "another-apps-secret-key"
        await st.add_app(OTHER_APP, other_key)
        from server_support import Rest

        other = Rest(st.rest.http, OTHER_APP, other_key)
        await other.import_users("owner", "amy")
        oa = await other.create_oa("owner", "Theirs", OfficialAccountUserID="@TOA#_shared")
        group = await other.create_group("owner", "Public", GroupId="shared-group")

        mine_info = await st.rest.oa_info(oa)
        assert mine_info["ErrorCode"] == 130004
        assert (await st.rest.group_info(group))["ErrorCode"] == 10010
        for result in (
            await st.rest.call(OA, "destroy_official_account", {"Official_Account": oa}),
            await st.rest.call(
                OA, "send_official_account_msg", {"Official_Account": oa, "MsgBody": TEXT}
            ),
            await st.rest.call(OA, "get_subscriber_info", {"Official_Account": oa}),
        ):
            assert result["ErrorCode"] == 130004
        for result in (
            await st.rest.call(
                GROUP, "add_group_member", {"GroupId": group, "MemberList": members("amy")}
            ),
            await st.rest.call(GROUP, "destroy_group", {"GroupId": group}),
        ):
            assert result["ErrorCode"] == 10010
        # Users are per app: "owner" of the other app is not imported here.
        assert (
            await st.rest.call(
                OA, "create_official_account", {"Owner_Account": "owner", "Name": "n"}
            )
        )["ErrorCode"] == 70107
        await st.rest.import_users("owner")
        assert (
            await st.rest.create_oa("owner", OfficialAccountUserID="@TOA#_shared") == "@TOA#_shared"
        )
        assert (await st.rest.oa_info("@TOA#_shared"))["Name"] == "News"
        assert (await other.oa_info("@TOA#_shared"))["Name"] == "Theirs"

        cross = await st.rest.call(
            OA,
            "get_official_account_info",
            {"OfficialAccountIdList": [{"Official_Account": oa}]},
            usersig=other.sig(ADMIN),
        )
        assert cross["ErrorCode"] == 70014
        wrong_key = await other.call(
            OA, "get_official_account_info", INFO, usersig=st.rest.sig(ADMIN)
        )
        assert wrong_key["ErrorCode"] == 70014


async def test_a_client_cannot_pose_as_the_rest_api(tmp_path: Path) -> None:
    """platform=RESTAPI on a client call gives no admin rights: a user who does not own an OA
    still cannot send or recall its messages (130002)."""
    async with stack(tmp_path, connect=False) as st:
        await st.rest.import_users("owner", "intruder")
        oa = await st.rest.create_oa("owner")
        key = (await st.rest.send_msg(oa))["MsgKey"]
        sent = await st.rest.client(
            "intruder",
            "send_official_account_msg",
            {"Official_Account": oa, "MsgBody": TEXT},
            platform="RESTAPI",
        )
        recalled = await st.rest.client(
            "intruder",
            "official_account_msg_recall",
            {"Official_Account": oa, "MsgKeyList": [key]},
            platform="restapi",
        )
        assert (sent["ErrorCode"], recalled["ErrorCode"]) == (130002, 130002)
