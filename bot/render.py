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

from bot.text import summarize
from bot.urlguard import redact

MAX_MESSAGE = 4096
TITLE_BUDGET = 300
SUMMARY_BUDGET = 300
TERMS_BUDGET = 200


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


def _alert_parts(view: AlertView) -> tuple[str, str, str, str]:
    title = clip(view.title or "(untitled)", TITLE_BUDGET)
    meta = f"{clip(view.feed_name, 100)} · {view.published:%Y-%m-%d %H:%M} UTC"
    summary = summarize(view.summary, SUMMARY_BUDGET) if view.summary else ""
    terms = clip(", ".join(view.terms), TERMS_BUDGET)
    return title, meta, summary, terms


def alert_html(view: AlertView) -> str:
    """The alert as Telegram HTML: linked bold title, feed and time, summary, matched terms."""
    title, meta, summary, terms = _alert_parts(view)
    link = safe_link(view.link)
    head = f'<b><a href="{esc(link)}">{esc(title)}</a></b>' if link else f"<b>{esc(title)}</b>"
    lines = [head, f"<i>{esc(meta)}</i>"]
    if summary:
        lines += ["", esc(summary)]
    lines += ["", f"🔎 Matched: <b>{esc(terms)}</b>"]
    return "\n".join(lines)


def alert_plain(view: AlertView) -> str:
    """The same alert as plain text, for the fallback after a parse error."""
    title, meta, summary, terms = _alert_parts(view)
    lines = [title]
    link = safe_link(view.link)
    if link:
        lines.append(link)
    lines.append(meta)
    if summary:
        lines += ["", summary]
    lines += ["", f"🔎 Matched: {terms}"]
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

USER_HELP = [
    ("/subscribe QUERY", "get an alert for every new article that matches"),
    ("/unsubscribe ID | QUERY | all", "remove subscriptions"),
    ("/list", "this chat's subscriptions"),
    ("/latest [N]", "the newest headlines"),
    ("/feeds", "the feed sources"),
    ("/pause, /resume", "stop or restart alerts for this chat"),
    ("/help", "this message"),
]
ADMIN_HELP = [("/addfeed URL [NAME]", "add a feed (fetched once to check it)")]


def help_text(admin: bool, welcome: bool = False) -> str:
    """The command list and the query syntax."""
    lines = (
        [
            "👋 <b>newsbot</b> sends you an alert when a news feed publishes an article "
            "that matches your keywords.",
            "",
        ]
        if welcome
        else []
    )
    lines.append("<b>Commands</b>")
    lines += [f"{esc(cmd)} — {esc(what)}" for cmd, what in USER_HELP + (ADMIN_HELP if admin else [])]
    lines += [
        "",
        "<b>Queries</b>",
        "Words match whole words, ignoring case and accents: <code>nato</code> finds “NATO's”, "
        "not “NATOPOLIS”. Chinese, Japanese and Korean terms match anywhere in the text: "
        '<code>乌克兰</code>. Several words must all appear; <code>"climate change"</code> is a phrase; '
        "<code>-sport</code> excludes.",
    ]
    return "\n".join(lines)


def subscribed(sub_id: int, query: str, created: bool) -> str:
    if not created:
        return f"You already have this subscription: #{sub_id} <b>{esc(clip(query, 200))}</b>"
    return f"✅ Subscribed #{sub_id}: <b>{esc(clip(query, 200))}</b>"


def unsubscribed(removed: Sequence[tuple[int, str]], asked: str) -> str:
    if not removed:
        return f"No subscription matches “{esc(clip(asked, 100))}”. See /list."
    if len(removed) == 1:
        sub_id, query = removed[0]
        return f"🗑 Removed #{sub_id}: <b>{esc(clip(query, 200))}</b>"
    return f"🗑 Removed {len(removed)} subscriptions."


def subscription_list(subs: Sequence[tuple[int, str]], *, paused: bool) -> list[str]:
    if not subs:
        return ["No subscriptions yet. Add one with /subscribe QUERY."]
    head = "<b>Your subscriptions</b>" + (" (alerts paused: /resume)" if paused else "")
    return split_message([head] + [f"#{sub_id} {esc(clip(query, 200))}" for sub_id, query in subs])


def paused_text(paused: bool) -> str:
    if paused:
        return "⏸ Alerts paused for this chat. /resume to restart them."
    return "▶️ Alerts resumed. Articles published while paused are not sent."


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
    def next_check_at(self) -> datetime: ...


def _display_url(url: str) -> str:
    return clip(redact(url), 300)


def feed_list(feeds: Sequence[FeedLike], *, admin: bool) -> list[str]:
    """Feeds with id, name and URL; admins also see health."""
    if not feeds:
        return ["No feeds yet." + (" Add one with /addfeed URL." if admin else "")]
    lines = ["<b>Feeds</b>"]
    for f in feeds:
        line = f"#{f.id} <b>{esc(clip(f.display_name, 100))}</b> — {esc(_display_url(f.url))}"
        if admin:
            if f.state == "gone":
                health = "⛔ gone (HTTP 410)"
            elif f.error_count:
                health = f"⚠️ {f.error_count} errors, last: {esc(clip(f.last_error or '', 120))}"
            else:
                health = "✅ ok"
            last = f"{f.last_success_at:%Y-%m-%d %H:%M}" if f.last_success_at else "never"
            line += f"\n    {health}; last success {last}; next check {f.next_check_at:%H:%M} UTC"
        lines.append(line)
    return split_message(lines)


def feed_added(feed: FeedLike, created: bool, items: int) -> str:
    if not created:
        return f"This feed is already added as #{feed.id} <b>{esc(clip(feed.display_name, 100))}</b>."
    return (
        f"✅ Added feed #{feed.id} <b>{esc(clip(feed.display_name, 100))}</b> with {items} items. "
        "Its current items are stored, not alerted."
    )


class ArticleLike(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def link(self) -> str | None: ...
    @property
    def published(self) -> datetime: ...


def age(when: datetime, now: datetime) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def headlines(rows: Sequence[tuple[ArticleLike, str]], now: datetime) -> list[str]:
    """Linked titles with feed and age, split to fit."""
    if not rows:
        return ["No articles stored yet."]
    lines = []
    for article, feed_name in rows:
        title = esc(clip(article.title or "(untitled)", 200))
        link = safe_link(article.link)
        head = f'<a href="{esc(link)}">{title}</a>' if link else title
        lines.append(f"• {head}\n  <i>{esc(clip(feed_name, 60))} · {age(article.published, now)}</i>")
    return split_message(lines)
