"""Server settings from defaults, a TOML file, TIMHOOKS_* variables and flags, in that order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from timhooks.protocol import COMMANDS
from timhooks.protocol.errors import ConfigError
from timhooks.server.config import SETTINGS, CallbackConfig, ServerConfig, load_config
from timhooks.server.openapi import build_openapi
from timhooks.server.registry import COMMANDS as REST_COMMANDS
from timhooks.workqueue import RetryPolicy

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_toml() -> str:
    """The TOML example of the README, as printed there."""
    match = re.search(r"```toml\n(.*?)```", README.read_text(), re.S)
    assert match is not None, "the README has a TOML example"
    return match.group(1)


def test_readme_example_loads(tmp_path: Path) -> None:
    """The README's TOML example is a valid configuration with the values it shows."""
    path = tmp_path / "timhooks.toml"
    path.write_text(readme_toml())
    cfg = load_config(file=path, env={})
    assert (cfg.host, cfg.port, cfg.db, cfg.app_id, cfg.key) == (
        "127.0.0.1",
        8600,
        "timhooks.db",
        1400000001,
        "my-secret-key",
    )
    assert cfg.admins == ("administrator",)
    assert cfg.callback is not None
    assert cfg.callback.url == "http://127.0.0.1:8080/im"
    assert cfg.callback.token == "s3cret"
    assert cfg.callback.commands == {
        "OfficialAccount.CallbackAfterOfficialAccountFull",
        "Group.CallbackAfterGroupFull",
    }
    assert cfg.callback.before_timeout == 2.0
    assert cfg.callback.retry.attempts == 1


def test_example_file_holds_the_readme_settings(tmp_path: Path) -> None:
    """examples/timhooks.toml, with its comments, is the README's example."""
    path = tmp_path / "timhooks.toml"
    path.write_text(readme_toml())
    example = README.parent / "examples" / "timhooks.toml"
    assert load_config(file=example, env={}) == load_config(file=path, env={})
    assert "#" in example.read_text()


def test_later_sources_win(tmp_path: Path) -> None:
    """A flag beats a variable, which beats the file, which beats the default."""
    path = tmp_path / "t.toml"
    path.write_text('[server]\nport = 9000\nhost = "127.0.0.2"\ndb = "file.db"\n')
    env = {"TIMHOOKS_PORT": "9100", "TIMHOOKS_DB": "env.db"}
    cfg = load_config(file=path, env=env, flags={"port": 9200, "db": None})
    assert (cfg.port, cfg.db, cfg.host) == (9200, "env.db", "127.0.0.2")
    assert load_config(env={}).port == ServerConfig().port


def test_callback_url_alone_switches_every_command_on() -> None:
    """--callback-url by itself sends every command's webhook, with Tencent's defaults."""
    cfg = load_config(env={}, flags={"callback_url": "http://127.0.0.1:8080/im"})
    assert cfg.callback is not None
    assert cfg.callback.commands == frozenset(COMMANDS)
    assert cfg.callback == CallbackConfig(url="http://127.0.0.1:8080/im")


def test_variables_configure_the_callback() -> None:
    """TIMHOOKS_CALLBACK_* variables set the webhook settings, lists comma-separated."""
    env = {
        "TIMHOOKS_CALLBACK_URL": "https://hooks.example.com/im",
        "TIMHOOKS_CALLBACK_COMMANDS": "Group.CallbackAfterGroupFull, Group.CallbackAfterMemberExit",
        "TIMHOOKS_CALLBACK_FAILURE_POLICY": "deny",
        "TIMHOOKS_CALLBACK_RETRY_ATTEMPTS": "4",
        "TIMHOOKS_ADMINS": "root,ops",
    }
    cfg = load_config(env=env)
    assert cfg.admins == ("root", "ops")
    assert cfg.callback is not None
    assert cfg.callback.failure_policy == "deny"
    assert cfg.callback.retry.attempts == 4
    assert cfg.callback.commands == {
        "Group.CallbackAfterGroupFull",
        "Group.CallbackAfterMemberExit",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "unknown setting"),
        ('[server]\nport = "eighty"\n', "bad value"),
        ("[server\n", "not valid TOML"),
        ('[callback]\nurl = "ftp://x"\n', "http:// or https://"),
        ('[callback]\ncommands = ["Group.CallbackNothing"]\n', "unknown CallbackCommand"),
        ('[callback]\nfailure_policy = "maybe"\n', "failure policy"),
    ],
)
def test_bad_settings_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    """A wrong setting is a ConfigError naming it, never a crash."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(file=path, env={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A config file that is not there is named in the error."""
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(file=tmp_path / "nope.toml", env={})


def example_keys() -> dict[str, set[str]]:
    """The keys examples/timhooks.toml names per table, set or commented out."""
    tables: dict[str, set[str]] = {}
    table = ""
    for line in (README.parent / "examples" / "timhooks.toml").read_text().splitlines():
        if line.startswith("["):
            table = line.strip("[]")
        elif match := re.match(r"^#? ?([a-z_]+) = ", line):
            tables.setdefault(table, set()).add(match.group(1))
    return tables


def test_example_file_names_every_setting() -> None:
    """examples/timhooks.toml shows every setting under its table, and nothing that is not one."""
    declared: dict[str, set[str]] = {}
    for setting in SETTINGS.values():
        declared.setdefault(setting.section, set()).add(setting.key)
    assert example_keys() == declared


WIRE_CHANGE = {
    "Url": "http://127.0.0.1:8080/im",
    "Token": "s3cret",
    "CallbackCommandList": ["Group.CallbackAfterGroupFull"],
    "BeforeTimeoutMs": 750,
    "AfterTimeoutMs": 1500,
    "BeforeFailurePolicy": "deny",
    "AfterRetry": {"Attempts": 5, "BaseSeconds": 2, "Factor": 3, "MaxSeconds": 60},
}
SOURCES = {
    "flags": (
        [],
        {
            "callback_url": "http://127.0.0.1:8080/im",
            "callback_token": "s3cret",
            "callback_commands": "Group.CallbackAfterGroupFull",
            "callback_before_timeout_ms": 750.0,
            "callback_after_timeout_ms": 1500.0,
            "callback_failure_policy": "deny",
            "callback_retry_attempts": 5,
            "callback_retry_base": 2.0,
            "callback_retry_factor": 3.0,
            "callback_retry_max_seconds": 60.0,
        },
    ),
    "variables": (
        [
            ("TIMHOOKS_CALLBACK_URL", "http://127.0.0.1:8080/im"),
            ("TIMHOOKS_CALLBACK_TOKEN", "s3cret"),
            ("TIMHOOKS_CALLBACK_COMMANDS", "Group.CallbackAfterGroupFull"),
            ("TIMHOOKS_CALLBACK_BEFORE_TIMEOUT_MS", "750"),
            ("TIMHOOKS_CALLBACK_AFTER_TIMEOUT_MS", "1500"),
            ("TIMHOOKS_CALLBACK_FAILURE_POLICY", "deny"),
            ("TIMHOOKS_CALLBACK_RETRY_ATTEMPTS", "5"),
            ("TIMHOOKS_CALLBACK_RETRY_BASE", "2"),
            ("TIMHOOKS_CALLBACK_RETRY_FACTOR", "3"),
            ("TIMHOOKS_CALLBACK_RETRY_MAX_SECONDS", "60"),
        ],
        {},
    ),
}
CALLBACK_TOML = """[callback]
url = "http://127.0.0.1:8080/im"
token = "s3cret"
commands = ["Group.CallbackAfterGroupFull"]
before_timeout_ms = 750
after_timeout_ms = 1500
failure_policy = "deny"
retry_attempts = 5
retry_base = 2
retry_factor = 3
retry_max_seconds = 60
"""


@pytest.mark.parametrize("source", ["flags", "variables", "file"])
def test_every_set_callback_field_is_a_setting(tmp_path: Path, source: str) -> None:
    """Each field set_callback takes is also a flag, a variable and a TOML key, with the same
    effect: the webhook settings they give equal those of set_callback."""
    wire_fields = set(CallbackConfig().to_wire()) - {"IsTokenEnable"} | {"Token"}
    assert set(WIRE_CHANGE) == wire_fields
    assert set(WIRE_CHANGE["AfterRetry"]) == set(CallbackConfig().to_wire()["AfterRetry"])
    if source == "file":
        path = tmp_path / "t.toml"
        path.write_text(CALLBACK_TOML)
        cfg = load_config(file=path, env={})
    else:
        env, flags = SOURCES[source]
        cfg = load_config(env=dict(env), flags=flags)
    assert cfg.callback == CallbackConfig.from_wire(WIRE_CHANGE)
    assert cfg.callback.retry == RetryPolicy(attempts=5, base=2.0, factor=3.0, cap=60.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nconcurency = 4\n", r"\[server\] concurency .*did you mean concurrency"),
        ("[server]\nurl = 'http://127.0.0.1/im'\n", r"goes in \[callback\] as url"),
        ("[serve]\nport = 1\n", r"serve \(settings go in the tables"),
        ("[server]\nmax_connections = 0\n", r"\[server\] max_connections in .* at least 1"),
        ("[server]\ndispatch = 'maybe'\n", "bad value 'maybe': expected true or false"),
        ("[callback]\nretry_factor = 0.5\n", r"retry_factor in .* must be at least 1"),
        ("[callback]\nafter_timeout_ms = 0\n", r"after_timeout_ms in .* must be more than 0"),
    ],
)
def test_bad_settings_name_where_they_were_given(tmp_path: Path, text: str, message: str) -> None:
    """A misspelt key, a key in the wrong table or a value out of range is a ConfigError naming
    the key and the file, with the likely intended setting."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(file=path, env={})


def test_bad_variables_and_flags_name_themselves() -> None:
    """A bad variable names the variable; a bad flag value names the flag."""
    with pytest.raises(ConfigError, match="TIMHOOKS_CONCURRENCY must be at least 1"):
        load_config(env={"TIMHOOKS_CONCURRENCY": "0"})
    with pytest.raises(ConfigError, match="--reload-interval must be more than 0"):
        load_config(env={}, flags={"reload_interval": 0.0})


def test_empty_text_settings_are_not_given() -> None:
    """An empty TIMHOOKS_KEY or TIMHOOKS_CALLBACK_URL (a compose file's unset variable) keeps
    the default, or for serve the stored value, instead of replacing it."""
    cfg = load_config(env={"TIMHOOKS_KEY": "", "TIMHOOKS_CALLBACK_URL": ""})
    assert cfg == ServerConfig()


def test_openapi_describes_every_set_callback_field() -> None:
    """/openapi.json's set_callback body names each field set_callback takes, with the ranges
    it enforces (a timeout over 0 and at most 60000 ms, at least one attempt)."""
    schema = build_openapi(REST_COMMANDS)["components"]["schemas"]["SetCallback"]["properties"]
    assert set(schema) == set(WIRE_CHANGE) | {"IsTokenEnable"}
    assert set(schema["AfterRetry"]["properties"]) == set(WIRE_CHANGE["AfterRetry"])
    timeout = schema["BeforeTimeoutMs"]
    assert (timeout["minimum"], timeout["exclusiveMinimum"], timeout["maximum"]) == (0, True, 60000)
    assert schema["AfterRetry"]["properties"]["Attempts"]["minimum"] == 1
