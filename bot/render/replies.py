"""Replies to subscriber commands: help, subscriptions, headlines. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.i18n import Translator
from bot.render.markup import clip, esc, safe_link, split_message


def help_text(
    tr: Translator,
    *,
    commands: Sequence[tuple[str, str]],
    admin_commands: Sequence[tuple[str, str]],
    query_help: str,
    welcome: bool = False,
) -> str:
    """The command list, (usage, summary) pairs, and the query syntax."""
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
    lines += [f"{esc(cmd)} — {esc(tr(what))}" for cmd, what in commands]
    if admin_commands:
        lines += ["", tr("<b>Admin commands</b>")]
        lines += [f"{esc(cmd)} — {esc(tr(what))}" for cmd, what in admin_commands]
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
