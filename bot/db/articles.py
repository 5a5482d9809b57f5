"""Queries on articles: store what is new, find the same story, read for /latest and /search."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    column,
    func,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.engine import CHUNK, UTCDateTime, _insert
from bot.db.models import Article, Delivery, Feed
from bot.domain import EntryDraft, StoredArticle
from bot.matching.normalization import normalize
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
                search_text=normalize(f"{d.title}\n{d.summary}"),
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
    """Articles with their feed's display name, newest (highest id) first."""
    if not ids:
        return []
    stmt = select(Article, Feed).join(Feed, Feed.id == Article.feed_id).where(Article.id.in_(list(ids)))
    rows = [(a, f.display_name) for a, f in (await session.execute(stmt)).all()]
    return sorted(rows, key=lambda r: r[0].id, reverse=True)


ArticleText = tuple[int, str, str, str]  # id, title, summary, content


async def first_id_since(session: AsyncSession, since: datetime) -> int | None:
    """The oldest article id first seen at or after `since` (ids grow with time), to bound a scan."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's planner would walk the primary key; the first-seen index answers this at once.
        stmt: Any = text(
            "SELECT min(id) FROM articles INDEXED BY ix_articles_first_seen WHERE first_seen_at >= :since"
        ).bindparams(bindparam("since", type_=UTCDateTime()))
    else:
        stmt = select(func.min(Article.id)).where(Article.first_seen_at >= bindparam("since"))
    value = (await session.execute(stmt, {"since": since})).scalar()
    return int(value) if value is not None else None


TRIGRAM_LENGTH = 3  # the shortest needle the trigram index (FTS5 / pg_trgm) serves


async def article_texts(
    session: AsyncSession, *, needle: str | None, below_id: int | None, low_id: int | None, limit: int
) -> list[ArticleText]:
    """Stored articles whose normalized title and summary contain `needle` (all when None), newest first.

    Ids run from just below `below_id` down to `low_id`. A needle of 3 or more characters goes through
    the trigram index, which then drives the order and stops after `limit` rows; a shorter one is a
    plain substring test. Either way the index only narrows: callers verify every row with the matcher.
    """
    columns = (Article.id, Article.title, Article.summary, Article.content)
    bounds = []
    if below_id is not None:
        bounds.append(Article.id < below_id)
    if low_id is not None:
        bounds.append(Article.id >= low_id)
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {}
    if needle is not None and len(needle) >= TRIGRAM_LENGTH and dialect == "sqlite":
        # An FTS5 string: the needle is quoted, so nothing in it is query syntax.
        params["phrase"] = '"' + needle.replace('"', '""') + '"'
        fts = table("articles_fts", column("rowid"))
        stmt = (
            select(*columns)
            .select_from(fts.join(Article, Article.id == fts.c.rowid))
            .where(text("articles_fts MATCH :phrase"), *bounds)
            .order_by(fts.c.rowid.desc())
        )
    elif needle is not None and dialect == "sqlite":
        stmt = (
            select(*columns)
            .where(func.instr(Article.search_text, needle) > 0, *bounds)
            .order_by(Article.id.desc())
        )
    elif needle is not None:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = Article.search_text.like(f"%{escaped}%", escape="\\")
        stmt = select(*columns).where(condition, *bounds).order_by(Article.id.desc())
    else:
        stmt = select(*columns).where(*bounds).order_by(Article.id.desc())
    rows = (await session.execute(stmt.limit(limit), params)).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]
