"""Nothing lost to our own failures: an outcome the database refused, a claim behind the flood gate.

The real outbox and PTB client against the fake Bot API, a relay between them to hold a request
at a chosen moment, and a second connection to the SQLite file to lock it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot import db
from bot.domain import DeliveryStatus
from tests.fakes.bot_api import FakeBotApi
from tests.outbox_rig import Relay, make_outbox, queue_alert, row, telegram_bot, watching

PENDING, SENDING, SENT = DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT
FLOOD = {"status": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}


@pytest.fixture
async def relay(bot_api: FakeBotApi) -> AsyncIterator[Relay]:
    link = Relay(bot_api.root)
    await link.start()
    yield link
    await link.stop()


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "newsbot.db"


async def sqlite_store(path: Path, *, busy_timeout: float) -> db.Store:
    store = db.Store(db.make_engine(f"sqlite+aiosqlite:///{path}", busy_timeout=busy_timeout))
    await db.upgrade_schema(store.engine)
    return store


def lock_file(path: Path) -> sqlite3.Connection:
    """Another connection takes the write lock on the file and keeps it until rolled back."""
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    other.execute("BEGIN EXCLUSIVE")
    return other


async def test_an_outcome_the_database_refused_is_recorded_once_it_takes_it(
    db_file: Path, bot_api: FakeBotApi, relay: Relay
) -> None:
    store = await sqlite_store(db_file, busy_timeout=0.1)
    try:
        delivery_id = await queue_alert(store, 80)
        bot_api.fail_next(
            "sendMessage", FLOOD["status"], FLOOD["description"], parameters=FLOOD["parameters"]
        )
        relay.hold = lambda chat_id: chat_id is not None
        async with telegram_bot(relay.root, bot_api.token) as bot, watching("bot") as logs:
            outbox = make_outbox(store, bot)
            await outbox.start()
            await relay.wait(lambda: relay.held == 1)  # claimed, its request on the way
            other = lock_file(db_file)
            try:
                relay.release()  # Telegram answers 429 while the file is locked
                await logs.wait_for("database write failed, retrying outcome", count=2)
                [(status,)] = other.execute("SELECT status FROM deliveries WHERE id = ?", (delivery_id,))
                assert status == SENDING
            finally:
                other.execute("ROLLBACK")
                other.close()
            await logs.wait_for(f"delivery done delivery_id={delivery_id} chat_id=80 status=pending")
            back = await row(store, delivery_id)
            assert (back.status, back.last_error, back.attempts) == (PENDING, "429 retry after", 1)
            await bot_api.wait_for_sent(1)  # after the flood wait
            await outbox.drained()
            await outbox.stop()
        assert len(bot_api.messages_to(80)) == 1
        done = await row(store, delivery_id)
        assert (done.status, done.attempts) == (SENT, 2)
    finally:
        await store.close()


async def test_an_outcome_is_recorded_after_the_postgresql_connection_was_lost(
    store: db.Store, bot_api: FakeBotApi, relay: Relay
) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only; the SQLite case is the locked file above")
    url = store.engine.url
    name = url.database
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    delivery_id = await queue_alert(store, 81)
    bot_api.fail_next("sendMessage", FLOOD["status"], FLOOD["description"], parameters=FLOOD["parameters"])
    relay.hold = lambda chat_id: chat_id is not None
    try:
        async with telegram_bot(relay.root, bot_api.token) as bot, watching("bot") as logs:
            outbox = make_outbox(store, bot)
            await outbox.start()
            await relay.wait(lambda: relay.held == 1)
            # The server goes away for us: every connection dropped, new ones refused.
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
                )
                relay.release()
                await logs.wait_for("database write failed, retrying outcome", count=2)
            finally:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await logs.wait_for(f"delivery done delivery_id={delivery_id} chat_id=81 status=pending")
            back = await row(store, delivery_id)
            assert (back.status, back.last_error, back.attempts) == (PENDING, "429 retry after", 1)
            await bot_api.wait_for_sent(1)
            await outbox.drained()
            await outbox.stop()
    finally:
        await admin.close()
    assert len(bot_api.messages_to(81)) == 1
    assert (await row(store, delivery_id)).status == SENT
