"""Shared fixtures: a database on each backend, the two fakes, and a running bot."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import db
from bot.app import Runtime
from bot.config import Settings, parse_settings
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.feed_server import FeedServer

PG_URL = os.environ.get("NEWSBOT_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
ADMIN_ID = 1001


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: an SQLite file, and PostgreSQL when configured."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'newsbot.db'}"
    await reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[db.Store]:
    """A migrated database behind our Store."""
    s = db.Store(db.make_engine(database_url))
    await db.upgrade_schema(s.engine)
    yield s
    await s.close()


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def make_settings(bot_api: FakeBotApi, database_url: str) -> Callable[..., Settings]:
    """Settings pointing at the fakes; keyword overrides are merged per section."""

    def make(feeds: list[dict[str, Any]] | None = None, **sections: dict[str, Any]) -> Settings:
        data: dict[str, Any] = {
            "telegram": {"token": bot_api.token, "api_base_url": bot_api.root, "admins": [ADMIN_ID]},
            "database": {"url": database_url},
            "polling": {"interval_seconds": 3600, "allow_private_addresses": True, "timeout_seconds": 3},
            "delivery": {"global_per_second": 200, "per_chat_per_second": 50, "group_per_minute": 600},
            "feeds": feeds or [],
        }
        for name, values in sections.items():
            data[name] = {**data.get(name, {}), **values}
        return parse_settings(data, env={})

    return make


class Bots:
    """Starts whole bots in-process and stops whatever is still running after the test."""

    def __init__(self) -> None:
        self.running: list[Runtime] = []

    async def start(self, settings: Settings) -> Runtime:
        runtime = Runtime(settings, poll_timeout=1, first_tick=3600)
        await runtime.start()
        self.running.append(runtime)
        return runtime

    async def stop(self, runtime: Runtime) -> None:
        self.running.remove(runtime)
        await runtime.stop()


@pytest.fixture
async def bots(bot_api: FakeBotApi, feed_server: FeedServer) -> AsyncIterator[Bots]:
    """Stopped before the fakes it talks to."""
    b = Bots()
    yield b
    for runtime in list(b.running):
        await b.stop(runtime)
