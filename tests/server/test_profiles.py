"""Profiles end to end: profile/portrait_set and portrait_get, the client's own profile, and
Profile.CallbackPortraitSet ("After a Profile Is Updated",
https://www.tencentcloud.com/document/product/1047/48733) at a real timhooks Receiver; the
standard fields and limits of "Profile Management" (https://trtc.io/document/33520).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_support import ADMIN, LOGIN, TOKEN, Clock, Stack, stack

from timhooks.protocol import events as ev

PROFILE = "profile"


async def portrait(st: Stack, user: str, *tags: str) -> dict[str, Any]:
    result = await st.rest.ok(
        PROFILE, "portrait_get", {"To_Account": [user], "TagList": list(tags)}
    )
    [item] = result["UserProfileItem"]
    assert item["ResultCode"] == 0, item
    return {p["Tag"]: p["Value"] for p in item["ProfileItem"]}


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_portrait_set_sends_portrait_set(token: str | None, tmp_path: Path) -> None:
    """An admin's portrait_set stores the fields and sends PortraitSet with the admin as
    Operator_Account and the user as From_Account."""
    async with stack(tmp_path, token=token) as st:
        await st.rest.import_users("id1")
        items = [
            {"Tag": "Tag_Profile_IM_Nick", "Value": "nick1"},
            {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Male"},
            {"Tag": "Tag_Profile_IM_AllowType", "Value": "AllowType_Type_NeedConfirm"},
            {"Tag": "Tag_Profile_IM_Level", "Value": 7},
            {"Tag": "Tag_Profile_Custom_Data", "Value": "your custom data"},
        ]
        with Clock() as t:
            await st.rest.ok(PROFILE, "portrait_set", {"From_Account": "id1", "ProfileItem": items})
        command = ev.PortraitSet.command
        await st.webhook(
            command, t.window, Operator_Account=ADMIN, From_Account="id1", ProfileItem=items
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.PortraitSet)
        assert [(i.tag, i.value) for i in event.profile_item][3] == ("Tag_Profile_IM_Level", 7)
        tags = [i["Tag"] for i in items]
        assert await portrait(st, "id1", *tags) == {i["Tag"]: i["Value"] for i in items}


async def test_client_sets_its_own_profile(tmp_path: Path) -> None:
    """A user's own profile change sends PortraitSet from the client's platform, the user being
    both Operator_Account and From_Account."""
    async with stack(tmp_path) as st:
        items = [{"Tag": "Tag_Profile_IM_SelfSignature", "Value": "hello"}]
        with Clock() as t:
            answer = await st.rest.client("amy", "portrait_set", {"ProfileItem": items}, "Web")
        assert answer["ErrorCode"] == 0, answer
        await st.webhook(
            ev.PortraitSet.command,
            t.window,
            "Web",
            Operator_Account="amy",
            From_Account="amy",
            ProfileItem=items,
        )
        assert await portrait(st, "amy", "Tag_Profile_IM_SelfSignature") == {
            "Tag_Profile_IM_SelfSignature": "hello"
        }


async def test_nick_and_image_are_the_accounts_nick_and_face_url(tmp_path: Path) -> None:
    """account_import's Nick/FaceUrl are portrait_get's Nick/Image, and portrait_set's Nick and
    Image are what a later account_import overwrites: one value each."""
    async with stack(tmp_path) as st:
        await st.rest.ok(
            LOGIN, "account_import", {"UserID": "u", "Nick": "Ann", "FaceUrl": "http://f/1"}
        )
        nick, image = "Tag_Profile_IM_Nick", "Tag_Profile_IM_Image"
        assert await portrait(st, "u", nick, image) == {nick: "Ann", image: "http://f/1"}
        items = [{"Tag": nick, "Value": "Bea"}, {"Tag": image, "Value": "http://f/2"}]
        await st.rest.ok(PROFILE, "portrait_set", {"From_Account": "u", "ProfileItem": items})
        assert await portrait(st, "u", nick, image) == {nick: "Bea", image: "http://f/2"}
        rows = await st.server.store.read(
            lambda c: c.execute(
                "SELECT nick, face_url FROM accounts WHERE user_id = 'u'"
            ).fetchall()
        )
        assert [tuple(r) for r in rows] == [("Bea", "http://f/2")]
        await st.rest.ok(LOGIN, "account_import", {"UserID": "u", "Nick": "Cy"})
        assert await portrait(st, "u", nick) == {nick: "Cy"}


@pytest.mark.parametrize(
    ("item", "code", "named"),
    [
        ({"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Other"}, 40001, "Gender"),
        ({"Tag": "Tag_Profile_IM_BirthDay", "Value": "19800101"}, 40001, "BirthDay"),
        ({"Tag": "Tag_Profile_IM_Level", "Value": -1}, 40001, "Level"),
        ({"Tag": "Tag_Profile_IM_Location", "Value": "x" * 17}, 40005, "Location"),
        ({"Tag": "Tag_Profile_IM_Nick", "Value": "x" * 501}, 40005, "Nick"),
        ({"Tag": "Tag_Profile_IM_Unknown", "Value": "x"}, 40001, "Tag_Profile_IM_Unknown"),
        ({"Tag": "Tag_Profile_Custom_TooLongName", "Value": "x"}, 40001, "Custom"),
        ({"Value": "x"}, 40001, "ProfileItem[1]"),
    ],
)
async def test_bad_fields_are_refused_and_nothing_is_set(
    item: dict[str, Any], code: int, named: str, tmp_path: Path
) -> None:
    """A value of the wrong type or over its limit, or an unknown tag, refuses the whole call
    with an ErrorInfo naming it; nothing is written and no webhook goes out."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("u")
        good = {"Tag": "Tag_Profile_IM_SelfSignature", "Value": "kept?"}
        body = {"From_Account": "u", "ProfileItem": [good, item]}
        answer = await st.rest.call(PROFILE, "portrait_set", body)
        assert answer["ErrorCode"] == code, answer
        assert named in answer["ErrorInfo"], answer
        assert await portrait(st, "u", "Tag_Profile_IM_SelfSignature") == {}
        await st.drained()
        assert await st.outbox(ev.PortraitSet.command) == []


async def test_unknown_users(tmp_path: Path) -> None:
    """portrait_set of an unknown user is 40003; portrait_get lists unknown users in
    Fail_Account with ResultCode 40003 and answers the others."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("u")
        items = [{"Tag": "Tag_Profile_IM_Nick", "Value": "n"}]
        answer = await st.rest.call(
            PROFILE, "portrait_set", {"From_Account": "ghost", "ProfileItem": items}
        )
        assert answer["ErrorCode"] == 40003, answer
        got = await st.rest.ok(
            PROFILE,
            "portrait_get",
            {"To_Account": ["u", "ghost"], "TagList": ["Tag_Profile_IM_Nick"]},
        )
        assert got["Fail_Account"] == ["ghost"]
        assert [i["ResultCode"] for i in got["UserProfileItem"]] == [0, 40003]
