"""Queries on articles: store what is new, find the same story, read for /latest and /search."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.engine import CHUNK, _insert
from bot.db.models import Article, Delivery, Feed
from bot.domain import EntryDraft, StoredArticle
from bot.matching.fulltext import Expr, Narrowing, exact_on_postgresql, fts5, search_text, tsquery
from bot.text import title_fingerprint


async def insert_new_articles(
    session: AsyncSession, feed_id: int, drafts: Sequence[EntryDraft], now: datetime
) -> list[StoredArticle]:
    """Store entries not stored before; return only the rows really inserted."""
    if not drafts:
        return []
    drafts = await _settle_shared_guids(session, feed_id, drafts)
    seen: set[str] = set()
    rows = []
    # Oldest first, so article ids grow with recency and "newest" is an index scan on the key.
    for d in sorted(drafts, key=lambda d: d.published):
        if d.key in seen:
            continue
        seen.add(d.key)
        rows.append(
            dict(
                feed_id=feed_id,
                key=d.key,
                title=d.title,
                link=d.link,
                published=d.published,
                summary=d.summary,
                content=d.content,
                author=d.author[:300],
                first_seen_at=now,
                search_text=search_text(d.title, d.summary, d.content),
                link_hash=_sha(d.canonical_link) if d.canonical_link else None,
                title_fp=_sha(fp) if (fp := title_fingerprint(d.title)) else None,
            )
        )
    # Known keys first: most polls of a changed feed bring a few new items among many known ones,
    # and these statements (unlike a multi-row INSERT ... RETURNING) compile once and are reused.
    keys = [r["key"] for r in rows]
    known: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        stmt = select(Article.key).where(
            Article.feed_id == feed_id, Article.key.in_(keys[start : start + CHUNK])
        )
        known.update((await session.execute(stmt)).scalars().all())
    missing = [r for r in rows if r["key"] not in known]
    if not missing:
        return []
    # ON CONFLICT still guards the unique key; one writer per feed makes the read above exact.
    await session.execute(
        _insert(session, Article).on_conflict_do_nothing(index_elements=["feed_id", "key"]), missing
    )
    wanted = [r["key"] for r in missing]
    inserted: list[StoredArticle] = []
    for start in range(0, len(wanted), CHUNK):
        back = select(
            Article.id,
            Article.feed_id,
            Article.title,
            Article.summary,
            Article.content,
            Article.key,
            Article.link_hash,
            Article.title_fp,
        ).where(Article.feed_id == feed_id, Article.key.in_(wanted[start : start + CHUNK]))
        inserted.extend(
            StoredArticle(
                id=r.id,
                feed_id=r.feed_id,
                title=r.title,
                summary=r.summary,
                content=r.content,
                key=r.key,
                link_hash=r.link_hash,
                title_fp=r.title_fp,
            )
            for r in (await session.execute(back)).all()
        )
    return sorted(inserted, key=lambda a: a.id)


async def _settle_shared_guids(
    session: AsyncSession, feed_id: int, drafts: Sequence[EntryDraft]
) -> Sequence[EntryDraft]:
    """Entries sharing a GUID: the plain GUID key stays with the article stored under it (the entry
    with its title and link), wherever that entry now stands; an entry already stored under its
    content key keeps that; every other one goes by its content, but for the first of a new GUID."""
    wanted = {k for d in drafts if d.guid_key for k in (d.guid_key, d.content_key) if k}
    if not wanted:
        return drafts
    stored: dict[str, tuple[str, str | None]] = {}
    for chunk in _chunks(sorted(wanted)):
        stmt = select(Article.key, Article.title, Article.link).where(
            Article.feed_id == feed_id, Article.key.in_(chunk)
        )
        stored.update((key, (title, link)) for key, title, link in (await session.execute(stmt)).all())
    owned: set[str] = set()
    settled = []
    for d in drafts:
        plain, own = d.guid_key, d.content_key
        if plain and own:
            if plain not in owned and stored.get(plain) == (d.title, d.link):
                owned.add(plain)  # one owner per key
                d = replace(d, key=plain)
            elif plain in stored or own in stored:
                d = replace(d, key=own)
        settled.append(d)
    return settled


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def renamed_links(
    session: AsyncSession, feed_id: int, new: Sequence[StoredArticle], entries: Sequence[EntryDraft]
) -> set[str]:
    """Link hashes of new rows that only renamed a stored article (its GUID changed, its link did not).

    The stored article must have vanished from this fetch (`entries`), and the link must be unique in
    it, so distinct items that share one link (a feed linking everything to its home page) still count.
    """
    counts = Counter(_sha(e.canonical_link) for e in entries if e.canonical_link)
    unique = sorted({a.link_hash for a in new if a.link_hash and counts[a.link_hash] == 1})
    if not unique:
        return set()
    current_keys = {key for e in entries for key in (e.key, e.content_key) if key}
    new_ids = [a.id for a in new]
    stmt = select(Article.link_hash, Article.key).where(
        Article.feed_id == feed_id, Article.link_hash.in_(unique), Article.id.not_in(new_ids)
    )
    return {h for h, key in (await session.execute(stmt)).all() if h and key not in current_keys}


async def chats_alerted_for_same_story(
    session: AsyncSession, article: StoredArticle, since: datetime
) -> set[int]:
    """Chats already alerted (or queued) for the same story from another feed: same link or title.

    Only other feeds: within one feed the key says what is new, and a feed's own recurring title
    ("NATO daily briefing") or shared link (its home page) is a new story each time."""
    conds = []
    if article.link_hash:
        conds.append(Article.link_hash == article.link_hash)
    if article.title_fp:
        conds.append(Article.title_fp == article.title_fp)
    if not conds:
        return set()
    stmt = (
        select(Delivery.chat_id)
        .join(Article, Article.id == Delivery.article_id)
        .where(or_(*conds), Article.feed_id != article.feed_id, Article.first_seen_at >= since)
    )
    return set((await session.execute(stmt)).scalars().all())


async def get_article(session: AsyncSession, article_id: int) -> Article | None:
    return await session.get(Article, article_id)


async def latest_articles(session: AsyncSession, limit: int) -> Sequence[tuple[Article, str]]:
    """The newest stored articles with their feed's display name."""
    stmt = (
        select(Article, Feed)
        .join(Feed, Feed.id == Article.feed_id)
        .order_by(Article.published.desc(), Article.id.desc())
        .limit(limit)
    )
    return [(a, f.display_name) for a, f in (await session.execute(stmt)).all()]


async def count_articles(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(Article.id)))).scalar_one())


async def articles_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[tuple[Article, str]]:
    """Articles with their feed's display name, in the order of `ids`."""
    if not ids:
        return []
    stmt = select(Article, Feed).join(Feed, Feed.id == Article.feed_id).where(Article.id.in_(list(ids)))
    rows = {a.id: (a, f.display_name) for a, f in (await session.execute(stmt)).all()}
    return [rows[i] for i in ids if i in rows]


ArticleText = tuple[int, int, str, str, str]  # sort key, id, title, summary, content

# Date order as one integer: the publication time in whole seconds, then the id (below 2**31), so
# keys are unique, a page's cursor is one number and "newest first" is one index walk. The
# full-text index is keyed by it too (SQLite: the FTS rowid; migration 0008 builds both). Written
# exactly as the index expressions are, so the planners use them.
ID_BITS = 31
_SORT_KEY = {
    "sqlite": f"((CAST(strftime('%s', published) AS INTEGER) << {ID_BITS}) | id)",
    "postgresql": f"((floor(extract(epoch FROM published AT TIME ZONE 'UTC'))::bigint << {ID_BITS}) | id)",
}
# The expression the PostgreSQL GIN index is built on: the stored tokens as lexemes.
_PG_VECTOR = "array_to_tsvector(string_to_array(search_text, ' '))"


def sort_key_floor(since: datetime) -> int:
    """The smallest sort key of an article published at or after `since`."""
    return math.floor(since.timestamp()) << ID_BITS


async def article_texts(
    session: AsyncSession, *, expr: Expr | None, before: int | None, low: int | None, limit: int
) -> list[ArticleText]:
    """Stored articles whose index tokens satisfy `expr` (all when None), newest published first.

    Sort keys run from just below `before` down to `low`. The index is keyed by them, so a page
    far back starts at its cursor instead of reading past newer rows. The index only narrows:
    callers verify every row with the matcher.
    """
    dialect = session.get_bind().dialect.name
    columns = (Article.id, Article.title, Article.summary, Article.content)
    params: dict[str, Any] = {}
    if expr is not None and dialect == "sqlite":
        params["match"] = fts5(expr)
        fts = table("articles_fts", column("rowid"))
        key: Any = fts.c.rowid
        stmt = (
            select(key, *columns)
            .select_from(fts.join(Article, Article.id == fts.c.rowid.op("&")((1 << ID_BITS) - 1)))
            .where(text("articles_fts MATCH :match"))
        )
    else:
        key = literal_column(_SORT_KEY[dialect])
        stmt = select(key, *columns)
        if expr is not None:
            params["match"] = tsquery(expr)
            stmt = stmt.where(text(f"{_PG_VECTOR} @@ CAST(:match AS tsquery)"))
    order = key
    if expr is not None and dialect != "sqlite":
        # PostgreSQL would walk the sort-key index testing each row's tokens (4.6 s for a rare
        # term at 20,000 articles); an order that index cannot give makes it take the GIN index.
        order = literal_column(f"({_SORT_KEY[dialect]} + 0)")
    if before is not None:
        stmt = stmt.where(key < before)
    if low is not None:
        stmt = stmt.where(key >= low)
    rows = (await session.execute(stmt.order_by(order.desc()).limit(limit), params)).all()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def count_indexed(session: AsyncSession, narrowing: Narrowing, *, low: int) -> int | None:
    """How many articles with a sort key from `low` on match, counted in the index, reading no row.

    None when the index does not say exactly what the query says on this engine (then the caller
    reads and verifies). Saves the fetch of every match: the backtest kinds of bench/search.py.
    """
    if not narrowing.exact:
        return None
    if session.get_bind().dialect.name == "sqlite":
        stmt: Any = text(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH :match AND rowid >= :low"
        )
        match = fts5(narrowing.expr)
    elif exact_on_postgresql(narrowing.expr):
        stmt = text(
            f"SELECT count(*) FROM articles WHERE {_PG_VECTOR} @@ CAST(:match AS tsquery)"
            f" AND {_SORT_KEY['postgresql']} >= :low"
        )
        match = tsquery(narrowing.expr)
    else:
        return None
    return int((await session.execute(stmt, {"match": match, "low": low})).scalar_one())
