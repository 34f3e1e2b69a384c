"""Reading REST request bodies: each wrong field is an ApiError that names it.

Every service has its own "bad parameter" code (reference 5.1, 5.2, 6); the reader carries it.
"""

from __future__ import annotations

from typing import Any

from timhooks.server.domain import ApiError

__all__ = ["Fields"]

_TYPES = {
    str: "a string",
    int: "an integer",
    list: "an array",
    dict: "an object",
    bool: "a boolean",
}


class Fields:
    """Typed access to a JSON request body."""

    def __init__(self, data: dict[str, Any], bad: int) -> None:
        self.data = data
        self.bad = bad

    def error(self, info: str) -> ApiError:
        """An ApiError with this service's bad-parameter code."""
        return ApiError(self.bad, info)

    def _get(self, name: str, kind: type, required: bool) -> Any:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.error(f"{name} is required")
            return None
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.error(f"{name} must be {_TYPES[kind]}")
        return value

    def text(self, name: str, *, max_bytes: int | None = None) -> str | None:
        """An optional string field, at most ``max_bytes`` long in UTF-8."""
        value: str | None = self._get(name, str, False)
        if value is not None and max_bytes is not None and len(value.encode()) > max_bytes:
            raise self.error(f"{name} is longer than {max_bytes} bytes")
        return value

    def req_text(self, name: str, *, max_bytes: int | None = None) -> str:
        """A required, non-empty string field."""
        value = self.text(name, max_bytes=max_bytes)
        if not value:
            raise self.error(
                f"{name} is required" if value is None else f"{name} must not be empty"
            )
        return value

    def integer(
        self,
        name: str,
        *,
        default: int | None = None,
        low: int | None = None,
        high: int | None = None,
    ) -> int | None:
        """An integer field within [low, high]."""
        value: int | None = self._get(name, int, False)
        if value is None:
            return default
        if not -(2**63) <= value < 2**63:
            raise self.error(f"{name} is out of the 64-bit integer range")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = (
                f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
            )
            raise self.error(f"{name} must be in {bounds}, got {value}")
        return value

    def array(self, name: str, *, required: bool = True, max_items: int | None = None) -> list[Any]:
        """An array field of at most ``max_items`` items."""
        value: list[Any] | None = self._get(name, list, required)
        if value is None:
            return []
        if required and not value:
            raise self.error(f"{name} must not be empty")
        if max_items is not None and len(value) > max_items:
            raise self.error(f"{name} holds at most {max_items} items, got {len(value)}")
        return value

    def ids(self, name: str, *, max_items: int | None = None, required: bool = True) -> list[str]:
        """An array of UserID strings."""
        items = self.array(name, required=required, max_items=max_items)
        if not all(isinstance(i, str) and i for i in items):
            raise self.error(f"{name} must be an array of non-empty strings")
        return items

    def accounts(
        self, name: str, key: str, *, max_items: int | None = None, required: bool = True
    ) -> list[str]:
        """An array of ``{key: UserID}`` objects, e.g. ``[{"Member_Account": "a"}]``."""
        items = self.array(name, required=required, max_items=max_items)
        out: list[str] = []
        for i, item in enumerate(items):
            value = item.get(key) if isinstance(item, dict) else None
            if not isinstance(value, str) or not value:
                raise self.error(f"{name}[{i}].{key} must be a non-empty string")
            out.append(value)
        return out
