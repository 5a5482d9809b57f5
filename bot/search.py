"""The "find stored articles" use case behind /latest, /search and the /subscribe backtest.

Search reads what matching reads: title, summary and body. The database's full-text index
(word tokens and CJK bigrams: FTS5 on SQLite, GIN on PostgreSQL) narrows the rows to those that
satisfy the query's index expression; the matcher then decides, so search and alerts agree on
what a query means.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import db
from bot.matching import Document, Query
from bot.matching.fulltext import Expr, query_narrowing

BATCH = 500
SCAN_CAP = 20_000  # rows looked at per request, so a rare query cannot scan the whole table


@dataclass(frozen=True, slots=True)
class Page:
    items: list[tuple[db.Article, str]]  # article, feed name; newest first
    older: int | None  # cursor for the next (older) page: search below this id
    scanned: int = 0  # rows read to find them


async def _matching_ids(
    session: AsyncSession,
    query: Query | None,
    expr: Expr | None,
    *,
    below_id: int | None,
    since: datetime | None,
    first_batch: int,
    scan_cap: int,
    scanned: list[int],
) -> AsyncGenerator[int, None]:
    """Ids of matching articles, newest first, read in growing batches up to `scan_cap` rows.

    `scanned` is a one-item counter of the rows read, for the caller's figures.
    """
    low_id = None
    if since is not None:
        low_id = await db.first_id_since(session, since)
        if low_id is None:
            return
    cursor, batch = below_id, first_batch
    while scanned[0] < scan_cap:
        rows = await db.article_texts(session, expr=expr, below_id=cursor, low_id=low_id, limit=batch)
        scanned[0] += len(rows)
        for article_id, title, summary, content in rows:
            if query is None or query.matches(Document.of(title, summary, content)):
                yield article_id
        if len(rows) < batch:
            return
        cursor = rows[-1][0]
        batch = min(batch * 2, BATCH)


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
    narrowing = query_narrowing(query) if query is not None else None
    # A first batch of one page where every row read is a result (no query, or an index that
    # says exactly what the query says), else of a few pages, as most pages fill from it.
    one_page = query is None or (narrowing is not None and narrowing.exact)
    batch = limit + 1 if one_page else min(4 * (limit + 1), BATCH)
    async with store.read() as session:
        ids = _matching_ids(
            session,
            query,
            narrowing.expr if narrowing is not None else None,
            below_id=below_id,
            since=since,
            first_batch=batch,
            scan_cap=scan_cap,
            scanned=scanned,
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
    """How many stored articles since a time match (the /subscribe backtest).

    Counted in the index when it says exactly what the query says, else read and verified up to
    the scan cap.
    """
    narrowing = query_narrowing(query)
    async with store.read() as session:
        if narrowing is not None and narrowing.exact:
            low_id = await db.first_id_since(session, since)
            if low_id is None:
                return 0
            counted = await db.count_indexed(session, narrowing, low_id=low_id)
            if counted is not None:
                return counted
        ids = _matching_ids(
            session,
            query,
            narrowing.expr if narrowing is not None else None,
            below_id=None,
            since=since,
            first_batch=BATCH,
            scan_cap=scan_cap,
            scanned=[0],
        )
        return sum([1 async for _ in ids])
