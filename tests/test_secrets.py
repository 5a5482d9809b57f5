"""A feed URL's credentials and query are secrets: shown whole only in an admin's /export."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Settings
from bot.urls import public_url, redact, redact_text
from tests.conftest import ADMIN_ID, Bots
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.feed_server import FeedServer, rss
from tests.test_lifecycle import Output, spawn, write_config
from tests.test_pipeline import command

SECRETS = ("reader", "Pa55w0rd", "SECRET")


def secret_url(server: FeedServer, path: str = "/priv.xml") -> str:
    return f"http://reader:Pa55w0rd@127.0.0.1:{server.port}{path}?api_key=SECRET"


@pytest.mark.parametrize(
    ("url", "public", "redacted"),
    [
        (
            "https://u:p@h.example/a/b?k=v&x=1#f",
            "https://h.example/a/b",
            "https://h.example/a/b?k=***&x=***#f",
        ),
        ("http://h.example:8080/feed?token", "http://h.example:8080/feed", "http://h.example:8080/feed?***"),
        ("https://h.example/feed?empty=&", "https://h.example/feed", "https://h.example/feed?empty=&"),
        ("https://h.example/plain", "https://h.example/plain", "https://h.example/plain"),
        ("http://[::1]:81/x?a=b", "http://[::1]:81/x", "http://[::1]:81/x?a=***"),
    ],
    ids=["all-parts", "bare-key", "empty-value", "plain", "ipv6"],
)
def test_url_forms_for_display(url: str, public: str, redacted: str) -> None:
    assert (public_url(url), redact(url)) == (public, redacted)


def test_every_url_in_a_text_is_redacted() -> None:
    text = "params=('http://a:b@h/x?k=SECRET', 5) and postgresql+asyncpg://bot:pw@db/news"
    assert redact_text(text) == "params=('http://h/x?k=***', 5) and postgresql+asyncpg://db/news"


async def test_feed_secrets_are_hidden_except_in_the_admins_export(
    bots: Bots,
    make_settings: Callable[..., Settings],
    feed_server: FeedServer,
    bot_api: FakeBotApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    url = secret_url(feed_server)
    feed_server.set_feed("/priv.xml", rss([{"title": "Old", "guid": "1"}], title="Private"))
    runtime = await bots.start(
        make_settings([{"url": url, "name": "Private"}], polling={"failure_alert_after": 1})
    )
    await runtime.poller.tick(force=True)  # the baseline

    public = await command(bot_api, 77, "/feeds")
    assert f"http://127.0.0.1:{feed_server.port}/priv.xml" in public
    assert not [s for s in (*SECRETS, "api_key") if s in public], public
    admin = await command(bot_api, ADMIN_ID, "/feeds")
    assert "/priv.xml?api_key=***" in admin and not [s for s in SECRETS if s in admin], admin

    feed_server.set_status("/priv.xml", 500)
    await runtime.poller.tick(force=True)
    [notice] = [m for m in await bot_api.wait_for_sent(2, chat_id=ADMIN_ID) if "failed" in m.text]
    assert not [s for s in SECRETS if s in notice.text], notice.text

    bot_api.add_message(ADMIN_ID, "/export")
    [export] = [m for m in await bot_api.wait_for_sent(3, chat_id=ADMIN_ID) if m.filename]
    assert export.file_bytes is not None and url.encode() in export.file_bytes  # a backup is whole

    # Our own lines, as written (the fake publisher's access log is the publisher's business).
    ours = [r for r in caplog.records if r.name.startswith("bot.") and r.levelno >= logging.INFO]
    logged = "\n".join(r.getMessage() for r in ours)
    assert "priv.xml" in logged and not [s for s in SECRETS[1:] if s in logged], logged


async def test_no_feed_secret_in_any_log_line_at_debug(
    tmp_path: Path, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/priv.xml", rss([{"title": "Old", "guid": "1"}], title="Private"))
    feed_server.set_feed("/more.xml", rss([{"title": "More", "guid": "1"}], title="More"))
    config = tmp_path / "config.toml"
    write_config(config, bot_api, secret_url(feed_server), f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    proc = await spawn(config, log_level="DEBUG")
    output = Output(proc)  # read as it comes: at DEBUG a full pipe would stop the child
    try:
        async with asyncio.timeout(20):  # the seed feed polled twice: a baseline, then a check
            while feed_server.hits("/priv.xml") < 2:
                await asyncio.sleep(0.05)
        await command(bot_api, ADMIN_ID, f"/addfeed {secret_url(feed_server, '/more.xml')} More")
        await command(bot_api, ADMIN_ID, "/feeds")
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = await output.text()
    assert "priv.xml" in log and "more.xml" in log and "DEBUG" in log
    assert not [s for s in SECRETS[1:] if s in log], [
        line for line in log.splitlines() if "Pa55w0rd" in line or "SECRET" in line
    ][:5]
