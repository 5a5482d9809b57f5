"""Queries on the subscription change log, and the subscription state the index follows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.engine import CHUNK
from bot.db.models import Chat, Subscription, SubscriptionChange


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """One row of the change log."""

    seq: int
    chat_id: int
    subscription_id: int
    kind: str


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """What the index must know of one subscription: its chat and query, and whether it alerts."""

    id: int
    chat_id: int
    query: str
    alerting: bool  # the chat is active and not paused, and the subscription is not muted


async def log_changes(
    session: AsyncSession, changes: Iterable[tuple[int, int]], kind: str, now: datetime
) -> int:
    """Append (chat id, subscription id) rows of one kind to the log; returns how many."""
    rows = [
        {"chat_id": chat_id, "subscription_id": sub_id, "kind": kind, "created_at": now}
        for chat_id, sub_id in changes
    ]
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(SubscriptionChange), rows[start : start + CHUNK])
    return len(rows)


async def last_change_seq(session: AsyncSession) -> int:
    """The newest sequence number in the log (0 when it is empty)."""
    value = (await session.execute(select(func.max(SubscriptionChange.seq)))).scalar()
    return int(value or 0)


async def changes_after(session: AsyncSession, seq: int, *, limit: int = 10_000) -> list[LoggedChange]:
    """Log rows after `seq`, oldest first."""
    stmt = (
        select(
            SubscriptionChange.seq,
            SubscriptionChange.chat_id,
            SubscriptionChange.subscription_id,
            SubscriptionChange.kind,
        )
        .where(SubscriptionChange.seq > seq)
        .order_by(SubscriptionChange.seq)
        .limit(limit)
    )
    return [LoggedChange(*row) for row in (await session.execute(stmt)).all()]


async def subscription_states(session: AsyncSession, ids: Sequence[int]) -> list[SubscriptionState]:
    """The current state of these subscriptions; an id that is gone is absent."""
    out: list[SubscriptionState] = []
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CHUNK):
        stmt = (
            select(
                Subscription.id,
                Subscription.chat_id,
                Subscription.query,
                Subscription.muted,
                Chat.active,
                Chat.paused,
            )
            .join(Chat, Chat.id == Subscription.chat_id)
            .where(Subscription.id.in_(wanted[start : start + CHUNK]))
        )
        for sub_id, chat_id, query, muted, active, paused in (await session.execute(stmt)).all():
            out.append(SubscriptionState(sub_id, chat_id, query, active and not paused and not muted))
    return out


async def subscription_ids_of(session: AsyncSession, chat_id: int) -> list[int]:
    """Ids of every subscription of a chat."""
    stmt = select(Subscription.id).where(Subscription.chat_id == chat_id).order_by(Subscription.id)
    return list((await session.execute(stmt)).scalars().all())


async def prune_changes(session: AsyncSession, now: datetime, *, keep: timedelta) -> int:
    """Drop log rows older than `keep`, every index has followed them long before; the newest row
    stays, so SQLite never hands out a sequence number again."""
    newest = select(func.max(SubscriptionChange.seq)).scalar_subquery()
    result = await session.execute(
        delete(SubscriptionChange).where(
            SubscriptionChange.created_at < now - keep, SubscriptionChange.seq < newest
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
