"""The five Tencent documents of record: their sample requests, kept as fixtures, and parsed.

tests/fixtures/seeds holds, per document, its "Sample request" block as printed (``.sample.txt``,
Tencent's ``//`` comments included) and the same body as JSON (``.json``: comments removed, every
value exactly as printed; 002 writes EventTime as a quoted string). Both live in the repository,
so these tests run on any checkout; where the documents themselves are beside the checkout
(``../shared/seeds``), the stored blocks are checked against them too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from timhooks.protocol import parse_event
from timhooks.protocol.events import (
    AfterDeleteSubscriber,
    AfterGroupFull,
    AfterMsgWithDraw,
    AfterOfficialAccountFull,
    BeforeCreateOfficialAccount,
    Event,
    Subscriber,
    WithdrawMsg,
)

REPO = Path(__file__).resolve().parents[2]
SEED_DOCS = REPO / ".." / "shared" / "seeds"
FIXTURES = REPO / "tests" / "fixtures" / "seeds"
SEEDS = sorted(p.stem for p in FIXTURES.glob("*.json"))


def document_sample(document: str) -> str:
    """The text between a document's "Sample request" heading and its "Request fields"."""
    lines = [line.strip() for line in document.splitlines()]
    start = lines.index("Sample request")
    end = lines.index("Request fields", start)
    return "\n".join(lines[start + 1 : end]).strip() + "\n"


def strip_comments(text: str) -> str:
    """Remove the ``//`` comments Tencent writes inside its JSON samples.

    A comment ends at a newline; the one-line samples (seed 002) run the next key straight after
    the comment text, so it also ends before a quote or a bracket.
    """
    out: list[str] = []
    i, in_string = 0, False
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\":
                out.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
            i += 1
        elif text.startswith("//", i):
            i += 2
            while i < len(text) and text[i] not in '\n"{}[]':
                i += 1
        else:
            in_string = ch == '"'
            out.append(ch)
            i += 1
    return "".join(out)


def sample_request(block: str) -> Any:
    """The JSON of a sample request block, Tencent's comments removed."""
    return json.loads(strip_comments(block[block.index("{") : block.rindex("}") + 1]))


def load_fixture(stem: str) -> Any:
    return json.loads((FIXTURES / f"{stem}.json").read_text())


def test_every_seed_has_its_fixtures() -> None:
    """There is one sample block and one JSON fixture per seed document, five in all; where the
    documents are beside the checkout, each stored block is the one its document prints."""
    assert len(SEEDS) == 5
    assert sorted(p.name.split(".")[0] for p in FIXTURES.glob("*.sample.txt")) == SEEDS
    if SEED_DOCS.is_dir():
        assert sorted(p.stem for p in SEED_DOCS.glob("*.txt")) == SEEDS
        for stem in SEEDS:
            printed = document_sample((SEED_DOCS / f"{stem}.txt").read_text())
            assert printed == (FIXTURES / f"{stem}.sample.txt").read_text(), stem


@pytest.mark.parametrize("stem", SEEDS)
def test_fixture_is_the_documents_sample_request(stem: str) -> None:
    """Each JSON fixture is exactly the sample request its Tencent document prints, comments
    removed."""
    block = (FIXTURES / f"{stem}.sample.txt").read_text()
    assert sample_request(block) == load_fixture(stem)


def test_comment_stripping_keeps_slashes_inside_strings() -> None:
    """A ``//`` inside a JSON string (a URL) is data, not a comment."""
    text = '{"FaceUrl": "https://a.example/x.png", // the face\n"Name": "n"// end\n}'
    assert json.loads(strip_comments(text)) == {"FaceUrl": "https://a.example/x.png", "Name": "n"}


EXPECTED: dict[str, tuple[type[Event], dict[str, Any]]] = {
    "000_47723e71ba1ef125": (
        AfterOfficialAccountFull,
        {"official_account": "@TOA#_test_OA_for_penn", "event_time": 1670574414123},
    ),
    "001_c7a82d83e5673240": (
        AfterDeleteSubscriber,
        {
            "official_account": "@TOA#_test_OA_for_penn",
            "operator_account": "leckie",
            "subscribe_account_list": (
                Subscriber(subscriber_account="jared"),
                Subscriber(subscriber_account="leckie"),
            ),
            "event_time": 1670574414123,
        },
    ),
    "002_7400e8c1d35a92f9": (
        AfterGroupFull,
        {"group_id": "@TGS#2J4SZEAEL", "event_time": 1670574414123},
    ),
    "003_c4847255494cbc6e": (
        BeforeCreateOfficialAccount,
        {
            "operator_account": "107867",
            "owner_account": "107867",
            "name": "TestOfficialAccount",
            "event_time": 1670574414123,
        },
    ),
    "004_91baba6421d316ba": (
        AfterMsgWithDraw,
        {
            "official_account": "#TOA#_123",
            "withdraw_msg_list": (WithdrawMsg(msg_key="71_1_1698741698"),),
            "event_time": 1670574414123,
        },
    ),
}


@pytest.mark.parametrize("stem", SEEDS)
def test_seed_parses_to_its_typed_event(stem: str) -> None:
    """Each sample request parses to its command's event class with the document's values."""
    cls, fields = EXPECTED[stem]
    raw = (FIXTURES / f"{stem}.json").read_bytes()
    event = parse_event(raw)
    assert type(event) is cls
    assert event.callback_command == cls.command == load_fixture(stem)["CallbackCommand"]
    for name, value in fields.items():
        assert getattr(event, name) == value, name
    assert event.extra == {}


@pytest.mark.parametrize("stem", SEEDS)
def test_seed_round_trips_through_to_wire(stem: str) -> None:
    """to_wire() gives back the sample's JSON, with EventTime as the number it stands for."""
    wire = load_fixture(stem)
    wire["EventTime"] = int(wire["EventTime"])
    event = parse_event((FIXTURES / f"{stem}.json").read_bytes())
    # to_wire() may hold tuples where JSON has arrays; compare what it serialises to.
    assert json.loads(json.dumps(event.to_wire())) == wire
    assert parse_event(json.dumps(event.to_wire())) == event
