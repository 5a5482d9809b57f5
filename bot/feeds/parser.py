"""Parsing a feed's bytes (RSS, Atom, RDF, JSON Feed) into EntryDrafts with stable keys."""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import feedparser  # type: ignore[import-untyped, unused-ignore]

from bot.domain import EntryDraft, ParsedFeed, ParseError
from bot.feeds.fetcher import _DIGITS
from bot.text import clean_text, clean_title, summarize
from bot.urls import canonical_link, without_credentials

# Stored text per entry: far more than any alert shows, enough for matching, bounded for the database.
MAX_TITLE_CHARS = 1_000


MAX_SUMMARY_CHARS = 20_000


MAX_CONTENT_CHARS = 100_000


MAX_AUTHOR_CHARS = 300


_FUTURE_SLACK = timedelta(days=1)


_JSONFEED_VERSIONS = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


_URL_SAFE = "/%:@!$&'()*+,;=-._~?#"


_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16le"), (b"\xfe\xff", "utf-16be"))


_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


_ENTITY_DECL = re.compile(rb"<!ENTITY\b[^>]*>", re.IGNORECASE)


# "2020/1/10 14:23:00", "2017-2-14 00:12 +8": numeric dates that feedparser misreads (as 1 Nov).
_NUMERIC_DATE = re.compile(
    r"\s*(\d{4})([/-])(\d{1,2})\2(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*(?:(Z|UTC|GMT)|([+-])(\d{1,2})(?::?(\d{2}))?)?\s*",
    re.IGNORECASE,
)


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
    body = _defuse_entities(body)
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
        content = (e.get("content") or [{}])[0]
        link = _absolute_link(e.get("link"), base)
        items.append(
            _item(
                now,
                guid=str(e.get("id") or ""),
                raw_text=f"{e.get('title', '')}\n{e.get('summary', '')}",
                key_link=_key_link(e.get("link"), link),
                title=_field(e.get("title"), e.get("title_detail"), atom, limit=MAX_TITLE_CHARS, title=True),
                link=link or _alternate_link(e.get("links"), base),
                published=_entry_date(e),
                summary=_field(
                    e.get("summary") or e.get("description"),
                    e.get("summary_detail"),
                    atom,
                    limit=MAX_SUMMARY_CHARS,
                ),
                content=_field(content.get("value"), content, atom, limit=MAX_CONTENT_CHARS),
                author=clean_title(e.get("author"), limit=MAX_AUTHOR_CHARS),
            )
        )
    title = _field(
        doc.feed.get("title"), doc.feed.get("title_detail"), atom, limit=MAX_TITLE_CHARS, title=True
    )
    return ParsedFeed(
        title=title, entries=_with_keys(items), bozo=bool(doc.get("bozo")), ttl_seconds=_ttl(doc.feed)
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


# (GUID, raw title + summary, link for the key, draft without its key): raw_text is the identity
# of last resort, taken before our cleaning so that changes to the cleaning never change keys;
# the key's link is the one keys were first computed from, even where a better link is shown.
_Item = tuple[str, str, str | None, EntryDraft]


def _item(
    now: datetime,
    *,
    guid: str,
    raw_text: str,
    key_link: str | None,
    published: datetime | None,
    **fields: Any,
) -> _Item | None:
    if not (fields["title"] or fields["link"] or fields["summary"] or fields["content"]):
        return None  # e.g. an empty <item/> nested in a real one: nothing to show or match
    published = published if published is not None and published <= now + _FUTURE_SLACK else now
    title = fields.pop("title") or clean_title(summarize(fields["summary"] or fields["content"], 80))
    link = fields["link"]
    draft = EntryDraft(
        key="",
        title=title or "(untitled)",
        published=published,
        guid=_CONTROL.sub(" ", guid).strip() or None,
        canonical_link=canonical_link(link) if link else None,
        **fields,
    )
    return guid.strip(), raw_text, key_link, draft


def _field(value: Any, detail: Any, atom: bool, *, limit: int, title: bool = False) -> str:
    # Atom says when a field is plain text; RSS titles are HTML in practice whatever feedparser guesses.
    plain = atom and isinstance(detail, Mapping) and detail.get("type") == "text/plain"
    text = value if isinstance(value, str) else ""
    clean = clean_title if title else clean_text
    return clean(text, html=not plain, limit=limit)


def _struct_time(value: Any) -> datetime | None:
    try:
        return datetime(*value[:6]).replace(tzinfo=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def _bom_charset(body: bytes, content_type: str) -> str:
    """Content-Type naming the charset of a byte-order mark, which outranks any declaration
    (feedparser would let a conflicting encoding="..." win and garble the text)."""
    for bom, charset in _BOMS:
        if body.startswith(bom):
            return f"{content_type.partition(';')[0].strip() or 'application/xml'}; charset={charset}"
    return content_type


def _defuse_entities(body: bytes) -> bytes:
    """Drop <!ENTITY> declarations from the prolog. feedparser removes them only at the start of
    a line; declared on one line, nested entities reach expat and expand (to its amplification
    limit: ~1 s and a million callbacks). Undeclared references then stay literal text."""
    first_element = _FIRST_ELEMENT.search(body)
    end = first_element.start() if first_element else len(body)
    if b"<!ENTITY" not in body[:end].upper():
        return body
    return _ENTITY_DECL.sub(b"", body[:end]) + body[end:]


def _entry_date(e: Any) -> datetime | None:
    # dict.get: FeedParserDict warns when "updated" silently falls back to "published"
    raw = dict.get(e, "published") or dict.get(e, "updated")
    if isinstance(raw, str) and _NUMERIC_DATE.fullmatch(raw):
        return _numeric_date(raw)  # feedparser reads these as 1 November; invalid ones are no date
    return _struct_time(dict.get(e, "published_parsed")) or _struct_time(dict.get(e, "updated_parsed"))


def _numeric_date(value: Any) -> datetime | None:
    """Y/M/D or Y-M-D dates with optional time and offset (UTC when none is given)."""
    match = _NUMERIC_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, _, month, day, hour, minute, second, _, sign, off_h, off_m = match.groups()
    try:
        offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        zone = timezone(-offset if sign == "-" else offset)
        when = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=zone
        )
    except ValueError:
        return None
    return when.astimezone(UTC)


def _absolute_link(value: Any, base: str) -> str | None:
    """Absolute http(s) link resolved against base, or None (javascript:, data:, garbage)."""
    raw = _CONTROL.sub("", value) if isinstance(value, str) else ""
    try:
        parts = urlsplit(urljoin(base, raw)) if raw else None
        host = parts.hostname if parts else None
    except ValueError:
        return None
    if parts is None or not host or parts.scheme.lower() not in ("http", "https"):
        return None
    netloc = parts.netloc.rpartition("@")[2].lower()  # no credentials in links we show
    path, query, fragment = (quote(p, safe=_URL_SAFE) for p in parts[2:5])
    return urlunsplit((parts.scheme.lower(), netloc, path or "/", query, fragment))


def _key_link(raw: Any, link: str | None) -> str | None:
    """The link as identity: absolute links as resolved, relative ones as written, so that
    keys never depend on the feed's own URL (a moved feed keeps its articles)."""
    text = _CONTROL.sub("", raw) if isinstance(raw, str) else ""
    if link is None or not text:
        return None
    return link if urlsplit(text).scheme else f"relative:{text}"


def _alternate_link(links: Any, base: str) -> str | None:
    """The first usable rel="alternate" href, for entries whose main link is not http(s)."""
    for candidate in links if isinstance(links, list) else []:
        if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
            link = _absolute_link(candidate.get("href"), base)
            if link:
                return link
    return None


def _with_keys(items: list[_Item | None]) -> list[EntryDraft]:
    """Keys = sha256 of the GUID, else the link, else title + summary; repeats disambiguated (miniflux)."""
    rows = [item for item in items if item is not None]
    guids = Counter(guid for guid, _, _, _ in rows if guid)
    links = Counter(link for guid, _, link, _ in rows if not guid and link)
    idents = []
    for i, (guid, raw, link, _) in enumerate(rows):
        if guid:
            idents.append(guid if guids[guid] == 1 else f"{guid}|{link or i}")
        elif link:
            idents.append(link if links[link] == 1 else f"{link}|{raw}")
        else:
            idents.append(raw)
    counts = Counter(idents)
    for i, (guid, raw, link, _) in enumerate(rows):
        if counts[idents[i]] > 1:  # same GUID and link, or identical items: position decides
            idents[i] = f"{guid or link or raw}|{i}"
    counts = Counter(idents)
    idents = [x if counts[x] == 1 else f"{x}|#{i}" for i, x in enumerate(idents)]
    return [
        replace(d, key=hashlib.sha256(x.encode("utf-8", "surrogatepass")).hexdigest())
        for x, (_, _, _, d) in zip(idents, rows, strict=True)
    ]


def _parse_json_feed(body: bytes, base: str, now: datetime) -> ParsedFeed:
    try:
        doc = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError):
        raise ParseError("not a feed") from None
    doc = doc if isinstance(doc, dict) else {}
    version, items = doc.get("version"), doc.get("items")
    if not isinstance(version, str) or not version.startswith(_JSONFEED_VERSIONS):
        raise ParseError("not a feed")  # e.g. RSS rendered as a JSON tree
    rows = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        guid, authors = item.get("id"), item.get("authors") or [item.get("author")]
        author = authors[0] if isinstance(authors, list) and authors else None
        content = clean_text(_str(item.get("content_html")), limit=MAX_CONTENT_CHARS) or _json_text(
            item.get("content_text"), limit=MAX_CONTENT_CHARS
        )
        link = _absolute_link(item.get("url"), base) or _absolute_link(item.get("external_url"), base)
        rows.append(
            _item(
                now,
                guid=str(guid) if isinstance(guid, str | int) else "",
                raw_text=f"{_str(item.get('title'))}\n{_str(item.get('summary'))}",
                key_link=_key_link(item.get("url"), link) or _key_link(item.get("external_url"), link),
                title=_json_text(item.get("title"), limit=MAX_TITLE_CHARS, title=True),
                link=link,
                published=_iso_date(item.get("date_published")) or _iso_date(item.get("date_modified")),
                summary=_json_text(item.get("summary"), limit=MAX_SUMMARY_CHARS)
                or content[:MAX_SUMMARY_CHARS],
                content=content,
                author=_json_text(author.get("name"), limit=MAX_AUTHOR_CHARS, title=True)
                if isinstance(author, dict)
                else "",
            )
        )
    title = _json_text(doc.get("title"), limit=MAX_TITLE_CHARS, title=True)
    return ParsedFeed(title=title, entries=_with_keys(rows))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_text(value: Any, *, limit: int, title: bool = False) -> str:
    # JSON Feed text is plain, but publishers often leave HTML entities in it ("&amp;", "&#8216;").
    text = html.unescape(_str(value))
    return clean_title(text, html=False, limit=limit) if title else clean_text(text, html=False, limit=limit)


def _iso_date(value: Any) -> datetime | None:
    text = _str(value).strip()
    for read in (datetime.fromisoformat, parsedate_to_datetime):  # RFC 3339, then RFC 822 as seen
        try:
            when = read(text)
        except (TypeError, ValueError, IndexError):
            continue
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return None
