"""Telegram HTML for alerts and command replies. Pure.

Every string that came from a feed or a user is escaped here and only here; only our
own <b>, <i> and <a href> tags reach Telegram. Budgets are applied to plain text
before escaping, so an entity is never cut.
"""

from __future__ import annotations

from bot.render.alerts import (
    SNIPPET_BUDGET,
    SUMMARY_BUDGET,
    TERMS_BUDGET,
    TITLE_BUDGET,
    AlertView,
    alert_html,
    alert_plain,
)
from bot.render.markup import MAX_MESSAGE, N_, clip, esc, safe_link, split_message, utf16_len
from bot.render.replies import (
    ArticleLike,
    age,
    headline_line,
    headlines,
    help_text,
    paused_text,
    subscribed,
    subscription_list,
    unsubscribed,
)
from bot.render.reports import (
    FeedLike,
    ImportLike,
    NoticeLike,
    StatsLike,
    feed_added,
    feed_list,
    import_report,
    notice_text,
    stats_text,
)

__all__ = [
    "MAX_MESSAGE",
    "N_",
    "SNIPPET_BUDGET",
    "SUMMARY_BUDGET",
    "TERMS_BUDGET",
    "TITLE_BUDGET",
    "AlertView",
    "ArticleLike",
    "FeedLike",
    "ImportLike",
    "NoticeLike",
    "StatsLike",
    "age",
    "alert_html",
    "alert_plain",
    "clip",
    "esc",
    "feed_added",
    "feed_list",
    "headline_line",
    "headlines",
    "help_text",
    "import_report",
    "notice_text",
    "paused_text",
    "safe_link",
    "split_message",
    "stats_text",
    "subscribed",
    "subscription_list",
    "unsubscribed",
    "utf16_len",
]
