"""One process per database: another name for the SQLite file is the same database; a lost
PostgreSQL lock stops the process, so that a twin never runs beside it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot import db
from bot.app import Runtime
from bot.config import Settings
from bot.lock import ADVISORY_KEY, AlreadyRunning, ProcessLock
from tests.conftest import PG_URL, Bots
from tests.fakes.bot_api import FakeBotApi

_LOCK_HOLDER = text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :k")


def _symlink(real: Path, other: Path) -> None:
    other.symlink_to(real)


def _hardlink(real: Path, other: Path) -> None:
    os.link(real, other)


@pytest.mark.parametrize("make_name", [_symlink, _hardlink], ids=["symlink", "hard-link"])
async def test_another_name_for_the_sqlite_file_is_already_running(
    tmp_path: Path, make_name: Callable[[Path, Path], None]
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    real = tmp_path / "data" / "newsbot.db"
    first_engine = db.make_engine(f"sqlite+aiosqlite:///{real}")
    await db.upgrade_schema(first_engine)  # the file exists, as a hard link needs
    other = tmp_path / "elsewhere" / "alias.db"
    make_name(real, other)
    other_engine = db.make_engine(f"sqlite+aiosqlite:///{other}")
    first, second = ProcessLock(first_engine), ProcessLock(other_engine)
    try:
        await first.acquire()
        with pytest.raises(AlreadyRunning, match="another newsbot"):
            await second.acquire()
        await first.release()
        await second.acquire()  # the same file, free again
        with pytest.raises(AlreadyRunning):
            await ProcessLock(first_engine).acquire()
    finally:
        await first.release()
        await second.release()
        await first_engine.dispose()
        await other_engine.dispose()


async def test_a_new_database_file_is_locked_from_the_start(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    lock = ProcessLock(engine)
    try:
        await lock.acquire()  # before the schema exists, as at a first start
        await db.upgrade_schema(engine)
        with pytest.raises(AlreadyRunning):
            await ProcessLock(engine).acquire()
    finally:
        await lock.release()
        await engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_lost_postgres_lock_stops_the_bot_and_a_twin_then_runs_alone(
    make_settings: Callable[..., Settings],
    bots: Bots,
    bot_api: FakeBotApi,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings()
    first = Runtime(settings, poll_timeout=1, first_tick=3600, lock_heartbeat=0.1)
    bots.running.append(first)
    await first.start()
    admin = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            pid = (await conn.execute(_LOCK_HOLDER, {"k": ADVISORY_KEY})).scalar_one()
            caplog.clear()
            assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})).scalar()
        async with asyncio.timeout(10):
            await first.stopped.wait()
        assert first.lock.lost is not None
        await bots.stop(first)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(errors) == 1 and "database lock lost" in errors[0], errors

        twin = await bots.start(settings)
        async with admin.connect() as conn:
            holder = (await conn.execute(_LOCK_HOLDER, {"k": ADVISORY_KEY})).scalar_one()
        assert holder != pid
        asked = len(bot_api.calls)
        bot_api.add_message(77, "/start")
        await bot_api.wait_for_sent(1, chat_id=77)
        assert twin.lock.lost is None and not first.app.running
        assert not [r for r in bot_api.rejected if r.status == 409]
        assert len(bot_api.calls) > asked
    finally:
        await admin.dispose()
