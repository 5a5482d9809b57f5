"""A bot that cannot start says why in one line naming the key, and exits non-zero: no traceback."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

TOKEN = "123456:start-up-token-value"


async def start_bot(tmp_path: Path, config: str) -> tuple[int, list[str]]:
    """Run `python -m bot --config FILE` until it exits; its exit code and every output line."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "http://127.0.0.1:9"\n'
        "[polling]\nallow_private_addresses = true\n" + config
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, (out + err).decode().splitlines()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.1/feed", "non-canonical numeric host"),
        ("http://169.254.169.254/", "private address"),
        ("http://2130706433/", "non-canonical numeric host"),
    ],
    ids=["short-loopback", "metadata", "decimal-ip"],
)
async def test_a_seed_feed_the_guard_refuses_is_one_line(tmp_path: Path, url: str, reason: str) -> None:
    db = tmp_path / "bot.db"
    code, lines = await start_bot(
        tmp_path,
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n'
        '[[feeds]]\nurl = "http://127.0.0.1:8000/ok.xml"\n'
        f'[[feeds]]\nurl = "{url}"\n',
    )
    assert code == 2 and len(lines) == 1, lines
    assert "feeds[1].url" in lines[0] and reason in lines[0]
    assert not db.exists(), "refused before anything was opened"


@pytest.mark.parametrize(
    ("db_url", "reason"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:1/x", "Connect call failed"),
        ("sqlite+aiosqlite:////nonexistent-dir/bot.db", "No such file or directory"),
    ],
    ids=["postgres-refused", "sqlite-no-directory"],
)
async def test_an_unreachable_database_is_one_line(tmp_path: Path, db_url: str, reason: str) -> None:
    code, lines = await start_bot(tmp_path, f'[database]\nurl = "{db_url}"\n')
    assert code == 1 and len(lines) == 1, lines
    assert "database.url" in lines[0] and reason in lines[0] and "Traceback" not in lines[0]
    assert TOKEN not in lines[0]
