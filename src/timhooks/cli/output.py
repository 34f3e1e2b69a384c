"""Output helpers shared by the CLI commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["print_json", "when"]


def when(epoch: float) -> str:
    """An epoch time as UTC ISO 8601 with milliseconds."""
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def print_json(value: Any) -> None:
    """One JSON document on one line, flushed (for programs reading the output)."""
    print(json.dumps(value, ensure_ascii=False), flush=True)
