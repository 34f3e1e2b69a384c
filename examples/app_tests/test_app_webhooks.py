"""The example app (examples/fastapi_app.py) driven end to end: a Chat backend (tim_server)
makes real changes, and its webhooks reach the app's receiver over loopback."""

from __future__ import annotations

from types import ModuleType

from timhooks.protocol import events as ev
from timhooks.receiver import Decision
from timhooks.testing import TimServer, WebhookCapture, wait_until

IMPORT = "im_open_login_svc/multiaccount_import"
CREATE_OA = "official_account_open_http_svc/create_official_account"
CREATE_GROUP = "group_open_http_svc/create_group"
ADD_MEMBER = "group_open_http_svc/add_group_member"


def create_account(tim_server: TimServer, name: str, **fields: object) -> dict[str, object]:
    tim_server.rest(IMPORT, {"AccountList": ["penn", "jared", "leckie"]})
    return tim_server.rest(CREATE_OA, {"Owner_Account": "penn", "Name": name, **fields})


def test_a_forbidden_name_is_refused_by_the_app(tim_server: TimServer, app: ModuleType) -> None:
    """The app's before-webhook handler denies the name: the REST caller gets 20006."""
    answer = create_account(tim_server, "forbidden news")
    assert answer["ErrorCode"] == 20006


def test_a_long_name_gets_the_apps_own_code(tim_server: TimServer, app: ModuleType) -> None:
    """The app rejects with its own code and reason, which reach the REST caller."""
    answer = create_account(tim_server, "n" * 40)
    assert answer["ErrorCode"] == 120001
    assert answer["ErrorInfo"] == "official account names are at most 32 characters"


def test_a_full_account_is_recorded(tim_server: TimServer, app: ModuleType) -> None:
    """A user subscribing to an account with room for one fills it; the app's after-handler
    records the account."""
    account = create_account(tim_server, "news", MaxSubscriberNum=1)["OfficialAccountUserID"]
    subscribed = tim_server.client("jared", "iOS").call(
        "subscribe_official_account", {"Official_Account": account}
    )
    assert subscribed["ErrorCode"] == 0
    wait_until(lambda: account in app.full_accounts)


def test_unsubscribing_is_recorded(tim_server: TimServer, app: ModuleType) -> None:
    """A user who unsubscribes from a client is recorded by the app's after-handler."""
    account = create_account(tim_server, "news")["OfficialAccountUserID"]
    leckie = tim_server.client("leckie", "Android")
    leckie.call("subscribe_official_account", {"Official_Account": account})
    leckie.call("unsubscribe_official_account", {"Official_Account": account})
    wait_until(lambda: (account, "leckie") in app.unsubscribed)


def test_a_full_group_is_recorded(tim_server: TimServer, app: ModuleType) -> None:
    """Adding the member that fills a group reaches the app's plain-function handler."""
    tim_server.rest(IMPORT, {"AccountList": ["penn", "jared"]})
    group = tim_server.rest(
        CREATE_GROUP, {"Owner_Account": "penn", "Type": "Public", "Name": "g", "MaxMemberCount": 2}
    )["GroupId"]
    tim_server.rest(ADD_MEMBER, {"GroupId": group, "MemberList": [{"Member_Account": "jared"}]})
    wait_until(lambda: group in app.full_groups)


def test_the_capture_endpoint_sees_typed_events(
    tim_server: TimServer, tim_webhooks: WebhookCapture
) -> None:
    """Without the app: tim_webhooks records what the Chat backend sends, as typed events."""
    account = create_account(tim_server, "news")["OfficialAccountUserID"]
    created = tim_webhooks.wait_for(ev.AfterCreateOfficialAccount)
    assert (created.official_account, created.owner_account) == (account, "penn")


def test_a_scripted_answer_vetoes(tim_server: TimServer, tim_webhooks: WebhookCapture) -> None:
    """tim_webhooks.answer scripts a before-webhook's answer: a deny refuses the group."""
    tim_webhooks.answer(ev.BeforeCreateGroup, Decision.deny())
    tim_server.rest(IMPORT, {"AccountList": ["penn"]})
    answer = tim_server.rest(CREATE_GROUP, {"Owner_Account": "penn", "Type": "Public", "Name": "g"})
    assert answer["ErrorCode"] == 10016
    assert tim_webhooks.wait_for(ev.BeforeCreateGroup).owner_account == "penn"
