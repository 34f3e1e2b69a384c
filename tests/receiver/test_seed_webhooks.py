"""The five documented sample requests, posted to the receiver, get the documented answers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from receiver_support import ACK, APP, client, post, receiving

from timhooks.protocol import COMMANDS, Decision
from timhooks.protocol.events import BeforeCreateOfficialAccount
from timhooks.storage import InboxStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
OA_CREATE_SEED = FIXTURES / "003_c4847255494cbc6e.json"
AFTER_SEEDS = sorted(
    p.name
    for p in FIXTURES.glob("*.json")
    if not COMMANDS[json.loads(p.read_text())["CallbackCommand"]].is_before
)


def test_four_of_the_seeds_are_after_webhooks() -> None:
    """Seeds 000, 001, 002 and 004 are after-webhooks; 003 is the before-create veto."""
    assert len(AFTER_SEEDS) == 4
    assert OA_CREATE_SEED.name not in AFTER_SEEDS


@pytest.mark.parametrize("name", AFTER_SEEDS)
async def test_after_seed_is_acknowledged_and_stored(name: str, tmp_path: Path) -> None:
    """An after-webhook sample gets {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0} and is
    in the inbox, byte for byte, once the 200 is out."""
    payload = (FIXTURES / name).read_bytes()
    command = json.loads(payload)["CallbackCommand"]
    async with receiving(tmp_path) as receiver:
        async with client(receiver) as http:
            response = await post(http, command, payload)
        assert response.status_code == 200
        assert response.json() == ACK
        assert response.headers["content-type"] == "application/json"
        [entry] = await receiver.inbox.list()
        assert (entry.command, entry.phase, entry.sdk_app_id) == (command, "after", APP)
        assert entry.body == payload
        assert entry.client_ip == "127.0.0.1"
        assert entry.opt_platform == "RESTAPI"
        assert entry.status in {InboxStatus.PENDING, InboxStatus.DONE}


async def _answer(tmp_path: Path, decision: Decision | None) -> dict[str, object]:
    payload = OA_CREATE_SEED.read_bytes()
    async with receiving(tmp_path) as receiver:
        seen: list[BeforeCreateOfficialAccount] = []
        if decision is not None:

            @receiver.on(BeforeCreateOfficialAccount)
            def veto(event: BeforeCreateOfficialAccount) -> Decision:
                seen.append(event)
                return decision

        async with client(receiver) as http:
            response = await post(http, BeforeCreateOfficialAccount.command, payload)
        assert response.status_code == 200
        if decision is not None:
            assert [e.name for e in seen] == ["TestOfficialAccount"]
        answer: dict[str, object] = response.json()
        return answer


async def test_before_create_seed_is_allowed_by_default(tmp_path: Path) -> None:
    """With no handler, BeforeCreateOfficialAccount is allowed (ErrorCode 0)."""
    assert await _answer(tmp_path, None) == ACK


async def test_before_create_seed_denied(tmp_path: Path) -> None:
    """A denying handler answers ErrorCode 1; the caller then sees 20006."""
    assert await _answer(tmp_path, Decision.deny()) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 1,
    }
    assert COMMANDS[BeforeCreateOfficialAccount.command].deny_code == 20006


@pytest.mark.parametrize("code", [120001, 125000, 130000])
async def test_before_create_seed_rejected_with_a_custom_code(code: int, tmp_path: Path) -> None:
    """A custom code in [120001, 130000] and its ErrorInfo are passed through to Tencent."""
    answer = await _answer(tmp_path, Decision.reject(code, "name is taken"))
    assert answer == {"ActionStatus": "OK", "ErrorInfo": "name is taken", "ErrorCode": code}


@pytest.mark.parametrize("code", [119999, 130001, 10100])
async def test_before_create_seed_custom_code_out_of_range_gets_the_fallback(
    code: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A custom code outside [120001, 130000] is refused by the receiver: the fallback (allow)
    is answered instead, and the mistake is logged."""
    with caplog.at_level(logging.ERROR, logger="timhooks.receiver"):
        assert await _answer(tmp_path, Decision.reject(code, "nope")) == ACK
    assert "invalid decision" in caplog.text
    assert str(code) in caplog.text
