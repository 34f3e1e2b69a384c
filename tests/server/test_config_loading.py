"""Server settings from defaults, a TOML file, TIMHOOKS_* variables and flags, in that order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from timhooks.protocol import COMMANDS
from timhooks.protocol.errors import ConfigError
from timhooks.server.config import CallbackConfig, ServerConfig, load_config

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
