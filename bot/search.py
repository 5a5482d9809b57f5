"""The "find stored articles" use case behind /latest, /search and the /subscribe backtest.

The database's full-text index (FTS5 trigram on SQLite, pg_trgm on PostgreSQL) narrows the
rows to those containing one required piece of the query; the matcher then decides, so
search and alerts agree on what a query means.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import db
from bot.matcher import Document, Query

BATCH = 500
SCAN_CAP = 20_000  # rows looked at per request, so a rare query cannot scan the whole table


@dataclass(frozen=True, slots=True)
class Page:
    items: list[tuple[db.Article, str]]  # article, feed name; newest first
    older: int | None  # cursor for the next (older) page: search below this id
    scanned: int = 0  # rows read to find them


def required_needle(query: Query) -> str | None:
    """The longest piece of text every match must contain, if it is long enough to index (≥ 3)."""
    picker: Any = getattr(query, "required_needle", None)
    if callable(picker):
        value = picker()
        return value if isinstance(value, str) and len(value) >= 3 else None
    best = ""
    for term in getattr(query, "include", ()):
        piece = getattr(term, "substring", "") or " ".join(getattr(term, "words", ()))
        if len(piece) > len(best):
            best = piece
    return best if len(best) >= 3 else None


async def _matching_ids(
    session: AsyncSession,
    query: Query | None,
    *,
    below_id: int | None,
    since: datetime | None,
    batch: int,
    scan_cap: int,
    scanned: list[int],
) -> AsyncGenerator[int, None]:
    """Ids of matching articles, newest first, reading at most `scan_cap` rows in batches.

    `scanned` is a one-item counter of the rows read, for the caller's figures.
    """
    needle = required_needle(query) if query is not None else None
    cursor = below_id
    while scanned[0] < scan_cap:
        if needle is not None:
            rows = await db.candidate_article_texts(
                session, needle, below_id=cursor, since=since, limit=batch
            )
        else:
            rows = await db.recent_article_texts(session, below_id=cursor, since=since, limit=batch)
        scanned[0] += len(rows)
        for article_id, title, summary, content in rows:
            if query is None or query.matches(Document.of(title, summary, content)):
                yield article_id
        if len(rows) < batch:
            return
        cursor = rows[-1][0]


async def find(
    store: db.Store,
    query: Query | None,
    *,
    limit: int,
    below_id: int | None = None,
    since: datetime | None = None,
    scan_cap: int = SCAN_CAP,
) -> Page:
    """The newest stored articles matching `query` (all when None), below an id cursor."""
    found: list[int] = []
    scanned = [0]
    batch = limit + 1 if query is None else BATCH
    async with store.read() as session:
        ids = _matching_ids(
            session, query, below_id=below_id, since=since, batch=batch, scan_cap=scan_cap, scanned=scanned
        )
        async for article_id in ids:
            found.append(article_id)
            if len(found) > limit:
                break
        await ids.aclose()
        items = await db.articles_by_ids(session, found[:limit])
    older = items[-1][0].id if len(found) > limit and items else None
    return Page(items=items, older=older, scanned=scanned[0])


async def count_matches(store: db.Store, query: Query, *, since: datetime, scan_cap: int = SCAN_CAP) -> int:
    """How many stored articles since a time match (the /subscribe backtest), up to the scan cap."""
    async with store.read() as session:
        ids = _matching_ids(
            session, query, below_id=None, since=since, batch=BATCH, scan_cap=scan_cap, scanned=[0]
        )
        return sum([1 async for _ in ids])
