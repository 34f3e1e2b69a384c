"""Configuration of the Chat backend: apps, their webhook settings, and the server itself.

Sources, later ones winning: defaults, a TOML file, ``TIMHOOKS_*`` environment variables, flags
(so a flag beats its variable, which beats the file). ``timhooks serve`` then stores the app (its
key, admins and webhook settings) in its database, and a restart without those settings reuses them.
The same ``CallbackConfig`` is changed at run time by the ``timhooks_config`` REST commands.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from timhooks.delivery.addresses import is_public_address
from timhooks.delivery.retry import NO_RETRY, RetryPolicy
from timhooks.protocol.commands import COMMANDS
from timhooks.protocol.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "SETTINGS",
    "CallbackConfig",
    "FailurePolicy",
    "ServerConfig",
    "load_config",
    "validate_callback_url",
]

DEFAULT_BEFORE_TIMEOUT = 2.0  # seconds; Tencent's webhook timeout (reference 1.4)

# A domain label: letters, digits and single hyphens, not first or last (reference 2).
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?!-))*(?<!-)$")
_PATH_FORBIDDEN = re.compile(r"[\s?#!$&]")


class FailurePolicy:
    """What a before-webhook that times out or fails does: proceed (Tencent's default) or deny."""

    PROCEED = "proceed"
    DENY = "deny"
    ALL = (PROCEED, DENY)


def _ipv4_shorthand(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address written the way inet_aton reads it (``127.1``, ``2130706433``,
    ``0x7f.0.0.1``): the resolver connects there, so the checks must see it as an address."""
    if not host or not all(part.isalnum() for part in host.split(".")):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def validate_callback_url(url: str, *, allow_private: bool = True) -> str:
    """Check ``url`` against Tencent's webhook URL rules (reference 2); return it unchanged.

    http or https; host an IP address or a domain of letters, digits and single inner hyphens
    (at most 63 characters); no query or fragment, since Tencent appends its own query. With
    ``allow_private=False`` every address that is not globally routable is refused too
    (``timhooks.delivery.addresses``), and so is ``localhost``.
    """
    if not isinstance(url, str) or not url:
        raise ConfigError("callback URL must be a non-empty string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"callback URL must start with http:// or https://, got {url[:60]!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("callback URL must not carry a user name or password")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigError("callback URL must have no query or fragment; Tencent appends its own")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ConfigError(f"callback URL has a bad port: {exc}") from None
    if not host:
        raise ConfigError("callback URL has no host")
    del port
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = _ipv4_shorthand(host)
    if address is None:
        if len(host) > 63:
            raise ConfigError("callback URL domain is longer than 63 characters")
        if not all(_LABEL.match(label) for label in host.split(".")):
            raise ConfigError(
                f"callback URL domain {host!r} may hold only letters, digits and single hyphens"
                " that neither start nor end a label"
            )
    if _PATH_FORBIDDEN.search(parts.path):
        raise ConfigError("callback URL path must not contain spaces or any of !$&?#")
    if not allow_private:
        # A host name is checked again at delivery time, against what it then resolves to.
        name = host.lower()
        if address is None and (
            name in ("localhost", "localhost.localdomain") or name.endswith(".localhost")
        ):
            raise ConfigError("callback URL points at this machine (private targets are refused)")
        if address is not None and not is_public_address(address):
            raise ConfigError(f"callback URL address {address} is not public (refused)")
    return url


@dataclass(frozen=True, slots=True)
class CallbackConfig:
    """One app's webhook settings."""

    url: str | None = None
    token: str | None = None
    commands: frozenset[str] = field(default_factory=lambda: frozenset(COMMANDS))
    before_timeout: float = DEFAULT_BEFORE_TIMEOUT
    after_timeout: float = DEFAULT_BEFORE_TIMEOUT
    failure_policy: str = FailurePolicy.PROCEED
    retry: RetryPolicy = NO_RETRY

    def __post_init__(self) -> None:
        if self.url is not None:
            validate_callback_url(self.url)
        unknown = sorted(c for c in self.commands if c not in COMMANDS)
        if unknown:
            raise ConfigError(f"unknown CallbackCommand(s): {', '.join(unknown)}")
        if not 0 < self.before_timeout <= 60 or not 0 < self.after_timeout <= 60:
            raise ConfigError("webhook timeouts must be between 0 and 60 seconds")
        if self.failure_policy not in FailurePolicy.ALL:
            raise ConfigError(f"failure policy must be one of {FailurePolicy.ALL}")
        if self.token is not None and not 1 <= len(self.token) <= 128:
            raise ConfigError("callback token must be 1 to 128 characters")

    def enabled(self, command: str) -> bool:
        """True if a webhook for ``command`` is sent: a URL is set and its switch is on."""
        return self.url is not None and command in self.commands

    def to_wire(self) -> dict[str, Any]:
        """The ``get_callback`` view; the token itself is never shown."""
        return {
            "Url": self.url or "",
            "IsTokenEnable": self.token is not None,
            "CallbackCommandList": sorted(self.commands),
            "BeforeTimeoutMs": round(self.before_timeout * 1000),
            "AfterTimeoutMs": round(self.after_timeout * 1000),
            "BeforeFailurePolicy": self.failure_policy,
            "AfterRetry": {
                "Attempts": self.retry.attempts,
                "BaseSeconds": self.retry.base,
                "Factor": self.retry.factor,
                "MaxSeconds": self.retry.cap,
            },
        }

    def to_store(self) -> dict[str, Any]:
        """Everything, token included, as stored in the database."""
        data = self.to_wire()
        data["Token"] = self.token
        del data["IsTokenEnable"]
        return data

    @classmethod
    def from_wire(
        cls, data: Mapping[str, Any], base: CallbackConfig | None = None
    ) -> CallbackConfig:
        """Apply the fields present in ``data`` (``set_callback`` or stored form) onto ``base``."""
        cfg = base or cls()
        changes: dict[str, Any] = {}
        if "Url" in data:
            changes["url"] = _opt_str(data["Url"], "Url")
        if "Token" in data:
            changes["token"] = _opt_str(data["Token"], "Token")
        if data.get("IsTokenEnable") is False:
            changes["token"] = None
        if "CallbackCommandList" in data:
            changes["commands"] = _commands(data["CallbackCommandList"])
        if "BeforeTimeoutMs" in data:
            changes["before_timeout"] = _number(data["BeforeTimeoutMs"], "BeforeTimeoutMs") / 1000
        if "AfterTimeoutMs" in data:
            changes["after_timeout"] = _number(data["AfterTimeoutMs"], "AfterTimeoutMs") / 1000
        if "BeforeFailurePolicy" in data:
            policy = data["BeforeFailurePolicy"]
            changes["failure_policy"] = policy.lower() if isinstance(policy, str) else policy
        if "AfterRetry" in data:
            changes["retry"] = _retry(data["AfterRetry"], cfg.retry)
        return replace(cfg, **changes)


def _opt_str(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number")
    return float(value)


def _commands(value: Any) -> frozenset[str]:
    if value == "*" or value == ["*"]:
        return frozenset(COMMANDS)
    if not isinstance(value, list | tuple | set | frozenset) or not all(
        isinstance(c, str) for c in value
    ):
        raise ConfigError('CallbackCommandList must be an array of command names, or "*"')
    return frozenset(value)


def _retry(value: Any, base: RetryPolicy) -> RetryPolicy:
    if not isinstance(value, Mapping):
        raise ConfigError("AfterRetry must be an object")
    fields = {
        "Attempts": "attempts",
        "BaseSeconds": "base",
        "Factor": "factor",
        "MaxSeconds": "cap",
    }
    changes: dict[str, Any] = {}
    for wire, name in fields.items():
        if wire in value:
            number = _number(value[wire], f"AfterRetry.{wire}")
            changes[name] = int(number) if name == "attempts" else number
    return replace(base, **changes)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything ``timhooks serve`` needs."""

    host: str = "127.0.0.1"
    port: int = 8600
    db: str = "timhooks.db"
    app_id: int | None = None
    key: str | None = None
    admins: tuple[str, ...] | None = None  # None: keep the stored ones (new apps: administrator)
    callback: CallbackConfig | None = None
    dispatch: bool = True
    concurrency: int = 32
    allow_private_targets: bool = True
    upgrade: bool = True  # migrate the database schema on start
    rotate_key: bool = False  # a --key different from the stored one replaces it (else refused)
    retention_days: float = 7.0  # prune finished deliveries older than this; 0 keeps all
    reload_interval: float = 2.0  # seconds between reloads of app settings other processes set
    max_connections: int = 1024  # open HTTP connections (timhooks/hosting.py)


_ENV = "TIMHOOKS_"


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(a for a in re.split(r"[,\s]+", value) if a)
    return tuple(str(a) for a in value)


# Every setting by its one name: flag --name-with-dashes, variable TIMHOOKS_NAME, and in TOML
# the key under [server], or under [callback] without the "callback_" prefix.
_SERVER_KEYS: dict[str, Any] = {
    "host": str,
    "port": int,
    "db": str,
    "app_id": int,
    "key": str,
    "admins": _names,
    "dispatch": _flag,
    "concurrency": int,
    "allow_private_targets": _flag,
    "upgrade": _flag,
    "rotate_key": _flag,
    "retention_days": float,
    "reload_interval": float,
    "max_connections": int,
}
_CALLBACK_KEYS: dict[str, Any] = {
    "callback_url": str,
    "callback_token": str,
    "callback_commands": _names,
    "callback_before_timeout_ms": float,
    "callback_failure_policy": str,
    "callback_retry_attempts": int,
    "callback_retry_base": float,
}

ENV_PREFIX = _ENV
"""Each setting's environment variable is this prefix and its name in capitals."""
SETTINGS: tuple[str, ...] = (*_SERVER_KEYS, *_CALLBACK_KEYS)
"""Every setting's name, as ``load_config`` reads it from flags, variables and TOML."""


def load_config(
    *,
    file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """Merge defaults, the TOML ``file``, ``TIMHOOKS_*`` variables and ``flags`` (None = unset)."""
    merged: dict[str, Any] = {}
    if file is not None:
        try:
            with open(file, "rb") as fh:
                doc = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
        merged.update({k.replace("-", "_"): v for k, v in doc.get("server", {}).items()})
        merged.update(
            {f"callback_{k.replace('-', '_')}": v for k, v in doc.get("callback", {}).items()}
        )
    environ = os.environ if env is None else env
    readers = {**_SERVER_KEYS, **_CALLBACK_KEYS}
    for key in readers:
        value = environ.get(_ENV + key.upper())
        if value is not None:
            merged[key] = value
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    unknown = sorted(set(merged) - set(readers))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in merged.items():
        try:
            values[key] = readers[key](value)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {key} has a bad value {value!r}") from None
    server = {k: v for k, v in values.items() if k in _SERVER_KEYS}
    return ServerConfig(**server, callback=_callback(values))


def _callback(values: Mapping[str, Any]) -> CallbackConfig | None:
    wire: dict[str, Any] = {}
    for key, name in (
        ("callback_url", "Url"),
        ("callback_token", "Token"),
        ("callback_before_timeout_ms", "BeforeTimeoutMs"),
        ("callback_failure_policy", "BeforeFailurePolicy"),
    ):
        if key in values:
            wire[name] = values[key]
    if "callback_commands" in values:
        commands = values["callback_commands"]
        wire["CallbackCommandList"] = "*" if commands == ("*",) else list(commands)
    retry = {
        name: values[key]
        for key, name in (
            ("callback_retry_attempts", "Attempts"),
            ("callback_retry_base", "BaseSeconds"),
        )
        if key in values
    }
    if retry:
        wire["AfterRetry"] = retry
    return CallbackConfig.from_wire(wire) if wire else None
