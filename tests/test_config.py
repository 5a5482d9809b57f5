"""A bad config exits 2 with one line naming the key; the token is never printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import parse_settings
from bot.domain import ConfigError

TOKEN = "123456:SECRET-token-value"
GOOD = {"telegram": {"token": TOKEN}}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({}, "telegram"),
        ({"telegram": {}}, "telegram.token"),
        ({"telegram": {"token": ""}}, "telegram.token"),
        ({"telegram": {"token": TOKEN, "colour": "red"}}, "telegram.colour"),
        ({**GOOD, "polling": {"interval_seconds": 0}}, "polling.interval_seconds"),
        ({**GOOD, "polling": {"interval_seconds": -5}}, "polling.interval_seconds"),
        ({**GOOD, "polling": {"interval_seconds": "300"}}, "polling.interval_seconds"),
        ({**GOOD, "polling": {"allow_private_addresses": "yes"}}, "polling.allow_private_addresses"),
        ({"telegram": {"token": TOKEN, "api_base_url": "ftp://x"}}, "telegram.api_base_url"),
        ({"telegram": {"token": TOKEN, "api_base_url": "not a url"}}, "telegram.api_base_url"),
        ({"telegram": {"token": TOKEN, "admins": ["me"]}}, "telegram.admins[0]"),
        ({**GOOD, "database": {"url": "mysql://x"}}, "database.url"),
        ({**GOOD, "feeds": [{"url": "file:///etc/passwd"}]}, "feeds[0].url"),
        ({**GOOD, "surprise": 1}, "surprise"),
    ],
    ids=[
        "no-telegram",
        "no-token",
        "empty-token",
        "unknown-key",
        "interval-0",
        "interval-negative",
        "interval-string",
        "bool-string",
        "api-scheme",
        "api-not-url",
        "admins-type",
        "db-url",
        "feed-url",
        "unknown-section",
    ],
)
def test_bad_config_names_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, env={})
    message = str(info.value)
    assert f" {key}" in message and "\n" not in message
    assert "SECRET" not in message


def test_env_token_wins_over_the_file() -> None:
    settings = parse_settings(GOOD, env={"TELEGRAM_BOT_TOKEN": "999:from-env"})
    assert settings.token == "999:from-env"
    assert parse_settings({}, env={"TELEGRAM_BOT_TOKEN": "999:from-env"}).token == "999:from-env"


def test_defaults_follow_the_contract() -> None:
    s = parse_settings({**GOOD, "polling": {"interval_seconds": 1}}, env={})
    assert s.database.url == "sqlite+aiosqlite:///newsbot.db"
    assert s.polling.interval_seconds == 1 and s.polling.allow_private_addresses is False
    assert s.telegram.api_base_url == "https://api.telegram.org"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        (
            '[telegram]\ntoken = "123456:SECRET-token-value"\n[polling]\ninterval_seconds = "300"\n',
            "polling.interval_seconds",
        ),
        ("[telegram]\n", "telegram.token"),
        ('[telegram]\ntoken = "123456:SECRET-token-value"\napi_base_url = "nope"\n', "telegram.api_base_url"),
        ('[telegram]\ntoken = "123456:SECRET-token-value"\nextra = 1\n', "telegram.extra"),
    ],
    ids=["wrong-type", "missing-token", "bad-url", "unknown-key"],
)
def test_process_exits_2_with_one_line(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    env = {"PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "SECRET" not in proc.stderr


def test_unreadable_config_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "cannot read" in proc.stderr
