"""The "find stored articles" use case behind /latest, /search and the /subscribe backtest.

The database's full-text index (FTS5 trigram on SQLite, pg_trgm on PostgreSQL) narrows the
rows to those containing one required piece of the query; the matcher then decides, so
search and alerts agree on what a query means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import db
from bot.matcher import Document, Query

BATCH = 500
SCAN_CAP = 20_000  # rows looked at per request, so a rare query cannot scan the whole table


@dataclass(frozen=True, slots=True)
class Page:
    items: list[tuple[db.Article, str]]  # article, feed name; newest first
    older: int | None  # cursor for the next (older) page: search below this id
    scanned: int = 0


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
    needle = required_needle(query) if query is not None else None
    found: list[int] = []
    scanned = 0
    cursor = below_id
    async with store.read() as session:
        while len(found) <= limit and scanned < scan_cap:
            size = limit + 1 if query is None else BATCH
            if needle is not None:
                rows = await db.candidate_article_texts(
                    session, needle, below_id=cursor, since=since, limit=size
                )
            else:
                rows = await db.recent_article_texts(session, below_id=cursor, since=since, limit=size)
            if not rows:
                break
            scanned += len(rows)
            for article_id, title, summary, content in rows:
                if query is None or query.matches(Document.of(title, summary, content)):
                    found.append(article_id)
                    if len(found) > limit:
                        break
            cursor = rows[-1][0]
            if len(rows) < size:
                break
        items = await db.articles_by_ids(session, found[:limit])
    older = items[-1][0].id if len(found) > limit and items else None
    return Page(items=items, older=older, scanned=scanned)


async def count_matches(store: db.Store, query: Query, *, since: datetime, scan_cap: int = SCAN_CAP) -> int:
    """How many stored articles since a time match (the /subscribe backtest), up to the scan cap."""
    needle = required_needle(query)
    total = 0
    scanned = 0
    cursor: int | None = None
    async with store.read() as session:
        while scanned < scan_cap:
            if needle is not None:
                rows = await db.candidate_article_texts(
                    session, needle, below_id=cursor, since=since, limit=BATCH
                )
            else:
                rows = await db.recent_article_texts(session, below_id=cursor, since=since, limit=BATCH)
            if not rows:
                break
            scanned += len(rows)
            total += sum(1 for _, t, s, c in rows if query.matches(Document.of(t, s, c)))
            cursor = rows[-1][0]
            if len(rows) < BATCH:
                break
    return total
