"""`newsbot feeds check URL`: fetch and parse one feed and print what the bot would store.

No database and no bot: the tool an admin runs before /addfeed. Uses the same fetch limits,
address guard and parser as the poller, so what passes here passes there.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TextIO

from bot import feeds
from bot.domain import EntryDraft, FetchResult, NewsbotError, ParsedFeed
from bot.text import summarize
from bot.urls import normalize_feed_url, redact

__all__ = ["check_feed"]

SHOWN_ITEMS = 10
SUMMARY_CHARS = 200


async def check_feed(
    url: str, *, allow_private: bool, out: TextIO, limits: feeds.FetchLimits | None = None
) -> int:
    """Fetch and parse url once and print a report; 0 on success, 1 with one error line otherwise."""
    limits = limits or feeds.FetchLimits(allow_private=allow_private)
    try:
        url = normalize_feed_url(url)
        async with feeds.make_http_session(limits) as http:
            result = await feeds.fetch(http, url, limits)
        if result.not_modified:
            raise NewsbotError("the server sent no content")
        now = datetime.now(UTC)
        parsed = await feeds.parse(result.body, url=result.url, headers=result.headers, now=now)
    except NewsbotError as exc:
        out.write(f"error: {exc}\n")
        return 1
    _report(url, result, parsed, out)
    return 0


def _line(out: TextIO, label: str, value: object) -> None:
    out.write(f"{label:<14}{value}\n")


def _report(url: str, result: FetchResult, parsed: ParsedFeed, out: TextIO) -> None:
    _line(out, "feed:", parsed.title or "(no title)")
    _line(out, "url:", redact(result.url))
    if result.moved_to:
        _line(out, "moved:", f"permanently, from {redact(url)}; the bot would store the new URL")
    elif result.url != url:
        _line(out, "redirected:", f"temporarily, from {redact(url)}; the bot keeps the URL you gave")
    content_type = result.headers.get("content-type", "?")
    _line(out, "status:", f"HTTP {result.status}, {len(result.body)} bytes, {content_type}")
    _line(out, "etag:", result.etag or "-")
    _line(out, "last-modified:", result.last_modified or "-")
    _line(out, "sha256:", hashlib.sha256(result.body).hexdigest())
    hints = []
    if result.max_age is not None:
        hints.append(f"Cache-Control {result.max_age:.0f} s")
    if parsed.ttl_seconds is not None:
        hints.append(f"ttl {parsed.ttl_seconds:.0f} s")
    _line(out, "freshness:", ", ".join(hints) or "-")
    if parsed.bozo:
        _line(out, "warning:", "not well-formed; parsed leniently")
    with_links = sum(1 for e in parsed.entries if e.link)
    with_guids = sum(1 for e in parsed.entries if e.guid)
    _line(out, "items:", f"{len(parsed.entries)} ({with_guids} with an id, {with_links} with a link)")
    for i, entry in enumerate(parsed.entries[:SHOWN_ITEMS], 1):
        _entry(out, i, entry)
    if len(parsed.entries) > SHOWN_ITEMS:
        out.write(f"\n… and {len(parsed.entries) - SHOWN_ITEMS} more\n")


def _entry(out: TextIO, number: int, entry: EntryDraft) -> None:
    out.write(f"\n{number:>2}. {summarize(entry.title, 200)}\n")
    _line(out, "    key:", entry.key[:12])
    _line(out, "    link:", entry.link or "-")
    published = entry.published.isoformat(timespec="seconds")
    _line(out, "    published:", published if entry.dated else f"{published} (fetch time: no usable date)")
    summary = summarize(entry.summary or entry.content, SUMMARY_CHARS)
    _line(out, "    summary:", summary.replace("\n", " ") if summary else "-")
