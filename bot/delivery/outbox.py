"""The "flush the outbox" use case: claim a pending row, send it, record the outcome.

Pacing (every token bucket and the 429 gate) happens before a row is claimed, and the
gate is checked again after the claim, so a claimed row goes on the wire at once or back to
pending; a stop while waiting leaves the row pending.
At most one row per chat is in flight, which keeps each chat's alerts in order. The
database row is the idempotency key: a row is claimed (pending → sending) before the
request and marked sent after it, so a restart never sends a row twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import BadRequest

from bot import db, render
from bot.buttons import Signer, alert_keyboard
from bot.delivery.outcome import (
    CloseGate,
    Consequence,
    DeactivateChat,
    MoveChat,
    StopBot,
    sent,
    verdict_of,
)
from bot.delivery.pacing import Pacer, Pacing
from bot.delivery.view import alert_view
from bot.domain import DeliveryStatus
from bot.i18n import Translator, translator
from bot.subscriptions import Subscriptions

logger = logging.getLogger(__name__)


RECORD_RETRY_FIRST = 0.1  # seconds before a refused write is tried again; doubled each time
RECORD_RETRY_MAX = 10.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """Sends pending deliveries until stopped."""

    def __init__(
        self,
        store: db.Store,
        bot: Bot,
        *,
        subscriptions: Subscriptions,
        pacing: Pacing,
        parallel_chats: int = 8,
        max_backoff: float = 300.0,
        on_fatal: Callable[[], Awaitable[None] | None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        signer: Signer | None = None,
    ) -> None:
        self.signer = signer
        self.store = store
        self.subscriptions = subscriptions  # a chat that moved or is gone changes what the index knows
        self.bot = bot
        self.pacer = Pacer(pacing)
        self.parallel = parallel_chats
        self.max_backoff = max_backoff
        self.on_fatal = on_fatal
        self.clock = clock
        self.rng = random.Random()
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: dict[int, asyncio.Task[None]] = {}  # chat id → its send
        self._loop_task: asyncio.Task[None] | None = None
        self._activity = asyncio.Event()

    def wake(self) -> None:
        """New rows were queued: look now rather than at the next timer."""
        self._wake.set()

    async def start(self) -> None:
        async with self.store.write() as session:
            uncertain = await db.mark_interrupted_sends(session)
        if uncertain:
            logger.warning("deliveries interrupted by the last stop marked uncertain count=%d", uncertain)
        self._loop_task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 3.0) -> None:
        """Stop claiming; let sends in flight finish within `grace` seconds."""
        self._stopping = True
        self.pacer.stop()
        self._wake.set()
        if self._loop_task is not None:
            await asyncio.wait({self._loop_task}, timeout=grace)
            if not self._loop_task.done():
                self._loop_task.cancel()
        pending = list(self._inflight.values())
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                delay = await self._dispatch()
            except Exception:
                logger.exception("outbox loop error; retrying")
                delay = 1.0
            if self._stopping:
                break
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _dispatch(self) -> float:
        """Start sends for due rows of idle chats; return how long to sleep."""
        free = self.parallel - len(self._inflight)
        if free <= 0:
            return 5.0
        now = self.clock()
        async with self.store.read() as session:
            rows = await db.due_deliveries(session, now, exclude_chats=self._inflight.keys(), limit=free * 4)
            next_at = await db.next_delivery_time(session)
        for row in rows:
            if len(self._inflight) >= self.parallel or self._stopping:
                break
            if row.chat_id in self._inflight:
                continue
            task = asyncio.create_task(self._deliver(row.id), name=f"send-{row.id}")
            self._inflight[row.chat_id] = task
            task.add_done_callback(functools.partial(self._done, row.chat_id))
        if rows:
            return 5.0  # a finishing send wakes the loop
        if next_at is None:
            return 30.0
        return min(30.0, max(0.05, (next_at - now).total_seconds()))

    def _done(self, chat_id: int, task: asyncio.Task[None]) -> None:
        if self._inflight.get(chat_id) is task:
            del self._inflight[chat_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("send task failed", exc_info=task.exception())
        self._wake.set()
        self._activity.set()

    async def drained(self, timeout: float = 10.0) -> None:
        """Wait until no row is due and nothing is in flight (for tests and shutdown checks)."""
        async with asyncio.timeout(timeout):
            while True:
                self._activity.clear()
                async with self.store.read() as session:
                    due = await db.due_deliveries(session, self.clock(), exclude_chats=(), limit=1)
                if not due and not self._inflight:
                    return
                self._wake.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._activity.wait(), timeout=0.2)

    async def _deliver(self, delivery_id: int) -> None:
        async with self.store.read() as session:
            ctx = await db.delivery_context(session, delivery_id)
        if ctx is None or ctx.delivery.status != DeliveryStatus.PENDING:
            return
        chat_id = ctx.chat.id
        if not ctx.chat.active or ctx.chat.paused:
            async with self.store.write() as session:
                await db.finish_delivery(
                    session,
                    delivery_id,
                    DeliveryStatus.DROPPED,
                    now=self.clock(),
                    error="chat paused" if ctx.chat.paused else "chat inactive",
                )
            return
        async with self.store.read() as session:
            # The subscriptions that matched, as the match named them: nothing is parsed again.
            subs = await db.alerting_subscriptions(
                session, chat_id, json.loads(ctx.delivery.subscription_ids)
            )
        if not await self.pacer.acquire(chat_id) or self._stopping:
            return  # stopped while waiting for the limits: the row was never claimed, still pending
        async with self.store.write() as session:
            if not await db.claim_delivery(session, delivery_id):
                return
        if (wait := self.pacer.gate_wait()) > 0:
            # Another chat's 429 closed the gate while this row was being claimed. Waiting here
            # would hold a claimed row, which a stop turns uncertain: put it back instead.
            logger.info(
                "claimed row put back behind the flood gate delivery_id=%s wait=%.1fs", delivery_id, wait
            )
            retry_at = self.clock() + timedelta(seconds=wait)
            await self._write_until_taken(
                f"release delivery_id={delivery_id}",
                lambda session: db.release_delivery(session, delivery_id, retry_at),
            )
            return
        await self._send(ctx, subs, attempts=ctx.delivery.attempts + 1)

    async def _send(self, ctx: db.DeliveryContext, subs: list[tuple[int, str]], attempts: int) -> None:
        delivery_id, chat_id = ctx.delivery.id, ctx.chat.id
        try:
            # Rendered inside the guard: a bug there counts as an attempt, so it cannot loop.
            view, tr, keyboard = self._render(ctx, subs)
            verdict = sent(await self._send_html_or_plain(chat_id, view, tr, keyboard))
        except Exception as exc:
            verdict = verdict_of(
                exc,
                delivery_id=delivery_id,
                chat_id=chat_id,
                attempts=attempts,
                now=self.clock(),
                backoff_at=self._backoff(attempts),
            )
        if verdict.then is not None:
            await self._follow(chat_id, verdict.then)
        outcome, finished_at = verdict.outcome, self.clock()
        await self._write_until_taken(
            f"outcome delivery_id={delivery_id} status={outcome.status}",
            lambda session: db.finish_delivery(
                session,
                delivery_id,
                outcome.status,
                now=finished_at,
                error=outcome.error,
                message_id=outcome.message_id,
                next_attempt_at=outcome.retry_at,
            ),
        )
        logger.info("delivery done delivery_id=%s chat_id=%s status=%s", delivery_id, chat_id, outcome.status)

    async def _write_until_taken(self, what: str, write: Callable[[AsyncSession], Awaitable[None]]) -> None:
        """Run one write transaction, again and again while the database cannot take it."""

        async def once() -> None:
            async with self.store.write() as session:
                await write(session)

        await self._until_taken(what, once)

    async def _until_taken(self, what: str, action: Callable[[], Awaitable[object]]) -> None:
        """Run a write, again and again while the database cannot take it.

        After a send, what Telegram answered is known only in memory: giving up here would leave
        the row 'sending', which the next start marks uncertain and never sends.
        """
        delay = RECORD_RETRY_FIRST
        while True:
            try:
                await action()
                return
            except Exception as exc:
                if not db.is_unavailable(exc):
                    raise
                logger.warning(
                    "database write failed, retrying %s retry_in=%.1fs error=%s",
                    what,
                    delay,
                    db.error_text(exc),
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MAX)

    async def _follow(self, chat_id: int, then: Consequence) -> None:
        """Carry out what a failed send implies beyond its own row."""
        match then:
            case CloseGate(seconds):
                self.pacer.close_gate(seconds)
            case MoveChat(new_chat_id):
                await self._until_taken(
                    f"chat move old={chat_id} new={new_chat_id}",
                    lambda: self.subscriptions.migrate(chat_id, new_chat_id, now=self.clock()),
                )
            case DeactivateChat(reason):
                await self._deactivate(chat_id, reason)
            case StopBot():
                self._stopping = True
                self.pacer.stop()
                result = self.on_fatal()
                if result is not None:
                    await result

    def _render(
        self, ctx: db.DeliveryContext, subs: list[tuple[int, str]]
    ) -> tuple[render.AlertView, Translator, InlineKeyboardMarkup | None]:
        view = alert_view(ctx)
        tr = translator(ctx.chat.language or "en")
        keyboard = alert_keyboard(self.signer, tr, subs) if self.signer else None
        return view, tr, keyboard

    async def _send_html_or_plain(
        self, chat_id: int, view: render.AlertView, tr: Translator, keyboard: InlineKeyboardMarkup | None
    ) -> int:
        """Send as HTML; once, as plain text, if Telegram cannot parse our HTML."""
        options = LinkPreviewOptions(is_disabled=True)
        try:
            msg = await self.bot.send_message(
                chat_id,
                render.alert_html(tr, view),
                parse_mode="HTML",
                link_preview_options=options,
                reply_markup=keyboard,
            )
        except BadRequest as exc:
            if "can't parse entities" not in exc.message.lower():
                raise
            logger.error("telegram could not parse our HTML; resending as plain text chat_id=%s", chat_id)
            msg = await self.bot.send_message(
                chat_id, render.alert_plain(tr, view), link_preview_options=options, reply_markup=keyboard
            )
        return msg.message_id

    async def _deactivate(self, chat_id: int, reason: str) -> None:
        logger.info("chat deactivated chat_id=%s reason=%s", chat_id, reason)
        await self._until_taken(
            f"chat deactivation chat_id={chat_id}",
            lambda: self.subscriptions.block(chat_id, now=self.clock()),
        )

    def _backoff(self, attempts: int) -> datetime:
        delay = min(2 ** max(attempts - 1, 0), self.max_backoff) * self.rng.uniform(0.8, 1.2)
        return self.clock() + timedelta(seconds=delay)
