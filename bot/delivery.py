"""The "flush the outbox" use case: claim a pending row, send it, record the outcome.

Pacing happens before a row is claimed, so a claimed row goes on the wire at once.
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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot import db, matcher, render
from bot.buttons import Signer, alert_keyboard
from bot.domain import UserInputError
from bot.i18n import Translator, translator

logger = logging.getLogger(__name__)

GONE_CHAT_ERRORS = (
    "chat not found",
    "have no rights",
    "not enough rights",
    "need administrator rights",
    "topic_closed",
    "user is deactivated",
)
MAX_BUG_ATTEMPTS = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        """Seconds until a token is there (0 when one is)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


@dataclass(frozen=True, slots=True)
class Pacing:
    global_per_second: float = 25.0
    per_chat_per_second: float = 1.0
    group_per_minute: float = 18.0


class Pacer:
    """Telegram's flood limits as token buckets, plus one global RetryAfter gate."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        self.global_bucket = TokenBucket(pacing.global_per_second, max(1.0, pacing.global_per_second / 5))
        self.chats: dict[int, TokenBucket] = {}
        self.gate_until = 0.0  # monotonic time before which nothing is sent

    def _chat_bucket(self, chat_id: int) -> TokenBucket:
        bucket = self.chats.get(chat_id)
        if bucket is None:
            if len(self.chats) > 4096:  # forget idle chats; a full bucket is the same as a new one
                self.chats = {
                    k: b for k, b in self.chats.items() if b.wait_time() > 0 or b.tokens < b.capacity
                }
            if chat_id < 0:
                bucket = TokenBucket(self.pacing.group_per_minute / 60, 1.0)
            else:
                bucket = TokenBucket(self.pacing.per_chat_per_second, 1.0)
            self.chats[chat_id] = bucket
        return bucket

    async def acquire(self, chat_id: int) -> None:
        """Wait until a message to this chat is within every limit, then spend the tokens."""
        chat = self._chat_bucket(chat_id)
        while True:
            wait = max(self.gate_until - time.monotonic(), chat.wait_time(), self.global_bucket.wait_time())
            if wait <= 0:
                chat.take()
                self.global_bucket.take()
                return
            await asyncio.sleep(wait)

    async def wait_gate(self) -> None:
        """Hold a send that was paced before a RetryAfter closed the gate."""
        while (wait := self.gate_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    def close_gate(self, seconds: float) -> None:
        self.gate_until = max(self.gate_until, time.monotonic() + seconds)


class Outbox:
    """Sends pending deliveries until stopped."""

    def __init__(
        self,
        store: db.Store,
        bot: Bot,
        *,
        pacing: Pacing,
        parallel_chats: int = 8,
        max_backoff: float = 300.0,
        on_fatal: Callable[[], Awaitable[None] | None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        signer: Signer | None = None,
    ) -> None:
        self.signer = signer
        self.store = store
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
        if ctx is None or ctx.delivery.status != "pending":
            return
        chat_id = ctx.chat.id
        if not ctx.chat.active or ctx.chat.paused:
            async with self.store.write() as session:
                await db.finish_delivery(
                    session,
                    delivery_id,
                    "dropped",
                    now=self.clock(),
                    error="chat paused" if ctx.chat.paused else "chat inactive",
                )
            return
        async with self.store.read() as session:
            subs = [(s.id, s.query) for s in await db.list_subscriptions(session, chat_id) if not s.muted]
        view, matched = alert_view(ctx, subs)
        tr = translator(ctx.chat.language or "en")
        keyboard = alert_keyboard(self.signer, tr, matched) if self.signer else None
        await self.pacer.acquire(chat_id)
        if self._stopping:
            return
        async with self.store.write() as session:
            if not await db.claim_delivery(session, delivery_id):
                return
        await self._send(delivery_id, chat_id, view, tr, keyboard, attempts=ctx.delivery.attempts + 1)

    async def _send(
        self,
        delivery_id: int,
        chat_id: int,
        view: render.AlertView,
        tr: Translator,
        keyboard: InlineKeyboardMarkup | None,
        attempts: int,
    ) -> None:
        outcome: tuple[str, str | None, int | None, datetime | None]
        try:
            message = await self._send_html_or_plain(chat_id, view, tr, keyboard)
            outcome = ("sent", None, message, None)
        except RetryAfter as exc:
            wait = (
                float(exc.retry_after.total_seconds())
                if isinstance(exc.retry_after, timedelta)
                else float(exc.retry_after)
            )
            self.pacer.close_gate(wait + 0.5)
            logger.warning("telegram flood wait chat_id=%s retry_after=%.1fs", chat_id, wait)
            outcome = ("pending", "429 retry after", None, self.clock() + timedelta(seconds=wait + 0.5))
        except ChatMigrated as exc:
            logger.info("chat migrated old=%s new=%s", chat_id, exc.new_chat_id)
            async with self.store.write() as session:
                await db.migrate_chat(session, chat_id, exc.new_chat_id, self.clock())
            outcome = ("pending", "chat migrated", None, self.clock())
        except Forbidden as exc:
            await self._deactivate(chat_id, str(exc))
            outcome = ("dropped", str(exc), None, None)
        except InvalidToken:
            logger.critical("the bot token was refused by Telegram; stopping")
            outcome = ("pending", "invalid token", None, self.clock())
            self._stopping = True
            result = self.on_fatal()
            if result is not None:
                await result
        except BadRequest as exc:
            if any(s in exc.message.lower() for s in GONE_CHAT_ERRORS):
                await self._deactivate(chat_id, exc.message)
                outcome = ("dropped", exc.message, None, None)
            else:
                logger.error("alert refused delivery_id=%s error=%s", delivery_id, exc.message)
                outcome = ("failed", exc.message, None, None)
        except TimedOut as exc:
            logger.warning("send timed out, possible duplicate delivery_id=%s", delivery_id)
            outcome = ("pending", f"timed out: {exc}", None, self._backoff(attempts))
        except NetworkError as exc:
            outcome = ("pending", f"network: {exc}", None, self._backoff(attempts))
        except Exception as exc:  # our bug: retry a few times, then give up on this row
            logger.exception("send crashed delivery_id=%s", delivery_id)
            status = "failed" if attempts >= MAX_BUG_ATTEMPTS else "pending"
            outcome = (status, f"internal: {type(exc).__name__}", None, self._backoff(attempts))
        status, error, message_id, next_at = outcome
        async with self.store.write() as session:
            await db.finish_delivery(
                session,
                delivery_id,
                status,
                now=self.clock(),
                error=error,
                message_id=message_id,
                next_attempt_at=next_at,
            )
        logger.info("delivery done delivery_id=%s chat_id=%s status=%s", delivery_id, chat_id, status)

    async def _send_html_or_plain(
        self, chat_id: int, view: render.AlertView, tr: Translator, keyboard: InlineKeyboardMarkup | None
    ) -> int:
        """Send as HTML; once, as plain text, if Telegram cannot parse our HTML."""
        options = LinkPreviewOptions(is_disabled=True)
        await self.pacer.wait_gate()
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
        async with self.store.write() as session:
            await db.deactivate_chat(session, chat_id)

    def _backoff(self, attempts: int) -> datetime:
        delay = min(2 ** max(attempts - 1, 0), self.max_backoff) * self.rng.uniform(0.8, 1.2)
        return self.clock() + timedelta(seconds=delay)


def alert_view(
    ctx: db.DeliveryContext, subs: list[tuple[int, str]]
) -> tuple[render.AlertView, list[tuple[int, str]]]:
    """What the alert shows, and which of the chat's subscriptions it answers (for its buttons)."""
    article = ctx.article
    doc = matcher.Document.of(article.title, article.summary, article.content)
    matched = []
    for sub_id, text in subs:
        try:
            if matcher.parse_query(text).matches(doc):
                matched.append((sub_id, text))
        except UserInputError:
            continue
    terms = json.loads(ctx.delivery.terms)
    pieces: list[tuple[str, bool]] = []
    if terms:
        for body in (article.summary, article.content, article.title):
            if body and (pieces := matcher.snippet(body, terms)) and any(hit for _, hit in pieces):
                break
            pieces = []
    view = render.AlertView(
        title=article.title,
        link=article.link,
        feed_name=ctx.feed_name,
        published=article.published,
        summary=article.summary or article.content,
        terms=terms,
        snippet=pieces,
    )
    return view, matched
