"""The only code that speaks HTTP to publishers and imports feedparser: fetch, guard, parse."""

from __future__ import annotations

from bot.feeds.fetcher import (
    MAX_CONNECTIONS,
    MAX_RETRY_AFTER,
    FetchLimits,
    HttpStatusError,
    fetch,
    make_http_session,
    parse_cache_control,
    parse_retry_after,
)
from bot.feeds.parser import (
    MAX_AUTHOR_CHARS,
    MAX_CONTENT_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    parse,
    parse_feed,
)

__all__ = [
    "MAX_AUTHOR_CHARS",
    "MAX_CONNECTIONS",
    "MAX_CONTENT_CHARS",
    "MAX_RETRY_AFTER",
    "MAX_SUMMARY_CHARS",
    "MAX_TITLE_CHARS",
    "FetchLimits",
    "HttpStatusError",
    "fetch",
    "make_http_session",
    "parse",
    "parse_cache_control",
    "parse_feed",
    "parse_retry_after",
]
