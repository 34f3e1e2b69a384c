"""The one JSON encoder of timhooks: webhook answers, REST envelopes, outbox bodies.

msgspec's ``Encoder`` keeps its buffer between calls (faster than ``msgspec.json.encode`` each
time) and writes compact JSON, as Tencent's samples are.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["encode_json"]

_encoder = msgspec.json.Encoder()


def encode_json(value: Any) -> bytes:
    """``value`` (dicts, lists, msgspec Structs, ...) as compact JSON bytes."""
    return _encoder.encode(value)
