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
    items: list[tuple[db.Article, str]]  # article, feed name; newest published first
    older: int | None  # cursor for the next (older) page: pass it as `before`
    scanned: int = 0  # rows read to find them


async def _matching(
    session: AsyncSession,
    query: Query | None,
    expr: Expr | None,
    *,
    before: int | None,
    since: datetime | None,
    first_batch: int,
    scan_cap: int,
    scanned: list[int],
) -> AsyncGenerator[tuple[int, int], None]:
    """(sort key, id) of matching articles, newest first, read in growing batches up to `scan_cap` rows.

    `scanned` is a one-item counter of the rows read, for the caller's figures.
    """
    low = db.sort_key_floor(since) if since is not None else None
    cursor, batch = before, first_batch
    while scanned[0] < scan_cap:
        rows = await db.article_texts(session, expr=expr, before=cursor, low=low, limit=batch)
        scanned[0] += len(rows)
        for key, article_id, title, summary, content in rows:
            if query is None or query.matches(Document.of(title, summary, content)):
                yield key, article_id
        if len(rows) < batch:
            return
        cursor = rows[-1][0]
        batch = min(batch * 2, BATCH)


async def find(
    store: db.Store,
    query: Query | None,
    *,
    limit: int,
    before: int | None = None,
    since: datetime | None = None,
    scan_cap: int = SCAN_CAP,
) -> Page:
    """The newest stored articles (by publication time) matching `query` (all when None).

    `before` is a page's `older` cursor; `since` keeps articles published from then on.
    """
    found: list[tuple[int, int]] = []
    scanned = [0]
    narrowing = query_narrowing(query) if query is not None else None
    # A first batch of one page where every row read is a result (no query, or an index that
    # says exactly what the query says), else of a few pages, as most pages fill from it.
    one_page = query is None or (narrowing is not None and narrowing.exact)
    batch = limit + 1 if one_page else min(4 * (limit + 1), BATCH)
    async with store.read() as session:
        keys = _matching(
            session,
            query,
            narrowing.expr if narrowing is not None else None,
            before=before,
            since=since,
            first_batch=batch,
            scan_cap=scan_cap,
            scanned=scanned,
        )
        async for hit in keys:
            found.append(hit)
            if len(found) > limit:
                break
        await keys.aclose()
        items = await db.articles_by_ids(session, [article_id for _, article_id in found[:limit]])
    older = found[limit - 1][0] if len(found) > limit and limit > 0 else None
    return Page(items=items, older=older, scanned=scanned[0])


async def count_matches(store: db.Store, query: Query, *, since: datetime, scan_cap: int = SCAN_CAP) -> int:
    """How many stored articles published since a time match (the /subscribe backtest).

    Counted in the index when it says exactly what the query says, else read and verified up to
    the scan cap.
    """
    narrowing = query_narrowing(query)
    async with store.read() as session:
        if narrowing is not None and narrowing.exact:
            counted = await db.count_indexed(session, narrowing, low=db.sort_key_floor(since))
            if counted is not None:
                return counted
        keys = _matching(
            session,
            query,
            narrowing.expr if narrowing is not None else None,
            before=None,
            since=since,
            first_batch=BATCH,
            scan_cap=scan_cap,
            scanned=[0],
        )
        return sum([1 async for _ in keys])
