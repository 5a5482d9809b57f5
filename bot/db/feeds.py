"""Queries on feeds: add, list, schedule, record a poll's outcome, remove."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.engine import _insert
from bot.db.models import Article, Delivery, Feed
from bot.domain import DeliveryStatus, FeedState


async def add_feed(session: AsyncSession, url: str, name: str | None, now: datetime) -> tuple[Feed, bool]:
    """Insert a feed unless its URL is stored; returns (feed, created)."""
    stmt = (
        _insert(session, Feed)
        .values(
            url=url,
            name=name,
            state=FeedState.ACTIVE,
            first_polled=False,
            next_check_at=now,
            error_count=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(Feed.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    feed = (await session.execute(select(Feed).where(Feed.url == url))).scalar_one()
    if new_id is None and feed.state in (FeedState.REMOVED, FeedState.GONE):
        # Added again: polled afresh, its next poll a baseline, its old articles still known.
        feed.state, feed.first_polled, feed.next_check_at, feed.error_count = FeedState.ACTIVE, False, now, 0
        feed.name = name or feed.name
        await session.flush()
        return feed, True
    return feed, new_id is not None


async def feed_by_url(session: AsyncSession, url: str) -> Feed | None:
    return (await session.execute(select(Feed).where(Feed.url == url))).scalar_one_or_none()


async def get_feed(session: AsyncSession, feed_id: int) -> Feed | None:
    return await session.get(Feed, feed_id)


async def list_feeds(session: AsyncSession) -> Sequence[Feed]:
    stmt = select(Feed).where(Feed.state != FeedState.REMOVED).order_by(Feed.id)
    return (await session.execute(stmt)).scalars().all()


async def due_feeds(session: AsyncSession, now: datetime | None) -> Sequence[Feed]:
    """Active feeds whose next check is due (every active one when `now` is None), most overdue first."""
    stmt = select(Feed).where(Feed.state == FeedState.ACTIVE).order_by(Feed.next_check_at)
    if now is not None:
        stmt = stmt.where(Feed.next_check_at <= now)
    return (await session.execute(stmt)).scalars().all()


async def record_feed_success(
    session: AsyncSession,
    feed_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    etag: str | None,
    last_modified: str | None,
    body_sha256: str | None = None,
    title: str | None = None,
    url: str | None = None,
    baseline: bool = True,
) -> None:
    """A good poll: validators kept, errors reset, next check scheduled. `baseline`: it parsed a
    feed document, so from now on new entries alert (an empty 200 or a 304 is no baseline; a
    valid feed with no entries yet is one, so a new blog's first post alerts)."""
    values: dict[str, Any] = dict(
        next_check_at=next_check_at,
        error_count=0,
        failing_since=None,
        last_success_at=now,
        failure_notified=False,
    )
    if baseline:
        values["first_polled"] = True
    if etag is not None or last_modified is not None:
        values.update(etag=etag, last_modified=last_modified)
    if body_sha256 is not None:
        values["body_sha256"] = body_sha256
    if title:
        values["title"] = title[:300]
    if url is not None:
        taken = await session.execute(select(Feed.id).where(Feed.url == url, Feed.id != feed_id))
        if taken.first() is None:
            values["url"] = url
    await session.execute(update(Feed).where(Feed.id == feed_id).values(**values))


async def record_feed_failure(
    session: AsyncSession,
    feed_id: int,
    *,
    now: datetime,
    error: str,
    next_check_at: datetime,
    gone: bool = False,
    notified: bool = False,
) -> None:
    """A failed poll: counted on the row, with when the trouble began."""
    await session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(
            error_count=Feed.error_count + 1,
            last_error=error[:500],
            failing_since=func.coalesce(Feed.failing_since, now),
            next_check_at=next_check_at,
            state=FeedState.GONE if gone else Feed.state,
            failure_notified=notified,
        )
    )


async def feed_by_id_or_url(session: AsyncSession, ref: str) -> Feed | None:
    ref = ref.strip().lstrip("#")
    if ref.isdigit() and len(ref) < 12:
        return await session.get(Feed, int(ref))
    return await feed_by_url(session, ref)


async def remove_feed(session: AsyncSession, feed_id: int) -> bool:
    """Stop a feed and its queued alerts; its articles and sent history stay (and keep their identity)."""
    result = await session.execute(
        update(Feed)
        .where(Feed.id == feed_id, Feed.state != FeedState.REMOVED)
        .values(state=FeedState.REMOVED)
    )
    article_ids = select(Article.id).where(Article.feed_id == feed_id)
    await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.article_id.in_(article_ids))
        .values(status=DeliveryStatus.DROPPED, last_error="feed removed")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
