"""The "refresh due feeds" use case: fetch, parse, store, match, queue alerts.

Polling ends at the outbox; it never imports telegram. Each feed's new articles and
their alerts are written in one transaction, so a crash before commit just repeats
the poll and a feed's first successful poll stores its backlog and alerts nobody.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp

from bot import db, feeds
from bot.domain import FetchError, FetchResult, NewsbotError, ParsedFeed
from bot.matcher import SubscriptionIndex, match
from bot.urlguard import normalize_feed_url, redact

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 24 * 3600


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class TickReport:
    """What one tick did, for logs and tests."""

    polled: int = 0
    failed: int = 0
    new_articles: int = 0
    alerts: int = 0
    errors: dict[int, str] = field(default_factory=dict)


def backoff_delay(interval: float, failures: int, cap: float, rng: random.Random) -> float:
    """Interval × 2^(failures-1), capped, with ±20 % jitter so retries do not align."""
    base = min(interval * 2 ** max(failures - 1, 0), cap)
    return float(max(interval, base) * rng.uniform(0.8, 1.2))


class Poller:
    """Polls due feeds under a concurrency bound; ticks never overlap."""

    def __init__(
        self,
        store: db.Store,
        http: aiohttp.ClientSession,
        limits: feeds.FetchLimits,
        index: SubscriptionIndex,
        *,
        interval: float,
        max_backoff: float,
        concurrency: int,
        on_alerts: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.http = http
        self.limits = limits
        self.index = index
        self.interval = interval
        self.max_backoff = max(max_backoff, interval)
        self.on_alerts = on_alerts
        self.clock = clock
        self.rng = rng or random.Random()
        self._gate = asyncio.Semaphore(concurrency)
        self._tick_lock = asyncio.Lock()

    async def tick(self, *, force: bool = False) -> TickReport:
        """Poll every due feed once (every active one with `force`); a failing feed never stops the rest."""
        async with self._tick_lock:
            now = self.clock()
            async with self.store.read() as session:
                due = [
                    (f.id, f.url, f.etag, f.last_modified, f.body_sha256, f.first_polled, f.error_count)
                    for f in await db.due_feeds(session, None if force else now)
                ]
            report = TickReport()
            results = await asyncio.gather(*(self._poll_guarded(*row, report=report) for row in due))
            report.polled = len(results)
            if report.alerts:
                self.on_alerts()
            logger.info(
                "tick done feeds=%d failed=%d new=%d alerts=%d",
                report.polled,
                report.failed,
                report.new_articles,
                report.alerts,
            )
            return report

    async def _poll_guarded(
        self,
        feed_id: int,
        url: str,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        first_polled: bool,
        error_count: int,
        *,
        report: TickReport,
    ) -> None:
        try:
            async with self._gate:
                result = await feeds.fetch(
                    self.http, url, self.limits, etag=etag, last_modified=last_modified
                )
                parsed = None
                digest = hashlib.sha256(result.body).hexdigest() if not result.not_modified else None
                if digest is not None and digest != body_hash:
                    parsed = await feeds.parse(
                        result.body, url=result.url, headers=result.headers, now=self.clock()
                    )
            await self._store(feed_id, result, parsed, digest, first_polled, report)
        except NewsbotError as exc:
            await self._record_failure(feed_id, url, exc, error_count, report)
        except Exception as exc:  # a bug of ours must not stop the other feeds
            logger.exception("feed poll crashed feed_id=%s", feed_id)
            await self._record_failure(
                feed_id, url, FetchError(f"internal error: {type(exc).__name__}"), error_count, report
            )

    async def _store(
        self,
        feed_id: int,
        result: FetchResult,
        parsed: ParsedFeed | None,
        digest: str | None,
        first_polled: bool,
        report: TickReport,
    ) -> None:
        now = self.clock()
        next_check = now + timedelta(seconds=self.interval)
        async with self.store.write() as session:
            new = []
            alerts = []
            if parsed is not None:
                new = await db.insert_new_articles(session, feed_id, parsed.entries, now)
                if first_polled and new:
                    found = match(new, self.index)
                    receptive = await db.receptive_chats(session, (a.chat_id for a in found))
                    alerts = [a for a in found if a.chat_id in receptive]
                    await db.enqueue_alerts(session, alerts, now)
            await db.record_feed_success(
                session,
                feed_id,
                now=now,
                next_check_at=next_check,
                etag=result.etag,
                last_modified=result.last_modified,
                body_sha256=digest,
                title=parsed.title if parsed else None,
                url=result.moved_to,
            )
        report.new_articles += len(new)
        report.alerts += len(alerts)
        logger.info(
            "feed polled feed_id=%s status=%s new=%d alerts=%d baseline=%s",
            feed_id,
            result.status,
            len(new),
            len(alerts),
            not first_polled,
        )

    async def _record_failure(
        self, feed_id: int, url: str, exc: NewsbotError, error_count: int, report: TickReport
    ) -> None:
        now = self.clock()
        retry_after = getattr(exc, "retry_after", None)
        status = getattr(exc, "status", None)
        if retry_after is not None:
            delay = min(max(float(retry_after), self.interval), MAX_RETRY_AFTER)
        else:
            delay = backoff_delay(self.interval, error_count + 1, self.max_backoff, self.rng)
        async with self.store.write() as session:
            await db.record_feed_failure(
                session,
                feed_id,
                now=now,
                error=str(exc),
                next_check_at=now + timedelta(seconds=delay),
                gone=status == 410,
            )
        report.failed += 1
        report.errors[feed_id] = str(exc)
        logger.warning(
            "feed failed feed_id=%s url=%s error=%s retry_in=%.0fs", feed_id, redact(url), exc, delay
        )

    async def add_feed(self, url: str, name: str | None) -> tuple[db.Feed, bool, int]:
        """Validate a URL by fetching it once; store the feed and its items as a baseline.

        Returns (feed, created, item count). Raises FetchError / ParseError with a short reason.
        """
        url = normalize_feed_url(url)
        async with self.store.read() as session:
            existing = await db.feed_by_url(session, url)
        if existing is not None and existing.state == "active":
            return existing, False, 0
        result = await feeds.fetch(self.http, url, self.limits)
        if result.not_modified:
            raise FetchError("the server sent no content")
        parsed = await feeds.parse(result.body, url=result.url, headers=result.headers, now=self.clock())
        now = self.clock()
        async with self.store.write() as session:
            feed, created = await db.add_feed(session, result.moved_to or url, name, now)
            if created:
                await db.insert_new_articles(session, feed.id, parsed.entries, now)
                await db.record_feed_success(
                    session,
                    feed.id,
                    now=now,
                    next_check_at=now + timedelta(seconds=self.interval),
                    etag=result.etag,
                    last_modified=result.last_modified,
                    body_sha256=hashlib.sha256(result.body).hexdigest(),
                    title=parsed.title,
                )
                await session.refresh(feed)
        logger.info("feed added feed_id=%s url=%s items=%d", feed.id, redact(feed.url), len(parsed.entries))
        return feed, created, len(parsed.entries)
