"""The subscription service: every change is logged with its rows, and the index follows the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot import db
from bot.domain import StoredArticle
from bot.matching import match
from bot.subscriptions import ChatRef, Subscriptions, TooManySubscriptions
from tests.conftest import Bots
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.feed_server import FeedServer, rss
from tests.test_pipeline import NATO_ITEM, command, start_with_feed

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def nato(article_id: int = 1) -> list[StoredArticle]:
    return [StoredArticle(article_id, 1, "NATO meets", "Allies talk.", "")]


def chats_alerted(service: Subscriptions) -> list[int]:
    return sorted(a.chat_id for a in match(nato(), service.index))


async def test_each_change_reaches_the_index_after_its_commit(store: db.Store) -> None:
    service = Subscriptions(store)
    await service.load()
    sub, created = await service.subscribe(ChatRef(10), "nato", "nato", limit=5, now=NOW)
    assert created and chats_alerted(service) == [10]
    await service.set_muted(10, sub.id, True, now=NOW)
    assert chats_alerted(service) == []
    await service.set_muted(10, sub.id, False, now=NOW)
    await service.set_paused(ChatRef(10), True, now=NOW)
    assert chats_alerted(service) == []
    await service.set_paused(ChatRef(10), False, now=NOW)
    assert chats_alerted(service) == [10]
    await service.block(10, now=NOW)
    assert chats_alerted(service) == []
    await service.register(ChatRef(10), now=NOW)  # /start after a block
    assert chats_alerted(service) == [10]
    await service.unsubscribe(10, sub_id=sub.id, now=NOW)
    assert chats_alerted(service) == [] and len(service.index) == 0
    async with store.read() as session:
        kinds = [c.kind for c in await db.changes_after(session, 0)]
    assert kinds == [
        "subscribe", "mute", "unmute", "pause", "resume", "block", "reactivate", "unsubscribe",
    ]  # fmt: skip


async def test_another_process_follows_the_log(store: db.Store) -> None:
    """A second service on the same database (another process, later) catches up from the log."""
    writer, reader = Subscriptions(store), Subscriptions(store)
    await writer.load()
    await reader.load()
    await writer.subscribe(ChatRef(20), "nato", "nato", limit=5, now=NOW)
    await writer.subscribe(ChatRef(21), "NATO", "nato", limit=5, now=NOW)
    assert chats_alerted(reader) == []
    assert await reader.catch_up() == 2
    assert chats_alerted(reader) == [20, 21]
    await writer.migrate(21, -1000000000021, now=NOW)
    await writer.set_paused(ChatRef(20), True, now=NOW)
    await reader.catch_up()
    assert chats_alerted(reader) == [-1000000000021]
    assert await reader.catch_up() == 0, "nothing new: nothing read again"
    fresh = Subscriptions(store)
    await fresh.load()
    assert chats_alerted(fresh) == [-1000000000021]


async def test_a_row_that_commits_late_is_still_followed(store: db.Store) -> None:
    """On PostgreSQL a log row can commit after one with a higher number: the follower reads back."""
    service = Subscriptions(store)
    await service.load()
    await service.subscribe(ChatRef(30), "alpha", "alpha", limit=5, now=NOW)  # seq 1

    async def logged_by_hand(chat_id: int, seq: int) -> None:
        async with store.write() as session:
            await db.upsert_chat(session, chat_id, "private", None, NOW)
            sub, _ = await db.add_subscription(session, chat_id, "nato", "nato", NOW)
            await session.execute(
                text(
                    "INSERT INTO subscription_changes (seq, chat_id, subscription_id, kind, created_at)"
                    " VALUES (:seq, :chat, :sub, 'subscribe', :at)"
                ),
                {"seq": seq, "chat": chat_id, "sub": sub.id, "at": NOW},
            )

    await logged_by_hand(31, seq=3)
    await service.catch_up()
    assert chats_alerted(service) == [31]
    await logged_by_hand(32, seq=2)  # numbered before 3, committed after it
    assert await service.catch_up() == 1
    assert chats_alerted(service) == [31, 32]


async def test_the_limit_stores_nothing_and_indexes_nothing(store: db.Store) -> None:
    service = Subscriptions(store)
    await service.load()
    await service.subscribe(ChatRef(50), "alpha", "alpha", limit=1, now=NOW)
    with pytest.raises(TooManySubscriptions):
        await service.subscribe(ChatRef(50), "nato", "nato", limit=1, now=NOW)
    assert chats_alerted(service) == []
    async with store.read() as session:
        assert [s.query for s in await db.list_subscriptions(session, 50)] == ["alpha"]
        assert len(await db.changes_after(session, 0)) == 1


async def test_pruning_the_log_keeps_its_newest_row(store: db.Store) -> None:
    service = Subscriptions(store)
    await service.load()
    for chat in (60, 61):
        await service.subscribe(ChatRef(chat), "nato", "nato", limit=5, now=NOW)
    assert await service.prune_log(NOW + timedelta(days=30)) == 1
    async with store.read() as session:
        [kept] = await db.changes_after(session, 0)
    assert kept.chat_id == 61
    await service.subscribe(ChatRef(62), "nato", "nato", limit=5, now=NOW)
    async with store.read() as session:
        assert [c.seq > kept.seq for c in await db.changes_after(session, kept.seq)] == [True]


FAIL_LOG_SQLITE = """
CREATE TRIGGER fail_log BEFORE INSERT ON subscription_changes
BEGIN SELECT RAISE(ABORT, 'disk full (injected)'); END
"""
FAIL_LOG_POSTGRES = [
    """CREATE FUNCTION fail_log() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'disk full (injected)'; END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER fail_log BEFORE INSERT ON subscription_changes FOR EACH ROW EXECUTE FUNCTION fail_log()",
]


async def fail_commits(store: db.Store, on: bool) -> None:
    """Make every transaction that logs a subscription change fail (a full disk, a dropped link)."""
    async with store.write() as session:
        if store.engine.dialect.name == "sqlite":
            await session.execute(text(FAIL_LOG_SQLITE if on else "DROP TRIGGER fail_log"))
        elif on:
            for statement in FAIL_LOG_POSTGRES:
                await session.execute(text(statement))
        else:
            await session.execute(text("DROP TRIGGER fail_log ON subscription_changes"))
            await session.execute(text("DROP FUNCTION fail_log()"))


async def test_a_failed_commit_leaves_no_phantom_and_no_missing_alert(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    """Issue: /subscribe and /unsubscribe changed the index before the commit; a failed commit
    left them disagreeing until a restart."""
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    assert "Subscribed" in await command(bot_api, 70, "/subscribe nato")
    await fail_commits(runtime.store, True)
    assert "went wrong" in await command(bot_api, 71, "/subscribe nato")  # would be a phantom
    assert "went wrong" in await command(bot_api, 70, "/unsubscribe nato")  # would be missing
    await fail_commits(runtime.store, False)
    feed_server.set_feed("/world.xml", rss([NATO_ITEM], title="World"))
    report = await runtime.poller.tick(force=True)
    assert report.alerts == 1
    [alert] = (await bot_api.wait_for_sent(3, chat_id=70))[2:]
    assert NATO_ITEM["title"] in alert.text
    await runtime.outbox.drained()
    assert [m.text for m in bot_api.messages_to(71)][1:] == []


async def test_a_group_that_became_a_supergroup_gets_new_alerts_there_once(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    """Issue: after the migration the index still answered for the old chat id, so NEW matching
    articles made no alert until a restart."""
    old, new = -700, -1000000000700
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    bot_api.set_chat_administrators(old, [7])
    await command(bot_api, old, "/subscribe nato", chat_type="group", user_id=7)
    bot_api.add_message(old, "", chat_type="group", user_id=7, migrate_to_chat_id=new)
    bot_api.set_chat_administrators(new, [7])
    listing = await command(bot_api, new, "/list", chat_type="supergroup", user_id=7)
    assert "#1 nato" in listing
    before_old = len(bot_api.messages_to(old))

    feed_server.set_feed("/world.xml", rss([NATO_ITEM], title="World"))
    report = await runtime.poller.tick(force=True)
    assert report.alerts == 1
    [reply, alert] = await bot_api.wait_for_sent(2, chat_id=new)
    assert reply.text == listing and NATO_ITEM["title"] in alert.text
    await runtime.outbox.drained()
    assert len(bot_api.messages_to(new)) == 2, "exactly once"
    assert len(bot_api.messages_to(old)) == before_old, "nothing to the old id"
    assert not bot_api.rejected


async def test_an_alert_names_the_subscriptions_its_match_found(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    """The outbox row carries the ids the match found: the alert's buttons come from them, with
    no query parsed again at send time (a query stored today may not parse in a later version)."""
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    for query in ("nato", "bakery", "ukraine"):
        await command(bot_api, 80, f"/subscribe {query}")
    async with runtime.store.write() as session:  # as if a later version no longer read it
        await session.execute(text("UPDATE subscriptions SET query = 'ukraine AND' WHERE query = 'ukraine'"))
    feed_server.set_feed("/world.xml", rss([NATO_ITEM], title="World"))  # NATO and Ukraine, no bakery
    assert (await runtime.poller.tick(force=True)).alerts == 1
    alert = (await bot_api.wait_for_sent(4, chat_id=80))[-1]
    rows = (alert.reply_markup or {}).get("inline_keyboard", [])
    assert [row[0]["text"] for row in rows] == ["Mute «nato»", "Mute «ukraine AND»"]
    async with runtime.store.read() as session:
        [row] = (await session.execute(text("SELECT subscription_ids FROM deliveries"))).all()
        subs = {s.query: s.id for s in await db.list_subscriptions(session, 80)}
    assert json.loads(row[0]) == [subs["nato"], subs["ukraine AND"]]
