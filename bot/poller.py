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
from sqlalchemy.ext.asyncio import AsyncSession

from bot import db, feeds
from bot.domain import (
    Alert,
    FeedState,
    FetchError,
    FetchResult,
    NewsbotError,
    Notice,
    ParsedFeed,
    StoredArticle,
)
from bot.matching import match
from bot.subscriptions import Subscriptions
from bot.urls import normalize_feed_url, redact

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 24 * 3600
DUPLICATE_WINDOW = timedelta(days=7)  # how far back the same story from another feed counts


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    """What a poll needs of a feed row, read before the fetch (no session is held across it)."""

    id: int
    url: str
    name: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    first_polled: bool
    error_count: int
    failing_since: datetime | None
    failure_notified: bool

    @classmethod
    def of(cls, f: db.Feed) -> FeedSnapshot:
        return cls(
            f.id,
            f.url,
            f.display_name,
            f.etag,
            f.last_modified,
            f.body_sha256,
            f.first_polled,
            f.error_count,
            f.failing_since,
            f.failure_notified,
        )


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
        subscriptions: Subscriptions,
        *,
        interval: float,
        max_backoff: float,
        concurrency: int,
        max_interval: float | None = None,
        failure_alert_after: int = 5,
        max_new_per_poll: int = 50,
        alert_newest_on_flood: int = 5,
        on_alerts: Callable[[], None] = lambda: None,
        notify: Callable[[Notice], None] = lambda notice: None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.http = http
        self.limits = limits
        self.subscriptions = subscriptions
        self.interval = interval
        self.max_interval = max(max_interval or interval, interval)
        self.max_backoff = max(max_backoff, interval)
        self.failure_alert_after = failure_alert_after
        self.max_new = max_new_per_poll
        self.alert_newest = alert_newest_on_flood
        self.on_alerts = on_alerts
        self.notify = notify
        self.clock = clock
        self.rng = rng or random.Random()
        self._gate = asyncio.Semaphore(concurrency)
        self._tick_lock = asyncio.Lock()

    async def tick(self, *, force: bool = False) -> TickReport:
        """Poll every due feed once (every active one with `force`); a failing feed never stops the rest."""
        async with self._tick_lock:
            await self.subscriptions.catch_up()  # changes another process (or task) logged
            now = self.clock()
            async with self.store.read() as session:
                due = [FeedSnapshot.of(f) for f in await db.due_feeds(session, None if force else now)]
            report = TickReport()
            await asyncio.gather(*(self._poll_guarded(feed, report) for feed in due))
            report.polled = len(due)
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

    async def _poll_guarded(self, feed: FeedSnapshot, report: TickReport) -> None:
        try:
            async with self._gate:
                result = await feeds.fetch(
                    self.http, feed.url, self.limits, etag=feed.etag, last_modified=feed.last_modified
                )
                parsed = None
                digest = hashlib.sha256(result.body).hexdigest() if not result.not_modified else None
                if digest is not None and digest != feed.body_hash:
                    parsed = await feeds.parse(
                        result.body, url=result.url, headers=result.headers, now=self.clock()
                    )
            await self._store(feed, result, parsed, digest, report)
        except NewsbotError as exc:
            await self._record_failure(feed, exc, report)
        except Exception as exc:  # a bug of ours must not stop the other feeds
            logger.exception("feed poll crashed feed_id=%s", feed.id)
            await self._record_failure(feed, FetchError(f"internal error: {type(exc).__name__}"), report)

    def _next_check(self, now: datetime, result: FetchResult, parsed: ParsedFeed | None) -> datetime:
        """The interval, stretched by the feed's own freshness hints up to the max, with ±10 % jitter."""
        hints = [h for h in (result.max_age, parsed.ttl_seconds if parsed else None) if h]
        wait = min(max([self.interval, *hints]), self.max_interval)
        return now + timedelta(seconds=wait * self.rng.uniform(0.9, 1.1))

    async def _store(
        self,
        feed: FeedSnapshot,
        result: FetchResult,
        parsed: ParsedFeed | None,
        digest: str | None,
        report: TickReport,
    ) -> None:
        now = self.clock()
        flood: int | None = None
        async with self.store.write() as session:
            new: list[StoredArticle] = []
            alerts: list[Alert] = []
            if parsed is not None:
                new = await db.insert_new_articles(session, feed.id, parsed.entries, now)
                if feed.first_polled and new:
                    alertable, flood = await self._alertable(session, feed, parsed, new)
                    alerts = await self._alerts_for(session, alertable, now)
                    await db.enqueue_alerts(session, alerts, now)
            await db.record_feed_success(
                session,
                feed.id,
                now=now,
                next_check_at=self._next_check(now, result, parsed),
                etag=result.etag,
                last_modified=result.last_modified,
                body_sha256=digest,
                title=parsed.title if parsed else None,
                url=result.moved_to,
                baseline=parsed is not None,
            )
        report.new_articles += len(new)
        report.alerts += len(alerts)
        if feed.failure_notified:
            self.notify(Notice("recovered", feed.id, feed.name, feed.url, since=feed.failing_since))
        if flood is not None:
            self.notify(Notice("flood", feed.id, feed.name, feed.url, count=flood))
        logger.info(
            "feed polled feed_id=%s status=%s new=%d alerts=%d baseline=%s",
            feed.id,
            result.status,
            len(new),
            len(alerts),
            not feed.first_polled,
        )

    async def _alertable(
        self, session: AsyncSession, feed: FeedSnapshot, parsed: ParsedFeed, new: list[StoredArticle]
    ) -> tuple[list[StoredArticle], int | None]:
        """New rows that really are new stories; at most the newest few when a poll floods."""
        renamed = await db.renamed_links(session, feed.id, new, parsed.entries)
        fresh = [a for a in new if not (a.link_hash and a.link_hash in renamed)]
        if renamed:
            logger.info("feed renamed guids feed_id=%s count=%d", feed.id, len(new) - len(fresh))
        if len(fresh) > self.max_new:
            # Ids grow with recency (articles are stored oldest first), so the highest are the newest.
            newest = sorted(fresh, key=lambda a: a.id)[-self.alert_newest :] if self.alert_newest else []
            logger.warning("feed flooded feed_id=%s new=%d alerted=%d", feed.id, len(fresh), len(newest))
            return newest, len(fresh)
        return fresh, None

    async def _alerts_for(
        self, session: AsyncSession, articles: list[StoredArticle], now: datetime
    ) -> list[Alert]:
        """Matches for chats that want alerts, minus chats that already had the same story elsewhere."""
        found = match(articles, self.subscriptions.index)
        if not found:
            return []
        receptive = await db.receptive_chats(session, (a.chat_id for a in found))
        by_id = {a.id: a for a in articles}
        seen: dict[int, set[int]] = {}
        alerts = []
        for alert in found:
            if alert.chat_id not in receptive:
                continue
            if alert.article_id not in seen:
                seen[alert.article_id] = await db.chats_alerted_for_same_story(
                    session, by_id[alert.article_id], now - DUPLICATE_WINDOW
                )
            if alert.chat_id not in seen[alert.article_id]:
                alerts.append(alert)
        return alerts

    async def _record_failure(self, feed: FeedSnapshot, exc: NewsbotError, report: TickReport) -> None:
        now = self.clock()
        retry_after = getattr(exc, "retry_after", None)
        gone = getattr(exc, "status", None) == 410
        if retry_after is not None:
            delay = min(max(float(retry_after), self.interval), MAX_RETRY_AFTER)
        else:
            delay = backoff_delay(self.interval, feed.error_count + 1, self.max_backoff, self.rng)
        failures = feed.error_count + 1
        since = feed.failing_since or now
        tell = gone or (
            not feed.failure_notified
            and (failures >= self.failure_alert_after or now - since >= timedelta(days=1))
        )
        async with self.store.write() as session:
            await db.record_feed_failure(
                session,
                feed.id,
                now=now,
                error=str(exc),
                next_check_at=now + timedelta(seconds=delay),
                gone=gone,
                notified=tell or feed.failure_notified,
            )
        report.failed += 1
        report.errors[feed.id] = str(exc)
        logger.warning(
            "feed failed feed_id=%s url=%s error=%s retry_in=%.0fs", feed.id, redact(feed.url), exc, delay
        )
        if tell:
            kind = "gone" if gone else "failing"
            self.notify(
                Notice(kind, feed.id, feed.name, feed.url, error=str(exc), since=since, count=failures)
            )

    async def add_feed(self, url: str, name: str | None) -> tuple[db.Feed, bool, int]:
        """Validate a URL by fetching it once; store the feed and its items as a baseline.

        Returns (feed, created, item count). Raises FetchError / ParseError with a short reason.
        """
        url = normalize_feed_url(url)
        async with self.store.read() as session:
            existing = await db.feed_by_url(session, url)
        if existing is not None and existing.state == FeedState.ACTIVE:
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
