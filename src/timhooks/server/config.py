"""Configuration of the Chat backend: apps, their webhook settings, and the server itself.

Every setting is declared once, in ``timhooks.server.settings.SETTINGS``; ``load_config``, the
flags of ``timhooks serve`` and ``timhooks worker`` (``timhooks.cli.serve``) with their ``--help``
defaults, and ``CallbackConfig``'s reading and writing of ``set_callback``'s JSON are derived here
from that declaration.

Sources, later ones winning: defaults, a TOML file, ``TIMHOOKS_*`` environment variables, flags
(so a flag beats its variable, which beats the file). ``timhooks serve`` then stores the app (its
key, admins and webhook settings) in its database, and a restart without those settings reuses them.
The same ``CallbackConfig`` is changed at run time by the ``timhooks_config`` REST commands.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from timhooks.delivery.addresses import is_public_address
from timhooks.protocol.commands import COMMANDS
from timhooks.protocol.errors import ConfigError
from timhooks.server.settings import (
    CALLBACK_SETTINGS,
    ENV_PREFIX,
    SETTINGS,
    TEXT,
    FailurePolicy,
    Setting,
)
from timhooks.workqueue.retry import NO_RETRY, RetryPolicy

__all__ = [
    "ENV_PREFIX",
    "SETTINGS",
    "CallbackConfig",
    "FailurePolicy",
    "ServerConfig",
    "Setting",
    "default_text",
    "load_config",
    "set_callback_schema",
    "validate_callback_url",
]

# Tencent's webhook timeout ("Webhook Overview", https://trtc.io/document/34354; docs/protocol.md).
DEFAULT_BEFORE_TIMEOUT = 2.0  # seconds

# A domain label: letters, digits and single hyphens, not first or last ("Webhook Configuration",
# https://trtc.io/document/34520).
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?!-))*(?<!-)$")
_PATH_FORBIDDEN = re.compile(r"[\s?#!$&]")


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
    """Check ``url`` against Tencent's webhook URL rules; return it unchanged.

    The rules of "Webhook Configuration" (https://trtc.io/document/34520): http or https; host an
    IP address or a domain of letters, digits and single inner hyphens (at most 63 characters);
    no query or fragment, since Tencent appends its own query. With ``allow_private=False`` every
    address that is not globally routable is refused too (``timhooks.delivery.addresses``), and
    so is ``localhost``.
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
        raise ConfigError(f"callback URL has a bad port: {exc}") from exc
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


T = TypeVar("T")


def _get(obj: Any, attr: str) -> Any:
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _with(obj: T, changes: Mapping[str, Any]) -> T:
    """``obj`` (a dataclass) with the dotted attributes of ``changes`` replaced (``retry.cap``
    inside ``retry``), each inner object rebuilt once."""
    direct: dict[str, Any] = {}
    inner: dict[str, dict[str, Any]] = {}
    for attr, value in changes.items():
        head, _, rest = attr.partition(".")
        if rest:
            inner.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, sub in inner.items():
        direct[head] = _with(direct.get(head, getattr(obj, head)), sub)
    return cast(T, replace(cast(Any, obj), **direct)) if direct else obj


# --- the webhook settings ----------------------------------------------------------------------


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
        for setting in CALLBACK_SETTINGS:
            value = _get(self, setting.attr)
            if isinstance(value, int | float):
                setting.check(value * setting.divisor, str(setting.wire))
        if self.failure_policy not in FailurePolicy.ALL:
            raise ConfigError(f"failure policy must be one of {FailurePolicy.ALL}")
        if self.token is not None and not 1 <= len(self.token) <= 128:
            raise ConfigError("callback token must be 1 to 128 characters")

    def enabled(self, command: str) -> bool:
        """True if a webhook for ``command`` is sent: a URL is set and its switch is on."""
        return self.url is not None and command in self.commands

    def to_wire(self) -> dict[str, Any]:
        """The ``get_callback`` view; the token itself is never shown."""
        data: dict[str, Any] = {}
        for setting in CALLBACK_SETTINGS:
            if setting.wire == "Token":
                data["IsTokenEnable"] = self.token is not None
            else:
                _put(data, str(setting.wire), _wire_value(setting, _get(self, setting.attr)))
        return data

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
        changes: dict[str, Any] = {}
        for setting in CALLBACK_SETTINGS:
            wire = str(setting.wire)
            found, value = _find(data, wire)
            if found:
                changes[setting.attr] = _from_wire(setting, value)
        if data.get("IsTokenEnable") is False:
            changes["token"] = None
        return _with(base or cls(), changes)


def _find(data: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """Whether ``data`` holds the field ``path`` ("AfterRetry.Factor"), and its value."""
    head, _, rest = path.partition(".")
    if head not in data:
        return False, None
    if not rest:
        return True, data[head]
    inner = data[head]
    if not isinstance(inner, Mapping):
        raise ConfigError(f"{head} must be an object")
    return _find(inner, rest)


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if rest:
        _put(data.setdefault(head, {}), rest, value)
    else:
        data[head] = value


def _from_wire(setting: Setting, value: Any) -> Any:
    """One field of set_callback's JSON -> the attribute's value; ConfigError naming it."""
    wire = str(setting.wire)
    read = setting.kind.wire or setting.kind.read
    try:
        result = read(value)
    except ValueError as exc:
        raise ConfigError(f"{wire} must be {exc}") from exc
    if isinstance(result, int | float):
        setting.check(result, wire)
        if setting.divisor != 1:
            return result / setting.divisor
    return result


def _wire_value(setting: Setting, value: Any) -> Any:
    """An attribute's value as set_callback's JSON writes it."""
    if setting.wire == "Url":
        return value or ""
    if setting.wire == "CallbackCommandList":
        return sorted(value)
    if setting.divisor != 1:
        return round(value * setting.divisor)
    return value


def set_callback_schema() -> dict[str, Any]:
    """The schema of ``set_callback``'s body (OpenAPI 3.0), from the declaration of the settings."""
    properties: dict[str, Any] = {}
    for setting in CALLBACK_SETTINGS:
        kind = setting.kind
        schema: dict[str, Any]
        if setting.wire == "CallbackCommandList":
            names = {"type": "array", "items": {"type": "string", "enum": sorted(COMMANDS)}}
            schema = {"oneOf": [names, {"type": "string", "enum": ["*"]}]}
        elif kind.choices is not None:
            schema = {"type": "string", "enum": list(kind.choices)}
        elif setting.wire in ("Url", "Token"):
            schema = {"type": "string"}
            if setting.wire == "Token":
                schema["maxLength"] = 128
        else:
            schema = {"type": kind.json_type}
            if setting.minimum is not None:
                schema["minimum"] = setting.minimum
            if setting.above is not None:
                # OpenAPI 3.0 writes an open bound as a boolean beside minimum.
                schema.update(minimum=setting.above, exclusiveMinimum=True)
            if setting.maximum is not None:
                schema["maximum"] = setting.maximum
        schema["description"] = setting.help
        path = str(setting.wire).split(".")
        where = properties
        for head in path[:-1]:
            where = where.setdefault(head, {"type": "object", "properties": {}})["properties"]
        where[path[-1]] = schema
        if setting.wire == "Token":
            properties["IsTokenEnable"] = {
                "type": "boolean",
                "description": "false removes the token: webhooks go unsigned",
            }
    return {"type": "object", "properties": properties}


# --- the server --------------------------------------------------------------------------------


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
    """Webhook settings given at start-up; those in ``callback_given`` (else those that differ
    from the defaults) replace the stored ones."""
    dispatch: bool = True
    concurrency: int = 32
    allow_private_targets: bool = True
    upgrade: bool = True  # migrate the database schema on start
    rotate_key: bool = False  # a --key different from the stored one replaces it (else refused)
    retention_days: float = 7.0  # prune finished deliveries older than this; 0 keeps all
    reload_interval: float = 2.0  # seconds between reloads of app settings other processes set
    max_connections: int = 1024  # open HTTP connections (timhooks/hosting.py)
    console: str = "auto"  # the web console: on, off, or auto (on when host is loopback)
    console_token: str | None = None  # None: a new one each start, printed
    metrics: bool = True  # count and serve /metrics (timhooks/metrics.py)
    metrics_port: int | None = None  # a second port for /metrics, /healthz, /readyz
    callback_given: frozenset[str] | None = None
    """The CallbackConfig attributes given at start-up (``load_config`` knows them)."""

    def __post_init__(self) -> None:
        for setting in SETTINGS.values():
            if setting.section == "server":
                setting.check(getattr(self, setting.attr), setting.name)

    def startup_callback(self, stored: CallbackConfig) -> CallbackConfig:
        """The webhook settings to serve with: each one given at start-up replaces the stored
        one, the others keep it."""
        given = self.callback
        if given is None:
            return stored
        if self.callback_given is not None:
            attrs: Iterator[str] = iter(self.callback_given)
        else:
            defaults = CallbackConfig()
            attrs = (
                s.attr for s in CALLBACK_SETTINGS if _get(given, s.attr) != _get(defaults, s.attr)
            )
        return _with(stored, {attr: _get(given, attr) for attr in attrs})


def load_config(
    *,
    file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """Merge defaults, the TOML ``file``, ``TIMHOOKS_*`` variables and ``flags`` (None = unset).

    ``flags`` holds values by setting name. A bad or unknown setting is a ConfigError that names
    where it was given.
    """
    given: dict[str, tuple[Any, str]] = {}  # name -> (value, where it was given)
    if file is not None:
        given.update(_read_file(file))
    environ = os.environ if env is None else env
    for setting in SETTINGS.values():
        text = environ.get(setting.env)
        if text is not None:
            given[setting.name] = (text, setting.env)
    for name, value in (flags or {}).items():
        if value is not None:
            if name not in SETTINGS:
                raise ConfigError(f"unknown setting {name!r}{_did_you_mean(name)}")
            given[name] = (value, SETTINGS[name].flag)
    server: dict[str, Any] = {}
    wire: dict[str, Any] = {}
    for name, (raw, where) in list(given.items()):
        setting = SETTINGS[name]
        if setting.kind is TEXT and raw == "":
            # An empty URL, token or key (TIMHOOKS_KEY= in a compose file) is one not given:
            # the stored one stays. set_callback removes a stored URL or token.
            del given[name]
            continue
        try:
            value = setting.kind.read(raw)
        except (TypeError, ValueError):
            raise ConfigError(
                f"setting {where} has a bad value {raw!r}: expected {setting.kind.what}"
            ) from None
        setting.check(value, f"setting {where}")
        if setting.section == "server":
            server[setting.attr] = value
        else:
            _put(wire, str(setting.wire), list(value) if isinstance(value, tuple) else value)
    if not wire:
        return ServerConfig(**server)
    callback = CallbackConfig.from_wire(wire)
    chosen = frozenset(SETTINGS[n].attr for n in given if SETTINGS[n].section == "callback")
    return ServerConfig(**server, callback=callback, callback_given=chosen)


def _read_file(file: str | Path) -> Iterator[tuple[str, tuple[Any, str]]]:
    """The settings of a TOML file: (name, (value, where))."""
    try:
        with open(file, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc
    unknown: list[str] = []
    for table, keys in doc.items():
        if table not in ("server", "callback") or not isinstance(keys, dict):
            unknown.append(f"{table} (settings go in the tables [server] and [callback])")
            continue
        for key, value in keys.items():
            name = key.replace("-", "_")
            if table == "callback":
                name = f"callback_{name}"
            setting = SETTINGS.get(name) or SETTINGS.get(f"callback_{name}")
            if setting is None:
                unknown.append(f"[{table}] {key}{_did_you_mean(name, table)}")
                continue
            if setting.section != table:
                unknown.append(f"[{table}] {key} (it goes in [{setting.section}] as {setting.key})")
                continue
            yield name, (value, f"[{table}] {key} in {file}")
    if unknown:
        raise ConfigError(f"unknown setting(s) in {file}: {', '.join(unknown)}")


def _did_you_mean(name: str, table: str | None = None) -> str:
    """The hint ``(did you mean port?)`` for the declared setting closest to ``name``, if any."""
    names = [s.name for s in SETTINGS.values() if table is None or s.section == table]
    close = difflib.get_close_matches(name, names, n=1)
    if not close:
        return ""
    setting = SETTINGS[close[0]]
    return f" (did you mean {setting.key if table else setting.name}?)"


def default_text(setting: Setting) -> str:
    """A setting's default as ``--help`` says it."""
    if setting.default is not None:
        return setting.default
    if setting.section == "callback":
        value = _wire_value(setting, _get(CallbackConfig(), setting.attr))
        return f"the stored one, else {_shown(value)}"
    return _shown(getattr(ServerConfig(), setting.attr))


def _shown(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:g}"
    return str(value)
