"""Every setting of ``timhooks serve`` and ``timhooks worker``, declared once.

A ``Setting`` holds its name, how its value is read and checked, its help text and, for a
webhook setting, its field of ``set_callback``. From it come the flag (``--name-with-dashes``),
the variable (``TIMHOOKS_NAME``), the TOML key (``name`` under ``[server]``, or under
``[callback]`` without the ``callback_`` prefix), what ``load_config`` accepts, the ``--help``
defaults, and ``CallbackConfig``'s reading and writing of ``set_callback`` (all in
``timhooks.server.config``). A new setting is one entry in ``SETTINGS`` and its attribute.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from timhooks.protocol.commands import COMMANDS
from timhooks.protocol.errors import ConfigError

__all__ = [
    "CALLBACK_SETTINGS",
    "ENV_PREFIX",
    "SETTINGS",
    "FailurePolicy",
    "Kind",
    "Setting",
]

ENV_PREFIX = "TIMHOOKS_"
"""Each setting's environment variable is this prefix and its name in capitals."""


class FailurePolicy:
    """What a before-webhook that times out or fails does: proceed (Tencent's default) or deny."""

    PROCEED = "proceed"
    DENY = "deny"
    ALL = (PROCEED, DENY)


# --- how a value is written: in TOML, a variable or a flag (``read``) and in set_callback's
# typed JSON (``wire``), where a number must be a JSON number, not text --------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # key = 1234 in TOML
    raise ValueError


def _integer(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _switch(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(a for a in re.split(r"[,\s]+", value) if a)
    if isinstance(value, list | tuple) and all(isinstance(a, str) for a in value):
        return tuple(value)
    raise ValueError


def _policy(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in FailurePolicy.ALL:
        return value.strip().lower()
    raise ValueError


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    raise ValueError


def _wire_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


def _wire_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a number")
    return float(value)


def _wire_integer(value: Any) -> int:
    return int(_wire_number(value))


def _wire_commands(value: Any) -> frozenset[str]:
    if value == "*" or value == ["*"]:
        return frozenset(COMMANDS)
    if not isinstance(value, list | tuple | set | frozenset) or not all(
        isinstance(c, str) for c in value
    ):
        raise ValueError('an array of command names, or "*"')
    return frozenset(value)


def _wire_policy(value: Any) -> Any:
    # Checked by CallbackConfig, which names the policies.
    return value.lower() if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class Kind:
    """How a setting's value is written: in TOML, a variable, a flag, and in JSON."""

    what: str
    """What a good value is, for error messages."""
    read: Callable[[Any], Any]
    """A TOML value, a variable's text or a flag's value -> the value; ValueError when bad."""
    wire: Callable[[Any], Any] | None = None
    """A set_callback JSON value -> the value; ValueError saying what it must be."""
    flag_type: Callable[[str], Any] = str
    """What argparse converts the flag's text with."""
    choices: tuple[str, ...] | None = None
    json_type: str = "string"
    """Its JSON Schema type."""


TEXT = Kind("text", _text, _wire_text)
INTEGER = Kind("an integer", _integer, _wire_integer, int, json_type="integer")
NUMBER = Kind("a number", _number, _wire_number, float, json_type="number")
SWITCH = Kind("true or false", _switch, json_type="boolean")
NAMES = Kind("names, comma-separated (a list in TOML)", _names, json_type="array")
COMMAND_NAMES = Kind(NAMES.what, _names, _wire_commands, json_type="array")
CONSOLE = Kind(
    "on, off or auto",
    lambda value: _choice(value, ("on", "off", "auto")),
    choices=("on", "off", "auto"),
)
POLICY = Kind(
    f"a failure policy: {' or '.join(FailurePolicy.ALL)}",
    _policy,
    _wire_policy,
    choices=FailurePolicy.ALL,
)


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting, declared once; every place it can be given is derived from this.

    A webhook setting (``wire`` set) is also that field of ``set_callback``'s JSON
    (``"AfterRetry.Factor"``: a field of an object), in the same unit as its flag; its
    CallbackConfig attribute holds that divided by ``divisor`` (milliseconds become seconds).
    """

    name: str
    kind: Kind
    help: str
    attr: str
    """The attribute it sets: of ServerConfig, or for webhook settings of CallbackConfig
    (``"retry.cap"``: an attribute of an attribute)."""
    default: str | None = None
    """The default as --help says it, when it is not the attribute's default value."""
    metavar: str | None = None
    switch: str | None = None
    """A flag without a value that sets ``switch_value`` (``--no-dispatch``)."""
    switch_value: bool = True
    wire: str | None = None
    divisor: int = 1
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    """An exclusive minimum."""
    worker: bool = False
    """``timhooks worker`` takes it too."""

    @property
    def section(self) -> Literal["server", "callback"]:
        """Its TOML table."""
        return "callback" if self.wire is not None else "server"

    @property
    def key(self) -> str:
        """Its key in its TOML table."""
        return self.name.removeprefix("callback_")

    @property
    def env(self) -> str:
        """Its environment variable."""
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        """Its command-line flag."""
        return self.switch or "--" + self.name.replace("_", "-")

    def bounds(self) -> str | None:
        """The range a value must be in, in words (None: any)."""
        low = f"more than {self.above:g}" if self.above is not None else None
        if self.minimum is not None:
            low = f"at least {self.minimum:g}"
        high = f"at most {self.maximum:g}" if self.maximum is not None else None
        return f"{low} and {high}" if low and high else low or high

    def check(self, value: Any, label: str) -> None:
        """A ConfigError naming ``label`` when the number ``value`` is out of range."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return
        if (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
            or (self.above is not None and value <= self.above)
        ):
            raise ConfigError(f"{label} must be {self.bounds()}, got {value:g}")


def _server(name: str, kind: Kind, help_text: str, **options: Any) -> Setting:
    return Setting(name, kind, help_text, name, **options)


def _callback(
    name: str, kind: Kind, help_text: str, attr: str, wire: str, **options: Any
) -> Setting:
    return Setting(f"callback_{name}", kind, help_text, attr, wire=wire, **options)


_STORED = "the stored one, else"

SETTINGS: Mapping[str, Setting] = {
    s.name: s
    for s in (
        _server("host", TEXT, "address to listen on", worker=True),
        # Its range is checked where it is bound, for listen too (timhooks/hosting.py).
        _server("port", INTEGER, "port to listen on"),
        _server(
            "db",
            TEXT,
            "database: a path, sqlite:///path or postgresql://user@host/db",
            metavar="URL",
            worker=True,
        ),
        _server(
            "app_id",
            INTEGER,
            "SDKAppID of the app to serve",
            default="the stored app, else a new one",
            metavar="SDKAPPID",
            minimum=1,
            maximum=2**63 - 1,
        ),
        _server("key", TEXT, "the app's secret key", default=f"{_STORED} generated"),
        _server(
            "rotate_key",
            SWITCH,
            "replace the stored key with --key, invalidating UserSigs made with the old one",
            default="refuse a different key",
            switch="--rotate-key",
        ),
        _server(
            "admins",
            NAMES,
            "admin identifiers, comma-separated",
            default="the stored ones, else administrator",
            metavar="IDS",
        ),
        _server(
            "concurrency",
            INTEGER,
            "after-webhooks in flight at once",
            metavar="N",
            minimum=1,
            worker=True,
        ),
        _server(
            "dispatch",
            SWITCH,
            "do not deliver after-webhooks in this process; run `timhooks worker`",
            default="deliver",
            switch="--no-dispatch",
            switch_value=False,
        ),
        _server(
            "allow_private_targets",
            SWITCH,
            "refuse webhook URLs whose host is or resolves to an address that is not globally"
            " routable (loopback, private, link-local, carrier-grade NAT, reserved), for"
            " multi-tenant deployments",
            default="allowed",
            switch="--refuse-private-targets",
            switch_value=False,
            worker=True,
        ),
        _server(
            "upgrade",
            SWITCH,
            "refuse to start on an outdated schema instead of migrating it",
            default="migrate",
            switch="--no-upgrade",
            switch_value=False,
            worker=True,
        ),
        _server(
            "max_connections",
            INTEGER,
            "open HTTP connections at most; at the cap the longest idle one is closed, or a new"
            " one answered 503 when all are in a request",
            metavar="N",
            minimum=1,
        ),
        _server(
            "retention_days",
            NUMBER,
            "prune finished deliveries older than this, hourly; 0 keeps all",
            metavar="DAYS",
            minimum=0,
            worker=True,
        ),
        _server(
            "reload_interval",
            NUMBER,
            "seconds between reloads of the app settings other processes change",
            metavar="SECONDS",
            above=0,
            worker=True,
        ),
        _server(
            "console",
            CONSOLE,
            "the web console at /console/ (timhooks/console/): on, off, or auto, on only when"
            " --host is loopback",
        ),
        _server(
            "console_token",
            TEXT,
            "the console's sign-in token (an admin UserSig of the app signs in too)",
            default="a new one each start, printed",
            metavar="TOKEN",
        ),
        _server(
            "metrics",
            SWITCH,
            "count nothing and serve no /metrics (/healthz and /readyz stay)",
            default="Prometheus metrics at /metrics",
            switch="--no-metrics",
            switch_value=False,
            worker=True,
        ),
        _server(
            "metrics_port",
            INTEGER,
            "also serve /metrics, /healthz and /readyz on this port of --host (a worker"
            " serves them nowhere else)",
            default="none",
            metavar="PORT",
            minimum=0,
            maximum=65535,
            worker=True,
        ),
        _callback(
            "url",
            TEXT,
            "webhook URL; alone it switches every command on",
            "url",
            "Url",
            default=f"{_STORED} none: no webhooks",
            metavar="URL",
        ),
        _callback(
            "token",
            TEXT,
            "webhook token: adds Sign and RequestTime",
            "token",
            "Token",
            default=f"{_STORED} unsigned",
            metavar="TOKEN",
        ),
        _callback(
            "commands",
            COMMAND_NAMES,
            'comma-separated CallbackCommands to send, or "*"',
            "commands",
            "CallbackCommandList",
            default="the stored list, else every one",
            metavar="NAMES",
        ),
        _callback(
            "before_timeout_ms",
            NUMBER,
            "before-webhook timeout in milliseconds",
            "before_timeout",
            "BeforeTimeoutMs",
            metavar="MS",
            divisor=1000,
            above=0,
            maximum=60000,
        ),
        _callback(
            "after_timeout_ms",
            NUMBER,
            "after-webhook timeout in milliseconds",
            "after_timeout",
            "AfterTimeoutMs",
            metavar="MS",
            divisor=1000,
            above=0,
            maximum=60000,
        ),
        _callback(
            "failure_policy",
            POLICY,
            "what a before-webhook that fails or times out does",
            "failure_policy",
            "BeforeFailurePolicy",
        ),
        _callback(
            "retry_attempts",
            INTEGER,
            "after-webhook attempts in all; 1 is no retry",
            "retry.attempts",
            "AfterRetry.Attempts",
            metavar="N",
            minimum=1,
        ),
        _callback(
            "retry_base",
            NUMBER,
            "seconds before the first retry",
            "retry.base",
            "AfterRetry.BaseSeconds",
            metavar="SECONDS",
            minimum=0,
        ),
        _callback(
            "retry_factor",
            NUMBER,
            "how many times longer each retry waits than the one before",
            "retry.factor",
            "AfterRetry.Factor",
            metavar="X",
            minimum=1,
        ),
        _callback(
            "retry_max_seconds",
            NUMBER,
            "the longest wait before a retry, in seconds",
            "retry.cap",
            "AfterRetry.MaxSeconds",
            metavar="SECONDS",
            minimum=0,
        ),
    )
}
"""Every setting by its one name, in the order --help shows them."""

CALLBACK_SETTINGS = tuple(s for s in SETTINGS.values() if s.wire is not None)
"""The webhook settings, in set_callback's order."""
