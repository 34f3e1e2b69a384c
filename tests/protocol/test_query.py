"""The query string Tencent appends to the webhook URL ("Webhook Overview", docs/protocol.md)."""

from __future__ import annotations

import pytest

from timhooks.protocol import MalformedRequest, Platform, WebhookQuery, build_query, parse_query

TEMPLATE = (
    "SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterGroupFull"
    "&contenttype=json&ClientIP=203.0.113.7&OptPlatform=RESTAPI"
)


def test_tencents_template_query_is_parsed() -> None:
    """The documented URL template gives every parameter, SdkAppid as a number."""
    q = parse_query(TEMPLATE)
    assert q == WebhookQuery(
        sdk_app_id=1400000000,
        callback_command="Group.CallbackAfterGroupFull",
        content_type="json",
        client_ip="203.0.113.7",
        opt_platform=Platform.RESTAPI,
        opt_platform_raw="RESTAPI",
        request_time=None,
        sign=None,
    )


def test_bytes_and_mapping_queries_parse_alike() -> None:
    """The query may come as ASGI bytes or as a framework's mapping of parameters."""
    as_mapping = {
        "SdkAppid": "1400000000",
        "CallbackCommand": "Group.CallbackAfterGroupFull",
        "contenttype": "json",
        "ClientIP": "203.0.113.7",
        "OptPlatform": "RESTAPI",
    }
    assert parse_query(TEMPLATE.encode()) == parse_query(TEMPLATE) == parse_query(as_mapping)


@pytest.mark.parametrize(
    ("raw", "platform"),
    [
        ("RESTAPI", Platform.RESTAPI),
        ("Web", Platform.WEB),
        ("Android", Platform.ANDROID),
        ("iOS", Platform.IOS),
        ("IOS", Platform.IOS),  # State.StateChange writes IOS (docs/protocol.md)
        ("Windows", Platform.WINDOWS),
        ("Mac", Platform.MAC),
        ("macOS", Platform.MAC),  # the English overview writes macOS
        ("iPad", Platform.IPAD),
        ("Unknown", Platform.UNKNOWN),
        ("HarmonyOS", Platform.UNKNOWN),
        ("", Platform.UNKNOWN),
    ],
)
def test_every_opt_platform_value(raw: str, platform: Platform) -> None:
    """Each documented OptPlatform reads as its Platform; new values read as Unknown, kept raw."""
    q = parse_query(f"SdkAppid=1&CallbackCommand=X&OptPlatform={raw}")
    assert q.opt_platform is platform
    assert q.opt_platform_raw == raw


def test_platform_values_are_tencents_spelling() -> None:
    """Platform values are the strings Tencent sends, so a Chat backend can send them back."""
    assert [p.value for p in Platform] == [
        "RESTAPI",
        "Web",
        "Android",
        "iOS",
        "Windows",
        "Mac",
        "iPad",
        "Unknown",
    ]


@pytest.mark.parametrize(
    "query",
    [
        "sdkappid=42&callbackcommand=X&clientip=1.2.3.4",
        "SDKAPPID=42&CALLBACKCOMMAND=X&CLIENTIP=1.2.3.4",
        "SdkAppId=42&CallbackCommand=X&ClientIp=1.2.3.4",
    ],
)
def test_parameter_names_are_case_insensitive(query: str) -> None:
    """SdkAppid, SdkAppId and sdkappid all name the app (a related product writes SdkAppId)."""
    q = parse_query(query)
    assert (q.sdk_app_id, q.callback_command, q.client_ip) == (42, "X", "1.2.3.4")


def test_sign_and_request_time_are_kept_as_text() -> None:
    """Sign and RequestTime are passed on untouched for verify_sign to judge."""
    q = parse_query("SdkAppid=1&CallbackCommand=X&Sign=ABCdef&RequestTime=0012")
    assert (q.sign, q.request_time) == ("ABCdef", "0012")


def test_the_first_of_repeated_parameters_wins() -> None:
    """A parameter given twice is read from its first occurrence."""
    assert parse_query("SdkAppid=1&sdkappid=2&CallbackCommand=X").sdk_app_id == 1


def test_missing_optional_parameters_get_defaults() -> None:
    """contenttype defaults to json, ClientIP to empty, OptPlatform to Unknown."""
    q = parse_query("SdkAppid=7&CallbackCommand=X")
    assert (q.content_type, q.client_ip, q.opt_platform) == ("json", "", Platform.UNKNOWN)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "no SdkAppid"),
        ("CallbackCommand=X", "no SdkAppid"),
        ("SdkAppid=&CallbackCommand=X", "no SdkAppid"),
        ("SdkAppid=abc&CallbackCommand=X", "must be a number"),
        ("SdkAppid=-1&CallbackCommand=X", "must be a number"),
        ("SdkAppid=1.5&CallbackCommand=X", "must be a number"),
        ("SdkAppid=%D9%A3&CallbackCommand=X", "must be a number"),  # Arabic-Indic digit
        ("SdkAppid=" + "9" * 21 + "&CallbackCommand=X", "must be a number"),
        ("SdkAppid=1", "no CallbackCommand"),
        ("SdkAppid=1&CallbackCommand=", "no CallbackCommand"),
        ("SdkAppid=1&CallbackCommand=X&pad=" + "a" * 9000, "longer than"),
    ],
)
def test_bad_queries_say_which_parameter(query: str, reason: str) -> None:
    """A missing or malformed SdkAppid or CallbackCommand is a MalformedRequest that names it."""
    with pytest.raises(MalformedRequest, match=reason):
        parse_query(query)


def test_build_query_is_tencents_order_and_parses_back() -> None:
    """build_query writes the documented parameter order, and parse_query reads it back."""
    text = build_query(
        sdk_app_id=1400000000,
        callback_command="Group.CallbackAfterGroupFull",
        client_ip="127.0.0.1",
        opt_platform=Platform.IOS,
        request_time=1669872112,
        sign="17773bc3",
    )
    names = [pair.split("=")[0] for pair in text.split("&")]
    assert names == [
        "SdkAppid",
        "CallbackCommand",
        "contenttype",
        "ClientIP",
        "OptPlatform",
        "Sign",
        "RequestTime",
    ]
    q = parse_query(text)
    assert (q.sdk_app_id, q.callback_command, q.client_ip, q.opt_platform) == (
        1400000000,
        "Group.CallbackAfterGroupFull",
        "127.0.0.1",
        Platform.IOS,
    )
    assert (q.sign, q.request_time, q.content_type) == ("17773bc3", "1669872112", "json")


def test_build_query_without_a_token_has_no_sign() -> None:
    """Without a Sign the query carries neither Sign nor RequestTime."""
    text = build_query(sdk_app_id=1, callback_command="X", client_ip="", opt_platform="Web")
    assert "Sign" not in text
    assert "RequestTime" not in text
