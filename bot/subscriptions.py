"""The only code that changes what the subscription index must know.

Subscribe, unsubscribe, mute, pause, resume, block, reactivate and chat migration each
write their rows and a `subscription_changes` log row per subscription touched, in one
transaction. The live index follows the log after the commit (`catch_up`), so a change
that fails to commit never reaches the index, and a process that did not make the change
(the poller before each tick; other processes later) catches up from the same log. A log
row names a subscription, not an operation: following it reads the subscription's state
now, so rows applied twice or out of order leave the same index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot import db
from bot.domain import NewsbotError
from bot.matching import QueryError, SubscriptionIndex, build_index

logger = logging.getLogger(__name__)

# Log rows this far below the newest applied one are read again: on PostgreSQL a row can
# commit after one with a higher number, and re-reading a row is harmless.
GAP_WINDOW = 256
LOG_RETENTION = timedelta(days=7)


class ChangeKind(StrEnum):
    """Why a subscription's row in the index may have changed (for the log's readers)."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    MUTE = "mute"
    UNMUTE = "unmute"
    PAUSE = "pause"
    RESUME = "resume"
    BLOCK = "block"
    REACTIVATE = "reactivate"
    MIGRATE = "migrate"


class TooManySubscriptions(NewsbotError):
    """The chat has as many subscriptions as it may have; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} subscriptions per chat")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat as Telegram describes it: enough to register it."""

    id: int
    type: str = "private"
    language: str | None = None


@dataclass(slots=True)
class _Change:
    """The changes of one transaction, logged just before it commits."""

    session: AsyncSession
    now: datetime
    rows: dict[ChangeKind, list[tuple[int, int]]] = field(default_factory=dict)

    def note(self, kind: ChangeKind, chat_id: int, sub_ids: Iterable[int]) -> None:
        self.rows.setdefault(kind, []).extend((chat_id, sub_id) for sub_id in sub_ids)


class Subscriptions:
    """Subscriptions and the live index that follows them."""

    def __init__(self, store: db.Store) -> None:
        self.store = store
        self.index = SubscriptionIndex()
        self._floor = 0  # every log row at or below this was applied
        self._applied: set[int] = set()  # rows above the floor already applied
        self._following = asyncio.Lock()

    async def load(self) -> None:
        """Build the index from the database; the log is followed from here on."""
        async with self.store.read() as session:
            newest = await db.last_change_seq(session)  # before the rows: later changes are re-read
            rows = await db.active_subscriptions(session)
        self.index = build_index(rows)
        self._floor, self._applied = max(0, newest - GAP_WINDOW), set()

    async def catch_up(self) -> int:
        """Apply the log rows not applied yet; returns how many subscriptions were refreshed."""
        async with self._following:
            async with self.store.read() as session:
                fresh = [
                    r for r in await db.changes_after(session, self._floor) if r.seq not in self._applied
                ]
                if not fresh:
                    return 0
                ids = list({r.subscription_id for r in fresh})
                states = await db.subscription_states(session, ids)
            self._refresh(ids, states)
            self._applied.update(r.seq for r in fresh)
            floor = max(self._floor, max(self._applied) - GAP_WINDOW)
            self._applied = {s for s in self._applied if s > floor}
            self._floor = floor
            return len(ids)

    def _refresh(self, ids: list[int], states: list[db.SubscriptionState]) -> None:
        present = {s.id for s in states}
        for sub_id in ids:
            if sub_id not in present:
                self.index.remove(sub_id)
        for state in states:
            if not state.alerting:
                self.index.remove(state.id)
                continue
            try:
                self.index.add(state.id, state.chat_id, state.query)
            except QueryError:  # a stored query this version no longer accepts: it cannot match
                logger.warning("subscription query no longer parses sub_id=%s", state.id)
                self.index.remove(state.id)

    @asynccontextmanager
    async def _changing(self, now: datetime) -> AsyncIterator[_Change]:
        """One transaction whose subscription changes are logged with it and followed after it."""
        async with self.store.write() as session:
            change = _Change(session, now)
            yield change
            for kind, rows in change.rows.items():
                await db.log_changes(session, rows, kind, now)
        if change.rows:
            await self.catch_up()

    # --- the changes --------------------------------------------------------------------------

    async def subscribe(
        self, chat: ChatRef, query: str, query_norm: str, *, limit: int, now: datetime
    ) -> tuple[db.Subscription, bool]:
        """Add a subscription unless the chat has the same one; returns (subscription, created)."""
        async with self._changing(now) as change:
            row = await db.ensure_chat(change.session, chat.id, chat.type, chat.language, now)
            sub, created = await db.add_subscription(change.session, row.id, query, query_norm, now)
            if created:
                if await db.count_subscriptions(change.session, row.id) > limit:
                    raise TooManySubscriptions(limit)
                change.note(ChangeKind.SUBSCRIBE, row.id, [sub.id])
        return sub, created

    async def unsubscribe(
        self, chat_id: int, *, sub_id: int | None = None, query_norm: str | None = None, now: datetime
    ) -> list[db.Subscription]:
        """Remove the chat's subscriptions by id, by query, or all of them; returns what was removed."""
        async with self._changing(now) as change:
            removed = await db.remove_subscriptions(
                change.session, chat_id, sub_id=sub_id, query_norm=query_norm
            )
            change.note(ChangeKind.UNSUBSCRIBE, chat_id, [s.id for s in removed])
        return removed

    async def set_muted(
        self, chat_id: int, sub_id: int, muted: bool, *, now: datetime
    ) -> db.Subscription | None:
        """Mute or unmute one of the chat's subscriptions; None when it has no such subscription."""
        async with self._changing(now) as change:
            sub = await db.get_subscription(change.session, chat_id, sub_id)
            if sub is None:
                return None
            await db.set_subscription_muted(change.session, sub, muted)
            change.note(ChangeKind.MUTE if muted else ChangeKind.UNMUTE, chat_id, [sub.id])
        return sub

    async def set_paused(self, chat: ChatRef, paused: bool, *, now: datetime) -> db.Chat:
        """Stop or restart every alert of a chat."""
        async with self._changing(now) as change:
            row = await db.ensure_chat(change.session, chat.id, chat.type, chat.language, now)
            await db.set_chat_paused(change.session, row.id, paused)
            ids = await db.subscription_ids_of(change.session, row.id)
            change.note(ChangeKind.PAUSE if paused else ChangeKind.RESUME, row.id, ids)
        return row

    async def register(self, chat: ChatRef, *, now: datetime) -> db.Chat:
        """A chat says hello (/start): registered, or active again after it had blocked the bot."""
        async with self._changing(now) as change:
            before = await db.get_chat(change.session, chat.id)
            row = await db.upsert_chat(change.session, chat.id, chat.type, chat.language, now)
            if before is not None:
                ids = await db.subscription_ids_of(change.session, row.id)
                change.note(ChangeKind.REACTIVATE, row.id, ids)
        return row

    async def block(self, chat_id: int, *, now: datetime) -> None:
        """The chat can no longer receive (it blocked the bot, or is gone): inactive, queue dropped."""
        async with self._changing(now) as change:
            await db.deactivate_chat(change.session, chat_id)
            change.note(ChangeKind.BLOCK, chat_id, await db.subscription_ids_of(change.session, chat_id))

    async def migrate(self, old_id: int, new_id: int, *, now: datetime) -> None:
        """A group became a supergroup: its subscriptions and queued alerts move to the new id."""
        async with self._changing(now) as change:
            moved = await db.subscription_ids_of(change.session, old_id)
            await db.migrate_chat(change.session, old_id, new_id, now)
            change.note(ChangeKind.MIGRATE, new_id, moved)

    async def prune_log(self, now: datetime) -> int:
        """Forget log rows older than a week (the newest row always stays)."""
        async with self.store.write() as session:
            return await db.prune_changes(session, now, keep=LOG_RETENTION)
