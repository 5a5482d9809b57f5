"""Queries on the deliveries outbox: queue, find due rows, claim, record the outcome."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.engine import UTCDateTime, _insert
from bot.db.models import Article, Chat, Delivery, Feed
from bot.domain import Alert, DeliveryStatus


async def enqueue_alerts(session: AsyncSession, alerts: Iterable[Alert], now: datetime) -> int:
    """Write alerts to the outbox; a (chat, article) already there is left alone."""
    rows = [
        dict(
            chat_id=a.chat_id,
            article_id=a.article_id,
            terms=json.dumps(list(a.terms), ensure_ascii=False),
            subscription_ids=json.dumps(list(a.subscriptions)),
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for a in alerts
    ]
    count = 0
    for start in range(0, len(rows), 500):
        stmt = (
            _insert(session, Delivery)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing(index_elements=["chat_id", "article_id"])
            .returning(Delivery.id)
        )
        count += len((await session.execute(stmt)).all())
    return count


async def due_deliveries(
    session: AsyncSession, now: datetime, *, exclude_chats: Iterable[int], limit: int
) -> Sequence[Delivery]:
    """Pending rows that are due, oldest first, for chats not already in flight."""
    stmt = (
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    excluded = list(exclude_chats)
    if excluded:
        stmt = stmt.where(Delivery.chat_id.not_in(excluded))
    return (await session.execute(stmt)).scalars().all()


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    delivery: Delivery
    article: Article
    feed_name: str
    chat: Chat


async def delivery_context(session: AsyncSession, delivery_id: int) -> DeliveryContext | None:
    """A pending row with what it takes to render and address it."""
    stmt = (
        select(Delivery, Article, Feed, Chat)
        .join(Article, Article.id == Delivery.article_id)
        .join(Feed, Feed.id == Article.feed_id)
        .join(Chat, Chat.id == Delivery.chat_id)
        .where(Delivery.id == delivery_id)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    delivery, article, feed, chat = row
    return DeliveryContext(delivery, article, feed.display_name, chat)


async def next_delivery_time(session: AsyncSession) -> datetime | None:
    stmt = select(func.min(Delivery.next_attempt_at)).where(Delivery.status == DeliveryStatus.PENDING)
    value = (await session.execute(stmt)).scalar_one_or_none()
    if isinstance(value, datetime):
        return UTCDateTime().process_result_value(value, session.get_bind().dialect)
    return None


async def claim_delivery(session: AsyncSession, delivery_id: int) -> bool:
    """Move a pending row to 'sending'; False when someone else took it first."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release_delivery(session: AsyncSession, delivery_id: int, next_attempt_at: datetime) -> None:
    """Put a claimed row back, unsent and not counted as an attempt, to be tried at `next_attempt_at`."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
        .values(
            status=DeliveryStatus.PENDING, attempts=Delivery.attempts - 1, next_attempt_at=next_attempt_at
        )
    )


async def finish_delivery(
    session: AsyncSession,
    delivery_id: int,
    status: DeliveryStatus,
    *,
    now: datetime,
    error: str | None = None,
    message_id: int | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Record a send's outcome on its row."""
    values: dict[str, Any] = {"status": status, "last_error": error[:500] if error else None}
    if status == DeliveryStatus.SENT:
        values.update(sent_at=now, tg_message_id=message_id)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


async def mark_interrupted_sends(session: AsyncSession) -> int:
    """Rows left 'sending' by a killed process: never resent, counted as uncertain."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.UNCERTAIN)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
