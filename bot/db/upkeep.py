"""Counts for /stats, and pruning of old bodies and finished deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.articles import count_articles
from bot.db.models import Article, Chat, Delivery, Feed, Subscription
from bot.domain import DeliveryStatus, FeedState


async def delivery_counts(session: AsyncSession) -> dict[str, int]:
    stmt = select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


@dataclass(frozen=True, slots=True)
class Stats:
    chats: dict[str, int]
    subscriptions: int
    feeds: dict[str, int]
    articles: int
    deliveries_24h: dict[str, int]


async def stats(session: AsyncSession, now: datetime) -> Stats:
    """Counts for /stats."""
    chat_rows = (
        await session.execute(
            select(Chat.active, Chat.paused, func.count(Chat.id)).group_by(Chat.active, Chat.paused)
        )
    ).all()
    chats = {"active": 0, "paused": 0, "blocked": 0}
    for active, paused, n in chat_rows:
        chats["blocked" if not active else "paused" if paused else "active"] += int(n)
    feed_rows = (
        await session.execute(select(Feed.state, Feed.error_count).where(Feed.state != FeedState.REMOVED))
    ).all()
    feeds = {"healthy": 0, "failing": 0, "gone": 0}
    for state, errors in feed_rows:
        feeds["gone" if state == FeedState.GONE else "failing" if errors else "healthy"] += 1
    since = now - timedelta(hours=24)
    delivery_rows = (
        await session.execute(
            select(Delivery.status, func.count(Delivery.id))
            .where(Delivery.created_at >= since)
            .group_by(Delivery.status)
        )
    ).all()
    subs = int((await session.execute(select(func.count(Subscription.id)))).scalar_one())
    return Stats(
        chats=chats,
        subscriptions=subs,
        feeds=feeds,
        articles=await count_articles(session),
        deliveries_24h={status: int(n) for status, n in delivery_rows},
    )


async def prune(session: AsyncSession, now: datetime, *, retention_days: int) -> tuple[int, int]:
    """Drop old article bodies and finished deliveries; article rows (their identity) stay forever."""
    cutoff = now - timedelta(days=retention_days)
    bodies = await session.execute(
        update(Article)
        .where(Article.first_seen_at < cutoff, (Article.summary != "") | (Article.content != ""))
        .values(summary="", content="")
    )
    done = await session.execute(
        delete(Delivery).where(
            Delivery.created_at < cutoff,
            Delivery.status.not_in([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
        )
    )
    return int(bodies.rowcount), int(done.rowcount)  # type: ignore[attr-defined]
