"""Search over stored articles on SQLite and PostgreSQL: what it reads, what the index serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot import db, search
from bot.domain import EntryDraft
from bot.matching import parse_query

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def draft(key: str, title: str, summary: str = "", content: str = "", at: datetime = NOW) -> EntryDraft:
    return EntryDraft(
        key=key, title=title, link=f"https://e.com/{key}", published=at, summary=summary, content=content
    )


async def store_drafts(store: db.Store, drafts: list[EntryDraft], *, now: datetime = NOW) -> None:
    async with store.write() as s:
        feed, _ = await db.add_feed(s, "https://e.com/feed", "E", now)
        for start in range(0, len(drafts), 500):
            await db.insert_new_articles(s, feed.id, drafts[start : start + 500], now)


def titles(page: search.Page) -> list[str]:
    return [a.title for a, _ in page.items]


async def test_a_two_character_cjk_term_in_a_body_is_found_among_many(store: db.Store) -> None:
    """疟疾 is one bigram token: the index finds the one old body holding it behind 400 newer articles."""
    old = draft("old", "非洲卫生报道", content="世卫组织表示，疟疾疫苗试验取得进展。")
    newer = [
        draft(f"n{i}", f"日本新闻 {i}", "经济数据发布", "东京股市上涨，疫苗供应稳定。") for i in range(400)
    ]
    await store_drafts(store, [old, *newer])
    page = await search.find(store, parse_query("疟疾"), limit=5)
    assert titles(page) == ["非洲卫生报道"] and page.scanned == 1
    assert await search.count_matches(store, parse_query("疟疾"), since=NOW - timedelta(days=7)) == 1


async def test_search_reads_the_body_like_matching(store: db.Store) -> None:
    """A word only the body holds is found, counted and listed, with the query's own semantics."""
    drafts = [
        draft("a", "Alliance meets", "Ministers met in Brussels.", "Stoltenberg said the talks went well."),
        draft("b", "Alliance meets again", "", "A statement from stoltenberg's office."),
        draft("c", "Stoltenbergs in the news", "", "A family story."),  # another word: not a match
        draft("d", "Weather", "Rain.", "Stoltenberg-free forecast, with sun."),
    ]
    await store_drafts(store, drafts)
    query = parse_query("stoltenberg -sun")
    page = await search.find(store, query, limit=5)
    assert sorted(titles(page)) == ["Alliance meets", "Alliance meets again"]
    assert await search.count_matches(store, query, since=NOW - timedelta(days=7)) == 2
    latest = await search.find(store, parse_query("stoltenberg"), limit=20)
    assert len(latest.items) == 3


async def test_the_backtest_counts_every_match_in_the_index(store: db.Store) -> None:
    """The count reads no rows: a scan cap far below the number of matches does not cut it."""
    drafts = [draft(f"k{i}", f"NATO report {i}", "summit news") for i in range(1200)]
    drafts += [draft(f"o{i}", f"Other report {i}", "weather") for i in range(300)]
    await store_drafts(store, drafts)
    since = NOW - timedelta(days=7)
    assert await search.count_matches(store, parse_query("nato"), since=since, scan_cap=100) == 1200
    assert await search.count_matches(store, parse_query("report -nato"), since=since, scan_cap=100) == 300


async def test_pages_follow_one_another_without_gaps(store: db.Store) -> None:
    """Keyset pages: each starts below the last one's cursor and together they list every match once."""
    drafts = [draft(f"p{i}", f"Ukraine {i}", "", "乌克兰" if i % 2 else "") for i in range(40)]
    await store_drafts(store, drafts)
    seen: list[str] = []
    cursor = None
    while True:
        page = await search.find(store, parse_query("乌克兰"), limit=5, before=cursor)
        seen += titles(page)
        if page.older is None:
            break
        cursor = page.older
    assert seen == [f"Ukraine {i}" for i in range(39, 0, -2)]


async def test_migration_0008_reindexes_old_rows_with_their_bodies(database_url: str) -> None:
    """Rows stored before 0008 (title + summary indexed, bodies not) become searchable by body."""
    engine = db.make_engine(database_url)
    try:
        await db.upgrade_schema(engine, "0007")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO feeds (id, url, state, first_polled, next_check_at, error_count,"
                    " created_at) VALUES (1, 'https://e.com/feed', 'active', true, :t, 0, :t)"
                ),
                {"t": NOW},
            )
            rows = [
                {
                    "i": i,
                    "k": f"k{i}",
                    "ti": f"Old story {i}",
                    "s": "summary",
                    "c": "filler text",
                    "st": f"old story {i}\nsummary",
                }
                for i in range(1, 2501)
            ]
            rows[1233]["c"] = "Stoltenberg spoke. 世卫组织：疟疾疫苗"
            await conn.execute(
                text(
                    "INSERT INTO articles (id, feed_id, key, title, link, published, summary, content,"
                    " author, first_seen_at, search_text)"
                    " VALUES (:i, 1, :k, :ti, NULL, :t, :s, :c, '', :t, :st)"
                ),
                [{**r, "t": NOW} for r in rows],
            )
        await db.upgrade_schema(engine)
    finally:
        await engine.dispose()
    store = db.Store(db.make_engine(database_url))
    try:
        for term in ("stoltenberg", "疟疾"):
            page = await search.find(store, parse_query(term), limit=5)
            assert titles(page) == ["Old story 1234"], term
        assert await search.count_matches(store, parse_query("story"), since=NOW - timedelta(days=1)) == 2500
    finally:
        await store.close()


async def test_results_are_in_date_order_across_pages(store: db.Store) -> None:
    """An older article stored later (another feed's backlog) is listed by its date, not its id."""
    hour = timedelta(hours=1)
    async with store.write() as s:
        wire, _ = await db.add_feed(s, "https://wire.example/feed", "Wire", NOW)
        late, _ = await db.add_feed(s, "https://late.example/feed", "Late", NOW)
        await db.insert_new_articles(
            s,
            wire.id,
            [
                draft("w1", "Ukraine at ten", at=NOW - 2 * hour),
                draft("w2", "Ukraine at eleven", at=NOW - hour),
            ],
            NOW,
        )
        await db.insert_new_articles(
            s,
            late.id,
            [
                draft("l1", "Ukraine at nine", at=NOW - 3 * hour),
                draft("l2", "Ukraine at half ten", at=NOW - 1.5 * hour),
            ],
            NOW,
        )
    newest_first = ["Ukraine at eleven", "Ukraine at half ten", "Ukraine at ten", "Ukraine at nine"]
    for query in (parse_query("ukraine"), None):
        first = await search.find(store, query, limit=2)
        second = await search.find(store, query, limit=2, before=first.older)
        assert titles(first) + titles(second) == newest_first
        assert second.older is None
    since = NOW - 1.6 * hour
    assert await search.count_matches(store, parse_query("ukraine"), since=since) == 2
    recent = await search.find(store, parse_query("ukraine"), limit=3, since=since)
    assert titles(recent) == newest_first[:2]
