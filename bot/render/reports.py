"""Replies for admins: feeds and their health, stats, notices, import reports. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.domain import DeliveryStatus, FeedState
from bot.i18n import Translator
from bot.render.markup import clip, esc, split_message
from bot.render.replies import age
from bot.urls import public_url, redact


class FeedLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def url(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def error_count(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def last_success_at(self) -> datetime | None: ...
    @property
    def failing_since(self) -> datetime | None: ...
    @property
    def next_check_at(self) -> datetime: ...


def feed_list(tr: Translator, feeds: Sequence[FeedLike], *, admin: bool, now: datetime) -> list[str]:
    """Feeds with id, name and URL: scheme, host and path for everyone; admins also see the
    query's parameter names (values masked) and each feed's health."""
    if not feeds:
        return [tr("No feeds yet.") + (" " + tr("Add one with /addfeed URL.") if admin else "")]
    lines = [tr("<b>Feeds</b>")]
    for f in feeds:
        shown = redact(f.url) if admin else public_url(f.url)
        line = f"#{f.id} <b>{esc(clip(f.display_name, 100))}</b> — {esc(clip(shown, 300))}"
        if admin:
            if f.state == FeedState.GONE:
                health = tr("⛔ gone (HTTP 410): polling stopped")
            elif f.error_count:
                health = tr(
                    "⚠️ {n} errors since {since}, last: {error}",
                    n=f.error_count,
                    since=age(f.failing_since or now, now, tr),
                    error=esc(clip(f.last_error or "", 120)),
                )
            else:
                health = tr("✅ ok")
            last = age(f.last_success_at, now, tr) if f.last_success_at else tr("never")
            line += "\n    " + tr(
                "{health}; last success {last}; next check {next}",
                health=health,
                last=last,
                next=f"{f.next_check_at:%Y-%m-%d %H:%M} UTC",
            )
        lines.append(line)
    return split_message(lines)


def feed_added(tr: Translator, feed: FeedLike, created: bool, items: int) -> str:
    name = esc(clip(feed.display_name, 100))
    if not created:
        return tr("This feed is already added as #{id} <b>{name}</b>.", id=feed.id, name=name)
    return tr(
        "✅ Added feed #{id} <b>{name}</b> with {n} items. Its current items are stored, not alerted.",
        id=feed.id,
        name=name,
        n=items,
    )


class StatsLike(Protocol):
    @property
    def chats(self) -> dict[str, int]: ...
    @property
    def subscriptions(self) -> int: ...
    @property
    def feeds(self) -> dict[str, int]: ...
    @property
    def articles(self) -> int: ...
    @property
    def deliveries_24h(self) -> dict[str, int]: ...


def stats_text(tr: Translator, s: StatsLike) -> str:
    d = s.deliveries_24h
    # Uncertain is not failed: such an alert may well have arrived. It has its own line.
    failed = d.get(DeliveryStatus.FAILED, 0) + d.get(DeliveryStatus.DROPPED, 0)
    return "\n".join(
        [
            tr("<b>Statistics</b>"),
            tr("Chats: {active} active, {paused} paused, {blocked} blocked", **s.chats),
            tr("Subscriptions: {n}", n=s.subscriptions),
            tr("Feeds: {healthy} healthy, {failing} failing, {gone} gone", **s.feeds),
            tr("Articles stored: {n}", n=s.articles),
            tr(
                "Alerts in the last 24 h: {sent} sent, {pending} pending, {failed} failed",
                sent=d.get(DeliveryStatus.SENT, 0),
                pending=d.get(DeliveryStatus.PENDING, 0) + d.get(DeliveryStatus.SENDING, 0),
                failed=failed,
            ),
            tr(
                "Uncertain in the last 24 h: {n} (in flight at a stop: may have arrived, never resent)",
                n=d.get(DeliveryStatus.UNCERTAIN, 0),
            ),
        ]
    )


class NoticeLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def feed_id(self) -> int: ...
    @property
    def feed_name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def error(self) -> str: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def count(self) -> int: ...


def notice_text(tr: Translator, notice: NoticeLike, now: datetime) -> str:
    """A message to the admins about one feed."""
    name = (
        f"#{notice.feed_id} <b>{esc(clip(notice.feed_name, 100))}</b> ({esc(clip(redact(notice.url), 200))})"
    )
    since = age(notice.since or now, now, tr)
    error = esc(clip(notice.error, 200))
    if notice.kind == "gone":
        return tr(
            "⛔ Feed {name} is gone (HTTP 410); polling stopped. /removefeed it or /addfeed it again.",
            name=name,
        )
    if notice.kind == "failing":
        return tr(
            "⚠️ Feed {name} has failed {n} times since {since}: {error}",
            name=name,
            n=notice.count,
            since=since,
            error=error,
        )
    if notice.kind == "recovered":
        return tr("✅ Feed {name} works again (failing since {since}).", name=name, since=since)
    return tr(
        "📰 Feed {name} published {n} new items in one poll; only the newest were alerted.",
        name=name,
        n=notice.count,
    )


class ImportLike(Protocol):
    @property
    def added(self) -> list[str]: ...
    @property
    def present(self) -> list[str]: ...
    @property
    def refused(self) -> list[tuple[str, str]]: ...


def import_report(tr: Translator, report: ImportLike) -> list[str]:
    """Lines saying what an OPML import did with each feed."""
    lines = [
        tr(
            "<b>Import</b>: {added} added, {present} already present, {refused} refused",
            added=len(report.added),
            present=len(report.present),
            refused=len(report.refused),
        )
    ]
    lines += [f"➕ {esc(clip(url, 200))}" for url in report.added[:100]]
    lines += [f"✖ {esc(clip(url, 200))} — {esc(reason)}" for url, reason in report.refused[:100]]
    if report.added:
        lines.append(tr("New feeds are polled at the next check; their current items are not alerted."))
    return lines
