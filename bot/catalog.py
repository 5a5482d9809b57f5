"""The feed list as a whole: OPML import and export, for chat commands and the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from bot import db
from bot.domain import NewsbotError
from bot.opml import build_opml, parse_opml
from bot.urls import check_host_literal, normalize_feed_url, redact


@dataclass(slots=True)
class ImportReport:
    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (redacted url, reason)


async def import_opml(store: db.Store, data: bytes, *, allow_private: bool, now: datetime) -> ImportReport:
    """Add every feed an OPML file lists; each is polled (as a baseline first) at the next tick."""
    listed = parse_opml(data)  # ParseError for a file that is not OPML
    report = ImportReport()
    async with store.write() as session:
        for item in listed:
            try:
                url = normalize_feed_url(item.url)
                check_host_literal(urlsplit(url).hostname or "", allow_private)
            except NewsbotError as exc:
                report.refused.append((redact(item.url)[:200], str(exc)))
                continue
            _, created = await db.add_feed(session, url, (item.title or "").strip()[:200] or None, now)
            (report.added if created else report.present).append(redact(url))
    return report


async def export_opml(store: db.Store, *, whole: bool = False) -> bytes:
    """Every active feed as an OPML document; credentials in URLs are left out unless whole
    (an admin's backup from the chat keeps each URL as it is)."""
    async with store.read() as session:
        feeds = await db.list_feeds(session)
    return build_opml(((f.url, f.display_name) for f in feeds), keep_credentials=whole)
