"""Queries on chats and their subscriptions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.engine import _insert
from bot.db.models import Chat, Delivery, Subscription
from bot.domain import DeliveryStatus


async def upsert_chat(
    session: AsyncSession, chat_id: int, chat_type: str, language: str | None, now: datetime
) -> Chat:
    """Register a chat, or mark a known one active again (a /start after a block)."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        chat = Chat(id=chat_id, type=chat_type, active=True, paused=False, language=language, created_at=now)
        session.add(chat)
    else:
        chat.active = True
        chat.type = chat_type
    await session.flush()
    return chat


async def ensure_chat(
    session: AsyncSession, chat_id: int, chat_type: str, language: str | None, now: datetime
) -> Chat:
    """The chat's row, created on first contact (a known chat is left as it is)."""
    chat = await session.get(Chat, chat_id)
    return chat if chat is not None else await upsert_chat(session, chat_id, chat_type, language, now)


async def get_chat(session: AsyncSession, chat_id: int) -> Chat | None:
    return await session.get(Chat, chat_id)


async def set_chat_paused(session: AsyncSession, chat_id: int, paused: bool) -> None:
    await session.execute(update(Chat).where(Chat.id == chat_id).values(paused=paused))


async def deactivate_chat(session: AsyncSession, chat_id: int) -> None:
    """A chat that blocked the bot: inactive, and its queued alerts dropped."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(active=False))
    await session.execute(
        update(Delivery)
        .where(Delivery.chat_id == chat_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.DROPPED, last_error="chat inactive")
    )


async def migrate_chat(session: AsyncSession, old_id: int, new_id: int, now: datetime) -> None:
    """Move a group's subscriptions and queued alerts to its new supergroup id."""
    old = await session.get(Chat, old_id)
    if old is None:
        return
    if await session.get(Chat, new_id) is None:
        session.add(
            Chat(
                id=new_id,
                type="supergroup",
                active=True,
                paused=old.paused,
                language=old.language,
                created_at=now,
            )
        )
        await session.flush()
    existing = set(
        (await session.execute(select(Subscription.query_norm).where(Subscription.chat_id == new_id)))
        .scalars()
        .all()
    )
    for sub in (await session.execute(select(Subscription).where(Subscription.chat_id == old_id))).scalars():
        if sub.query_norm in existing:
            await session.delete(sub)
        else:
            sub.chat_id = new_id
    taken = set(
        (await session.execute(select(Delivery.article_id).where(Delivery.chat_id == new_id))).scalars().all()
    )
    for row in (await session.execute(select(Delivery).where(Delivery.chat_id == old_id))).scalars():
        if row.article_id in taken:
            await session.delete(row)
        else:
            row.chat_id = new_id
    await session.flush()
    await session.delete(old)
    await session.flush()


async def add_subscription(
    session: AsyncSession, chat_id: int, query: str, query_norm: str, now: datetime
) -> tuple[Subscription, bool]:
    """Insert a subscription unless the chat has the same one; returns (sub, created)."""
    stmt = (
        _insert(session, Subscription)
        .values(chat_id=chat_id, query=query, query_norm=query_norm, created_at=now)
        .on_conflict_do_nothing(index_elements=["chat_id", "query_norm"])
        .returning(Subscription.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    sub = (
        await session.execute(
            select(Subscription).where(Subscription.chat_id == chat_id, Subscription.query_norm == query_norm)
        )
    ).scalar_one()
    return sub, new_id is not None


async def count_subscriptions(session: AsyncSession, chat_id: int) -> int:
    stmt = select(func.count(Subscription.id)).where(Subscription.chat_id == chat_id)
    return int((await session.execute(stmt)).scalar_one())


async def list_subscriptions(session: AsyncSession, chat_id: int) -> Sequence[Subscription]:
    stmt = select(Subscription).where(Subscription.chat_id == chat_id).order_by(Subscription.id)
    return (await session.execute(stmt)).scalars().all()


async def remove_subscriptions(
    session: AsyncSession, chat_id: int, *, sub_id: int | None = None, query_norm: str | None = None
) -> list[Subscription]:
    """Delete the chat's subscriptions by id, by query, or all; returns what was removed."""
    stmt = select(Subscription).where(Subscription.chat_id == chat_id)
    if sub_id is not None:
        stmt = stmt.where(Subscription.id == sub_id)
    if query_norm is not None:
        stmt = stmt.where(Subscription.query_norm == query_norm)
    subs = list((await session.execute(stmt)).scalars().all())
    for sub in subs:
        await session.delete(sub)
    await session.flush()
    return subs


async def receptive_chats(session: AsyncSession, chat_ids: Iterable[int]) -> set[int]:
    """Those of the chats that are active and not paused."""
    ids = list(set(chat_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        stmt = select(Chat.id).where(
            Chat.id.in_(ids[start : start + 500]), Chat.active.is_(True), Chat.paused.is_(False)
        )
        found.update((await session.execute(stmt)).scalars().all())
    return found


async def active_subscriptions(session: AsyncSession) -> list[tuple[int, int, str]]:
    """(subscription id, chat id, query) of every active, unpaused chat."""
    stmt = (
        select(Subscription.id, Subscription.chat_id, Subscription.query)
        .join(Chat, Chat.id == Subscription.chat_id)
        .where(Chat.active.is_(True), Chat.paused.is_(False), Subscription.muted.is_(False))
        .order_by(Subscription.id)
    )
    return [(r[0], r[1], r[2]) for r in (await session.execute(stmt)).all()]


async def get_subscription(session: AsyncSession, chat_id: int, sub_id: int) -> Subscription | None:
    """A subscription of this chat (never another chat's, whatever id is asked for)."""
    stmt = select(Subscription).where(Subscription.id == sub_id, Subscription.chat_id == chat_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def alerting_subscriptions(
    session: AsyncSession, chat_id: int, ids: Sequence[int]
) -> list[tuple[int, str]]:
    """(id, query) of those of the chat's subscriptions, in the order given, that still exist and
    are not muted: what an alert's buttons may offer."""
    if not ids:
        return []
    stmt = select(Subscription.id, Subscription.query).where(
        Subscription.chat_id == chat_id, Subscription.id.in_(list(ids)), Subscription.muted.is_(False)
    )
    found = {sub_id: query for sub_id, query in (await session.execute(stmt)).all()}
    return [(sub_id, found[sub_id]) for sub_id in ids if sub_id in found]


async def set_subscription_muted(session: AsyncSession, sub: Subscription, muted: bool) -> None:
    sub.muted = muted
    await session.flush()


async def chat_languages(session: AsyncSession) -> dict[int, str]:
    """Chats that chose a reply language with /lang."""
    stmt = select(Chat.id, Chat.language).where(Chat.language.is_not(None))
    return {r[0]: str(r[1]) for r in (await session.execute(stmt)).all()}


async def set_chat_language(session: AsyncSession, chat_id: int, language: str) -> None:
    await session.execute(update(Chat).where(Chat.id == chat_id).values(language=language))
