"""Nothing lost to our own failures: an outcome the database refused, a claim behind the flood gate.

The real outbox and PTB client against the fake Bot API, a relay between them to hold a request
at a chosen moment, and a second connection to the SQLite file to lock it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from bot import db, render
from bot.domain import DeliveryStatus
from bot.i18n import translator
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


def send_times(api: FakeBotApi, chat_id: int) -> list[float]:
    return [
        c.time
        for c in api.calls
        if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(chat_id)
    ]


async def test_a_row_claimed_as_another_chats_429_closes_the_gate_goes_back_to_pending(
    db_file: Path, bot_api: FakeBotApi, relay: Relay
) -> None:
    store = await sqlite_store(db_file, busy_timeout=5.0)
    try:
        await queue_alert(store, 82)
        bot_api.fail_next(
            "sendMessage", FLOOD["status"], FLOOD["description"], parameters=FLOOD["parameters"]
        )
        relay.hold = lambda chat_id: chat_id == 82
        async with (
            telegram_bot(relay.root, bot_api.token) as bot,
            watching("bot", "sqlalchemy.engine.Engine") as logs,
        ):
            outbox = make_outbox(store, bot)
            await outbox.start()
            await relay.wait(lambda: relay.held == 1)  # chat 82's request is out, the gate still open
            second = await queue_alert(store, 83, key="nato-2")
            other = lock_file(db_file)  # chat 83's claim will have to wait for this lock
            try:
                outbox.wake()
                await logs.wait_for(CLAIM, count=2)  # chat 83 is paced and being claimed
                relay.release()  # now chat 82's answer comes: 429, the gate closes
                await logs.wait_for("telegram flood wait chat_id=82")
            finally:
                other.execute("ROLLBACK")
                other.close()
            await logs.wait_for(f"claimed row put back behind the flood gate delivery_id={second}")
            back = await row(store, second)
            assert (back.status, back.attempts) == (PENDING, 0), "back in the queue, no attempt counted"
            assert not send_times(bot_api, 83)
            await bot_api.wait_for_sent(2)
            await outbox.drained()
            await outbox.stop()
        [flooded, *_] = send_times(bot_api, 82)
        assert all(at - flooded >= 1.4 for at in send_times(bot_api, 83)), "nothing sent inside the window"
        assert len(bot_api.messages_to(82)) == len(bot_api.messages_to(83)) == 1
        done = await row(store, second)
        assert (done.status, done.attempts) == (SENT, 1)
    finally:
        await store.close()


CLAIM = "UPDATE deliveries SET status=?, attempts=(deliveries.attempts + ?)"  # as SQLAlchemy logs it


async def test_a_stop_while_a_row_waits_at_the_flood_gate_leaves_it_pending_for_the_restart(
    store: db.Store, bot_api: FakeBotApi
) -> None:
    bot_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 30", parameters={"retry_after": 30})
    flooded = await queue_alert(store, 84)
    async with telegram_bot(bot_api.root, bot_api.token) as bot, watching("bot") as logs:
        outbox = make_outbox(store, bot)
        await outbox.start()
        await logs.wait_for("telegram flood wait chat_id=84")
        await outbox.drained()
        waiting = await queue_alert(store, 85, key="nato-2")
        outbox.wake()
        await logs.wait_for("held at the flood gate chat_id=85")
        asked = time.monotonic()
        await outbox.stop()
        assert time.monotonic() - asked < 2.0, "a stop does not wait out the gate"
        held = await row(store, waiting)
        assert (held.status, held.attempts) == (PENDING, 0)
        refused = await row(store, flooded)
        assert (refused.status, refused.last_error, refused.attempts) == (PENDING, "429 retry after", 1)

        again = make_outbox(store, bot)  # a restart
        await again.start()
        await bot_api.wait_for_sent(1, chat_id=85)
        await again.drained()
        await again.stop()
    assert len(bot_api.messages_to(85)) == 1 and not bot_api.messages_to(84)
    assert (await row(store, waiting)).status == SENT
    assert (await row(store, flooded)).status == PENDING, "still waiting out its 30 s, not uncertain"


async def test_stats_show_uncertain_apart_from_failed(store: db.Store) -> None:
    interrupted = await queue_alert(store, 86)
    refused = await queue_alert(store, 86, key="nato-2")
    await queue_alert(store, 87, key="nato-3")
    async with store.write() as s:
        assert await db.claim_delivery(s, interrupted)  # on the wire when the process died
        await db.finish_delivery(s, refused, DeliveryStatus.FAILED, now=datetime.now(UTC), error="x")
    async with store.write() as s:
        assert await db.mark_interrupted_sends(s) == 1
    async with store.read() as s:
        numbers = await db.stats(s, datetime.now(UTC))
    lines = render.stats_text(translator("en"), numbers).splitlines()
    assert "Alerts in the last 24 h: 0 sent, 1 pending, 1 failed" in lines
    assert lines[-1].startswith("Uncertain in the last 24 h: 1 (")
    assert (
        render.stats_text(translator("zh"), numbers)
        .splitlines()[-1]
        .startswith("过去 24 小时不确定的提醒：1（")
    )
