"""Telegram HTML for alerts and command replies. Pure.

Every string that came from a feed or a user is escaped here and only here; only our
own <b>, <i> and <a href> tags reach Telegram. Budgets are applied to plain text
before escaping, so an entity is never cut.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from bot.i18n import Translator
from bot.text import summarize
from bot.urlguard import redact

MAX_MESSAGE = 4096
TITLE_BUDGET = 300
SUMMARY_BUDGET = 300
TERMS_BUDGET = 200
SNIPPET_BUDGET = 200


def esc(text: str) -> str:
    """Escape plain text for Telegram HTML."""
    return html.escape(text, quote=True)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Cut plain text to at most `limit` characters, at a word boundary where possible."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def safe_link(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) link without credentials, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return url


@dataclass(frozen=True, slots=True)
class AlertView:
    """What an alert shows, all plain text."""

    title: str
    link: str | None
    feed_name: str
    published: datetime
    summary: str
    terms: Sequence[str]
    snippet: Sequence[tuple[str, bool]] = ()  # (text, is a matched term) pieces of one sentence


def _alert_parts(view: AlertView, tr: Translator) -> tuple[str, str, str, str]:
    title = clip(view.title or tr("(untitled)"), TITLE_BUDGET)
    meta = f"{clip(view.feed_name, 100)} · {view.published:%Y-%m-%d %H:%M} UTC"
    budget = SUMMARY_BUDGET - (150 if view.snippet else 0)
    summary = summarize(view.summary, budget) if view.summary else ""
    terms = clip(", ".join(view.terms), TERMS_BUDGET)
    return title, meta, summary, terms


def _snippet_pieces(view: AlertView) -> list[tuple[str, bool]]:
    """The snippet cut to its budget, piece by piece, so a cut never splits an entity."""
    pieces: list[tuple[str, bool]] = []
    left = SNIPPET_BUDGET
    for text, hit in view.snippet:
        if left <= 0:
            break
        piece = text[:left]
        pieces.append((piece, hit))
        left -= len(piece)
    return pieces


def alert_html(tr: Translator, view: AlertView) -> str:
    """The alert as Telegram HTML: linked bold title, feed and time, snippet, summary, matched terms."""
    title, meta, summary, terms = _alert_parts(view, tr)
    link = safe_link(view.link)
    head = f'<b><a href="{esc(link)}">{esc(title)}</a></b>' if link else f"<b>{esc(title)}</b>"
    lines = [head, f"<i>{esc(meta)}</i>"]
    pieces = _snippet_pieces(view)
    if pieces:
        lines += ["", "» " + "".join(f"<b>{esc(t)}</b>" if hit else esc(t) for t, hit in pieces)]
    if summary:
        lines += ["", esc(summary)]
    lines += ["", tr("🔎 Matched: {terms}", terms=f"<b>{esc(terms)}</b>")]
    return "\n".join(lines)


def alert_plain(tr: Translator, view: AlertView) -> str:
    """The same alert as plain text, for the fallback after a parse error."""
    title, meta, summary, terms = _alert_parts(view, tr)
    lines = [title]
    link = safe_link(view.link)
    if link:
        lines.append(link)
    lines.append(meta)
    pieces = _snippet_pieces(view)
    if pieces:
        lines += ["", "» " + "".join(t for t, _ in pieces)]
    if summary:
        lines += ["", summary]
    lines += ["", tr("🔎 Matched: {terms}", terms=terms)]
    return "\n".join(lines)


def split_message(lines: Sequence[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join lines into as few messages as fit within `limit` (UTF-16 units), on line boundaries."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        n = utf16_len(line) + 1
        if current and size + n > limit:
            messages.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += n
    if current:
        messages.append("\n".join(current))
    return messages


# --- command replies ---------------------------------------------------------


def N_(message: str) -> str:
    """Marks a source string for the catalogs; it is translated where it is shown."""
    return message


USER_COMMANDS = [
    ("/subscribe QUERY", N_("get an alert for every new article that matches")),
    ("/unsubscribe ID | QUERY | all", N_("remove subscriptions")),
    ("/list", N_("this chat's subscriptions")),
    ("/latest [N] [QUERY]", N_("the newest headlines")),
    ("/search QUERY", N_("search stored articles")),
    ("/feeds", N_("the feed sources")),
    ("/pause, /resume", N_("stop or restart alerts for this chat")),
    ("/lang en|zh", N_("reply language")),
    ("/help", N_("this message")),
]
ADMIN_COMMANDS = [
    ("/addfeed URL [NAME]", N_("add a feed (fetched once to check it)")),
    ("/removefeed ID|URL", N_("remove a feed")),
    ("/stats", N_("counts of chats, feeds, articles and alerts")),
    ("/export", N_("the feed list as an OPML file")),
    ("/import", N_("add the feeds of an OPML file (send it with this caption)")),
]
COMMAND_MENU = {
    "start": N_("start and show help"),
    "help": N_("commands and query syntax"),
    "subscribe": N_("alerts for a query"),
    "unsubscribe": N_("remove subscriptions"),
    "list": N_("this chat's subscriptions"),
    "latest": N_("the newest headlines"),
    "search": N_("search stored articles"),
    "feeds": N_("the feed sources"),
    "pause": N_("stop alerts for this chat"),
    "resume": N_("restart alerts for this chat"),
    "lang": N_("reply language: en or zh"),
    "addfeed": N_("add a feed"),
    "removefeed": N_("remove a feed"),
    "stats": N_("counts of chats, feeds, articles and alerts"),
    "export": N_("the feed list as OPML"),
    "import": N_("add feeds from an OPML file"),
}


def help_text(tr: Translator, *, admin: bool, query_help: str, welcome: bool = False) -> str:
    """The command list and the query syntax."""
    lines = []
    if welcome:
        lines += [
            tr(
                "👋 <b>newsbot</b> sends an alert when a news feed publishes an article "
                "that matches your keywords."
            ),
            "",
        ]
    lines.append(tr("<b>Commands</b>"))
    lines += [f"{esc(cmd)} — {esc(tr(what))}" for cmd, what in USER_COMMANDS]
    if admin:
        lines += ["", tr("<b>Admin commands</b>")]
        lines += [f"{esc(cmd)} — {esc(tr(what))}" for cmd, what in ADMIN_COMMANDS]
    lines += ["", tr("<b>Queries</b>"), esc(query_help)]
    return "\n".join(lines)


def headline_line(article: ArticleLike, feed_name: str, now: datetime, tr: Translator) -> str:
    title = esc(clip(article.title or tr("(untitled)"), 200))
    link = safe_link(article.link)
    head = f'<a href="{esc(link)}">{title}</a>' if link else title
    return f"• {head}\n  <i>{esc(clip(feed_name, 60))} · {age(article.published, now, tr)}</i>"


def subscribed(
    tr: Translator,
    sub_id: int,
    query: str,
    *,
    created: bool,
    matches_7d: int,
    recent: Sequence[tuple[ArticleLike, str]],
    now: datetime,
) -> str:
    """The reply to /subscribe, with a backtest over the last week."""
    shown = esc(clip(query, 200))
    if not created:
        return tr("You already have this subscription: #{id} <b>{query}</b>", id=sub_id, query=shown)
    lines = [tr("✅ Subscribed #{id}: <b>{query}</b>", id=sub_id, query=shown), ""]
    lines.append(tr("Stored articles of the last 7 days it would have matched: {n}", n=matches_7d))
    if recent:
        lines.append(tr("The newest:"))
        lines += [headline_line(a, name, now, tr) for a, name in recent]
    elif matches_7d == 0:
        lines.append(tr("Nothing yet: alerts come as soon as a feed publishes a match."))
    return "\n".join(lines)


def unsubscribed(tr: Translator, removed: Sequence[tuple[int, str]], asked: str) -> str:
    if not removed:
        return tr("No subscription matches “{asked}”. See /list.", asked=esc(clip(asked, 100)))
    if len(removed) == 1:
        sub_id, query = removed[0]
        return tr("🗑 Removed #{id}: <b>{query}</b>", id=sub_id, query=esc(clip(query, 200)))
    return tr("🗑 Removed {n} subscriptions.", n=len(removed))


def subscription_list(tr: Translator, subs: Sequence[tuple[int, str, bool]], *, paused: bool) -> list[str]:
    """Each subscription with its id (and whether it is muted), split to fit."""
    if not subs:
        return [tr("No subscriptions yet. Add one with /subscribe QUERY.")]
    head = tr("<b>Your subscriptions</b>")
    if paused:
        head += " " + tr("(alerts paused: /resume)")
    lines = [head]
    for sub_id, query, muted in subs:
        line = f"#{sub_id} {esc(clip(query, 200))}"
        lines.append(line + (" " + tr("(muted)") if muted else ""))
    return split_message(lines)


def paused_text(tr: Translator, paused: bool) -> str:
    if paused:
        return tr("⏸ Alerts paused for this chat. /resume to restart them.")
    return tr("▶️ Alerts resumed. Articles published while paused are not sent.")


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
    """Feeds with id, name and URL (credentials removed); admins also see health."""
    if not feeds:
        return [tr("No feeds yet.") + (" " + tr("Add one with /addfeed URL.") if admin else "")]
    lines = [tr("<b>Feeds</b>")]
    for f in feeds:
        line = f"#{f.id} <b>{esc(clip(f.display_name, 100))}</b> — {esc(clip(redact(f.url), 300))}"
        if admin:
            if f.state == "gone":
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


class ArticleLike(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def link(self) -> str | None: ...
    @property
    def published(self) -> datetime: ...


def age(when: datetime, now: datetime, tr: Translator) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    if seconds >= 86400:
        return tr("{n} d ago", n=seconds // 86400)
    if seconds >= 3600:
        return tr("{n} h ago", n=seconds // 3600)
    if seconds >= 60:
        return tr("{n} min ago", n=seconds // 60)
    return tr("just now")


def headlines(tr: Translator, rows: Sequence[tuple[ArticleLike, str]], now: datetime, *, title: str) -> str:
    """One page of linked titles with feed and age; the caller keeps pages short enough to fit."""
    if not rows:
        return tr("No stored articles match.")
    return "\n".join([title] + [headline_line(a, name, now, tr) for a, name in rows])


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
    failed = d.get("failed", 0) + d.get("dropped", 0) + d.get("uncertain", 0)
    return "\n".join(
        [
            tr("<b>Statistics</b>"),
            tr("Chats: {active} active, {paused} paused, {blocked} blocked", **s.chats),
            tr("Subscriptions: {n}", n=s.subscriptions),
            tr("Feeds: {healthy} healthy, {failing} failing, {gone} gone", **s.feeds),
            tr("Articles stored: {n}", n=s.articles),
            tr(
                "Alerts in the last 24 h: {sent} sent, {pending} pending, {failed} failed",
                sent=d.get("sent", 0),
                pending=d.get("pending", 0) + d.get("sending", 0),
                failed=failed,
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
