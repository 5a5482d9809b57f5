"""Storage on SQLite and, in CI, PostgreSQL: identity, the outbox's uniqueness, chat moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import db
from bot.domain import Alert, EntryDraft
from bot.feeds import parse_feed
from bot.lock import AlreadyRunning, ProcessLock
from tests.fakes.feed_server import rss

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def draft(key: str, title: str = "t") -> EntryDraft:
    return EntryDraft(key=key, title=title, link=f"https://e.com/{key}", published=NOW, summary="s")


async def test_only_new_articles_come_back(store: db.Store) -> None:
    async with store.write() as s:
        feed, created = await db.add_feed(s, "https://e.com/feed", "E", NOW)
        assert created
        first = await db.insert_new_articles(s, feed.id, [draft("a"), draft("b"), draft("a")], NOW)
        assert [a.title for a in first] == ["t", "t"]
    async with store.write() as s:
        again = await db.insert_new_articles(s, feed.id, [draft("b"), draft("c", "new")], NOW)
        assert [a.title for a in again] == ["new"]
        _, created = await db.add_feed(s, "https://e.com/feed", "dup", NOW)
        assert not created
    async with store.read() as s:
        assert await db.count_articles(s) == 3
        stored = await db.get_article(s, again[0].id)
        assert stored is not None and stored.published == NOW and stored.published.tzinfo is not None


async def test_outbox_is_unique_per_chat_and_article(store: db.Store) -> None:
    async with store.write() as s:
        feed, _ = await db.add_feed(s, "https://e.com/feed", "E", NOW)
        [art] = await db.insert_new_articles(s, feed.id, [draft("a")], NOW)
        await db.upsert_chat(s, 1, "private", "en", NOW)
        assert await db.enqueue_alerts(s, [Alert(1, art.id, ("x",))], NOW) == 1
        assert await db.enqueue_alerts(s, [Alert(1, art.id, ("y",))], NOW) == 0
    async with store.read() as s:
        [row] = await db.due_deliveries(s, NOW, exclude_chats=(), limit=10)
        assert row.terms == '["x"]'
    async with store.write() as s:
        assert await db.claim_delivery(s, row.id)
        assert not await db.claim_delivery(s, row.id)
    async with store.write() as s:
        assert await db.mark_interrupted_sends(s) == 1
    async with store.read() as s:
        assert await db.delivery_counts(s) == {"uncertain": 1}
        assert not await db.due_deliveries(s, NOW + timedelta(days=1), exclude_chats=(), limit=10)


async def test_blocked_chat_drops_its_queue_and_start_reactivates(store: db.Store) -> None:
    async with store.write() as s:
        feed, _ = await db.add_feed(s, "https://e.com/feed", "E", NOW)
        arts = await db.insert_new_articles(s, feed.id, [draft("a"), draft("b")], NOW)
        for chat in (1, 2):
            await db.upsert_chat(s, chat, "private", None, NOW)
        await db.enqueue_alerts(s, [Alert(c, a.id, ("x",)) for c in (1, 2) for a in arts], NOW)
        await db.deactivate_chat(s, 1)
    async with store.read() as s:
        assert await db.delivery_counts(s) == {"dropped": 2, "pending": 2}
        assert await db.receptive_chats(s, [1, 2, 3]) == {2}
    async with store.write() as s:
        await db.upsert_chat(s, 1, "private", None, NOW)
        await db.set_chat_paused(s, 2, True)
    async with store.read() as s:
        assert await db.receptive_chats(s, [1, 2]) == {1}


async def test_chat_migration_moves_subscriptions_and_queue(store: db.Store) -> None:
    async with store.write() as s:
        feed, _ = await db.add_feed(s, "https://e.com/feed", "E", NOW)
        [art] = await db.insert_new_articles(s, feed.id, [draft("a")], NOW)
        await db.upsert_chat(s, -100, "group", None, NOW)
        await db.add_subscription(s, -100, "nato", "nato", NOW)
        await db.enqueue_alerts(s, [Alert(-100, art.id, ("nato",))], NOW)
        await db.migrate_chat(s, -100, -1001234, NOW)
    async with store.read() as s:
        assert await db.get_chat(s, -100) is None
        assert [x.query for x in await db.list_subscriptions(s, -1001234)] == ["nato"]
        [row] = await db.due_deliveries(s, NOW, exclude_chats=(), limit=10)
        assert row.chat_id == -1001234


async def test_subscription_is_unique_per_chat(store: db.Store) -> None:
    async with store.write() as s:
        await db.upsert_chat(s, 5, "private", None, NOW)
        a, created_a = await db.add_subscription(s, 5, "NATO", "nato", NOW)
        b, created_b = await db.add_subscription(s, 5, "nato", "nato", NOW)
        assert created_a and not created_b and a.id == b.id
        assert await db.active_subscriptions(s) == [(a.id, 5, "NATO")]
        assert not await db.remove_subscriptions(s, 6, sub_id=a.id)  # another chat's id
        assert [x.id for x in await db.remove_subscriptions(s, 5, sub_id=a.id)] == [a.id]


async def test_feed_failure_and_recovery_are_recorded(store: db.Store) -> None:
    async with store.write() as s:
        feed, _ = await db.add_feed(s, "https://e.com/feed", None, NOW)
        await db.record_feed_failure(s, feed.id, now=NOW, error="HTTP 500", next_check_at=NOW)
        await db.record_feed_failure(
            s, feed.id, now=NOW + timedelta(hours=1), error="timeout", next_check_at=NOW
        )
    async with store.read() as s:
        row = await db.get_feed(s, feed.id)
        assert row is not None
        assert (row.error_count, row.last_error, row.failing_since) == (2, "timeout", NOW)
        assert row.display_name == "e.com"
    async with store.write() as s:
        await db.record_feed_success(
            s,
            feed.id,
            now=NOW,
            next_check_at=NOW,
            etag='"x"',
            last_modified=None,
            title="E News",
            url="https://e.com/new-feed",
        )
    async with store.read() as s:
        row = await db.get_feed(s, feed.id)
        assert row is not None
        assert (row.error_count, row.failing_since, row.etag, row.url, row.display_name) == (
            0,
            None,
            '"x"',
            "https://e.com/new-feed",
            "E News",
        )


async def test_second_process_on_the_same_database_is_refused(store: db.Store) -> None:
    first = ProcessLock(store.engine)
    await first.acquire()
    second = ProcessLock(store.engine)
    other_engine = db.make_engine(str(store.engine.url.render_as_string(hide_password=False)))
    third = ProcessLock(other_engine)
    try:
        if store.engine.dialect.name == "sqlite":
            with pytest.raises(AlreadyRunning):
                await second.acquire()
        with pytest.raises(AlreadyRunning):
            await third.acquire()
        await first.release()
        await third.acquire()  # free again once the first holder let go
        await third.release()
    finally:
        await first.release()
        await other_engine.dispose()


async def test_migration_0005_rekeys_subscriptions_by_the_engines_normal_form(database_url: str) -> None:
    """Stored keys from the first matcher become the engine's; equal queries of a chat become one."""
    from sqlalchemy import text

    engine = db.make_engine(database_url)
    try:
        await db.upgrade_schema(engine, "0004")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO chats (id, type, active, paused, created_at) "
                    "VALUES (:i, 'private', true, false, :t)"
                ),
                [{"i": 1, "t": NOW}, {"i": 2, "t": NOW}],
            )
            rows = [
                (1, 1, "(tesla OR spacex) musk", "old form 1"),
                (2, 1, "musk (spacex | tesla)", "old form 2"),  # the same query as 1: it goes
                (3, 1, "a (((b", "unparsable"),  # kept as it was, for its owner to remove
                (4, 1, "alpha", "beta"),  # 4 and 5 swap keys
                (5, 1, "beta", "alpha"),
                (6, 2, "musk (spacex OR tesla)", "old form 1"),  # another chat keeps its own
            ]
            await conn.execute(
                text(
                    "INSERT INTO subscriptions (id, chat_id, query, query_norm, created_at) "
                    "VALUES (:i, :c, :q, :n, :t)"
                ),
                [{"i": i, "c": c, "q": q, "n": n, "t": NOW} for i, c, q, n in rows],
            )
        await db.upgrade_schema(engine)
        async with engine.connect() as conn:
            got = (await conn.execute(text("SELECT id, query_norm FROM subscriptions ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in got] == [
        (1, "(spacex OR tesla) musk"),
        (3, "unparsable"),
        (4, "alpha"),
        (5, "beta"),
        (6, "(spacex OR tesla) musk"),
    ]


@pytest.mark.parametrize("term", ["中国", "eu"])
async def test_search_for_a_two_character_term_reaches_past_the_scan_cap(store: db.Store, term: str) -> None:
    """A short term narrows in SQL, so an old match behind many newer non-matches is still found."""
    from bot import search
    from bot.matching import parse_query

    old = {"中国": "中国经济数据发布", "eu": "EU ministers meet"}[term]
    newer = [draft(f"n{i}", "Said the mayor about Paris" if term == "eu" else "日本新闻") for i in range(60)]
    async with store.write() as s:
        feed, _ = await db.add_feed(s, "https://e.com/feed", "E", NOW)
        await db.insert_new_articles(s, feed.id, [draft("old", old)], NOW)
        await db.insert_new_articles(s, feed.id, newer, NOW)
    page = await search.find(store, parse_query(term), limit=5, scan_cap=20)
    assert [a.title for a, _ in page.items] == [old]


async def test_shared_guid_entries_keep_the_keys_they_were_stored_under(store: db.Store) -> None:
    """Stored under "GUID|link" (as shared GUIDs were once keyed), they are still known by it."""
    items = [{"title": t, "guid": "same", "link": f"https://e.com/{t}"} for t in ("a", "b")]
    parsed = parse_feed(rss(items).encode(), url="https://e.com/feed", headers={}, now=NOW).entries
    assert parsed[0].key == parsed[0].guid_key != parsed[0].content_key
    as_stored_once = [replace(d, key=d.content_key or d.key, guid_key=None, content_key=None) for d in parsed]
    async with store.write() as s:
        feed, _ = await db.add_feed(s, "https://e.com/feed", "E", NOW)
        assert len(await db.insert_new_articles(s, feed.id, as_stored_once, NOW)) == 2
    async with store.write() as s:
        assert await db.insert_new_articles(s, feed.id, parsed, NOW) == []
