"""Parsing a feed's bytes (RSS, Atom, RDF, JSON Feed) into EntryDrafts with stable keys."""

from __future__ import annotations

import asyncio
import html
import io
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser  # type: ignore[import-untyped, unused-ignore]

from bot.domain import EntryDraft, ParsedFeed, ParseError
from bot.feeds.dates import entry_date, iso_date
from bot.feeds.fetcher import _DIGITS
from bot.feeds.keys import Item, with_keys
from bot.feeds.links import CONTROL, absolute_link, entry_links, keep_link_text, key_link
from bot.text import clean_text, clean_title, is_clearly_html, summarize
from bot.urls import canonical_link, redact, without_credentials

logger = logging.getLogger(__name__)

# Stored text per entry: far more than any alert shows, enough for matching, bounded for the database.
MAX_TITLE_CHARS = 1_000


MAX_SUMMARY_CHARS = 20_000


MAX_CONTENT_CHARS = 100_000


MAX_AUTHOR_CHARS = 300


_FUTURE_SLACK = timedelta(days=1)


_JSONFEED_VERSIONS = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


# UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32le"),
    (b"\x00\x00\xfe\xff", "utf-32be"),
    (b"\xff\xfe", "utf-16le"),
    (b"\xfe\xff", "utf-16be"),
)


_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


_ENTITY_DECL = re.compile(rb"<!ENTITY\b[^>]*>", re.IGNORECASE)
_CHAR_REF = re.compile(rb"&#([xX][0-9A-Fa-f]{1,8}|[0-9]{1,10});")


# sy:updatePeriod (RSS 1.0 syndication module) in seconds; sy:updateFrequency divides it.
_SY_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str], now: datetime) -> ParsedFeed:
    """Parse RSS, Atom, RDF or JSON Feed bytes into entries; ParseError('not a feed') otherwise."""
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    base = without_credentials(url)  # relative links must not inherit the feed URL's credentials
    if body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return _parse_json_feed(body, base, now)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/xml")
    content_type = _bom_charset(body, content_type)
    body = keep_link_text(_defuse_char_refs(_defuse_entities(body)))
    # Bytes in a BytesIO, never a str: feedparser opens a str that looks like a path or URL.
    # No Content-Location: feedparser would resolve GUIDs against it, tying article identity to
    # the feed URL; links are resolved against the URL below instead. HTML sanitizing and URI
    # rewriting are skipped (half the parse time): only plain text is kept.
    doc = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-type": content_type},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not doc.get("version") and not doc.entries:
        raise ParseError("not a feed")
    atom = str(doc.get("version", "")).startswith("atom")
    items = []
    for e in doc.entries:
        items.append(_guarded(url, _xml_item, e, base, atom, now))
    title = _field(
        doc.feed.get("title"), doc.feed.get("title_detail"), atom, limit=MAX_TITLE_CHARS, title=True
    )
    return ParsedFeed(
        title=title, entries=with_keys(items), bozo=bool(doc.get("bozo")), ttl_seconds=_ttl(doc.feed)
    )


def _xml_item(e: Any, base: str, atom: bool, now: datetime) -> Item | None:
    content = (e.get("content") or [{}])[0]
    link, link_for_key = entry_links(e, base)
    return _item(
        now,
        guid=str(e.get("id") or ""),
        raw_text=f"{e.get('title', '')}\n{e.get('summary', '')}",
        key_link=link_for_key,
        title=_field(e.get("title"), e.get("title_detail"), atom, limit=MAX_TITLE_CHARS, title=True),
        link=link,
        published=entry_date(e),
        summary=_field(
            e.get("summary") or e.get("description"),
            e.get("summary_detail"),
            atom,
            limit=MAX_SUMMARY_CHARS,
        ),
        content=_field(content.get("value"), content, atom, limit=MAX_CONTENT_CHARS),
        author=clean_title(e.get("author"), limit=MAX_AUTHOR_CHARS),
    )


async def parse(body: bytes, *, url: str, headers: Mapping[str, str], now: datetime) -> ParsedFeed:
    """parse_feed in a worker thread: parsing costs ~0.5 s per MB and must not block the loop."""
    return await asyncio.to_thread(parse_feed, body, url=url, headers=headers, now=now)


def _ttl(feed: Mapping[str, Any]) -> float | None:
    """RSS <ttl> minutes, else sy:updatePeriod / sy:updateFrequency, in seconds."""
    ttl = str(feed.get("ttl") or "").strip()
    if _DIGITS.fullmatch(ttl) and int(ttl) > 0:
        return int(ttl) * 60.0
    period = _SY_PERIODS.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    frequency = str(feed.get("sy_updatefrequency") or "1").strip()
    if period is None or not _DIGITS.fullmatch(frequency) or int(frequency) < 1:
        return None
    return period / int(frequency)


def _item(
    now: datetime,
    *,
    guid: str,
    raw_text: str,
    key_link: str | None,
    published: datetime | None,
    **fields: Any,
) -> Item | None:
    if not (fields["title"] or fields["link"] or fields["summary"] or fields["content"]):
        return None  # e.g. an empty <item/> nested in a real one: nothing to show or match
    dated = published is not None and published <= now + _FUTURE_SLACK
    published = published if dated and published is not None else now
    title = fields.pop("title") or clean_title(summarize(fields["summary"] or fields["content"], 80))
    link = fields["link"]
    draft = EntryDraft(
        key="",
        title=title or "(untitled)",
        published=published,
        dated=dated,
        guid=CONTROL.sub(" ", guid).strip() or None,
        canonical_link=canonical_link(link) if link else None,
        **fields,
    )
    return guid.strip(), raw_text, key_link, draft


def _field(value: Any, detail: Any, atom: bool, *, limit: int, title: bool = False) -> str:
    # Atom says when a field is plain text. An RSS title is plain text unless it is clearly HTML,
    # whatever feedparser guesses ("The <blink> tag is back"); other RSS fields are HTML.
    text = value if isinstance(value, str) else ""
    if atom:
        html = not (isinstance(detail, Mapping) and detail.get("type") == "text/plain")
    else:
        html = not title or is_clearly_html(text)
    clean = clean_title if title else clean_text
    return clean(text, html=html, limit=limit)


def _bom_charset(body: bytes, content_type: str) -> str:
    """Content-Type naming the charset of a byte-order mark, which outranks any declaration
    (feedparser would let a conflicting encoding="..." win and garble the text)."""
    for bom, charset in _BOMS:
        if body.startswith(bom):
            return f"{content_type.partition(';')[0].strip() or 'application/xml'}; charset={charset}"
    return content_type


def _guarded(url: str, build: Callable[..., Item | None], *args: Any) -> Item | None:
    """One entry, or None when its data breaks a step: one bad item never takes its feed down.

    Every string of the entry must be storable text (a lone surrogate from a JSON escape is not).
    """
    try:
        item = build(*args)
        if item is not None:
            guid, raw_text, key_link_, draft = item
            texts = [getattr(draft, f.name) for f in fields(draft)]
            for text in (guid, raw_text, key_link_ or "", *texts):
                if isinstance(text, str):
                    text.encode("utf-8")
        return item
    except Exception as exc:  # anything one entry's bytes can provoke
        logger.warning("feed item skipped url=%s error=%s: %s", redact(url), type(exc).__name__, exc)
        return None


def _defuse_char_refs(body: bytes) -> bytes:
    """Character references to no character (a lone surrogate, NUL, past U+10FFFF) become U+FFFD:
    feedparser's fallback parser raises on them, which would lose every entry of the feed."""
    if b"&#" not in body:
        return body
    return _CHAR_REF.sub(_char_ref, body)


def _char_ref(m: re.Match[bytes]) -> bytes:
    ref = m.group(1)
    try:
        code = int(ref[1:], 16) if ref[:1] in (b"x", b"X") else int(ref)
    except ValueError:
        return m.group()
    return b"&#xFFFD;" if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else m.group()


def _defuse_entities(body: bytes) -> bytes:
    """Drop <!ENTITY> declarations from the prolog. feedparser removes them only at the start of
    a line; declared on one line, nested entities reach expat and expand (to its amplification
    limit: ~1 s and a million callbacks). Undeclared references then stay literal text."""
    first_element = _FIRST_ELEMENT.search(body)
    end = first_element.start() if first_element else len(body)
    if b"<!ENTITY" not in body[:end].upper():
        return body
    return _ENTITY_DECL.sub(b"", body[:end]) + body[end:]


def _parse_json_feed(body: bytes, base: str, now: datetime) -> ParsedFeed:
    try:
        doc = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError):
        raise ParseError("not a feed") from None
    doc = doc if isinstance(doc, dict) else {}
    version, items = doc.get("version"), doc.get("items")
    if not isinstance(version, str) or not version.startswith(_JSONFEED_VERSIONS):
        raise ParseError("not a feed")  # e.g. RSS rendered as a JSON tree
    entries = items if isinstance(items, list) else []
    rows = [_guarded(base, _json_item, item, base, now) for item in entries]
    title = _json_text(doc.get("title"), limit=MAX_TITLE_CHARS, title=True)
    return ParsedFeed(title=title, entries=with_keys(rows))


def _json_item(item: Any, base: str, now: datetime) -> Item | None:
    if not isinstance(item, dict):
        return None
    guid, authors = item.get("id"), item.get("authors") or [item.get("author")]
    author = authors[0] if isinstance(authors, list) and authors else None
    content = clean_text(_str(item.get("content_html")), limit=MAX_CONTENT_CHARS) or _json_text(
        item.get("content_text"), limit=MAX_CONTENT_CHARS
    )
    link = absolute_link(item.get("url"), base) or absolute_link(item.get("external_url"), base)
    return _item(
        now,
        guid=str(guid) if isinstance(guid, str | int) else "",
        raw_text=f"{_str(item.get('title'))}\n{_str(item.get('summary'))}",
        key_link=key_link(item.get("url"), link) or key_link(item.get("external_url"), link),
        title=_json_text(item.get("title"), limit=MAX_TITLE_CHARS, title=True),
        link=link,
        published=iso_date(item.get("date_published")) or iso_date(item.get("date_modified")),
        summary=_json_text(item.get("summary"), limit=MAX_SUMMARY_CHARS) or content[:MAX_SUMMARY_CHARS],
        content=content,
        author=_json_text(author.get("name"), limit=MAX_AUTHOR_CHARS, title=True)
        if isinstance(author, dict)
        else "",
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_text(value: Any, *, limit: int, title: bool = False) -> str:
    # JSON Feed text is plain, but publishers often leave HTML entities in it ("&amp;", "&#8216;").
    text = html.unescape(_str(value))
    return clean_title(text, html=False, limit=limit) if title else clean_text(text, html=False, limit=limit)
