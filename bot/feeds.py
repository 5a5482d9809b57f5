"""Talking to publishers: bounded, address-guarded HTTP fetches and feed parsing into EntryDraft."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import io
import ipaddress
import json
import logging
import re
import socket
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import aiohttp
import feedparser  # type: ignore[import-untyped, unused-ignore]

from bot import urlguard
from bot.domain import EntryDraft, FetchError, FetchResult, ParsedFeed, ParseError
from bot.text import clean_text, clean_title, summarize
from bot.urlguard import canonical_link, redact

logger = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_CHUNK = 64 * 1024
MAX_RETRY_AFTER = 24 * 3600.0
MAX_CONNECTIONS = 32
# Stored text per entry: far more than any alert shows, enough for matching, bounded for the database.
MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 20_000
MAX_CONTENT_CHARS = 100_000
MAX_AUTHOR_CHARS = 300
_FUTURE_SLACK = timedelta(days=1)
_ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.8"
_JSONFEED_VERSIONS = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
_URL_SAFE = "/%:@!$&'()*+,;=-._~?#"
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_DIGITS = re.compile(r"[0-9]{1,10}")
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
# aiohttp failures in the order they are checked; messages never carry URLs or bodies.
_CLIENT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (aiohttp.ClientConnectorDNSError, "connection failed: DNS lookup failed"),
    (aiohttp.ClientSSLError, "connection failed: TLS error"),
    (aiohttp.ServerDisconnectedError, "connection failed: server disconnected"),
    (aiohttp.ClientPayloadError, "connection failed: broken body"),
    (aiohttp.InvalidURL, "refused: not a URL"),
    (aiohttp.ClientResponseError, "connection failed: invalid HTTP response"),
)


@dataclass(frozen=True)
class FetchLimits:
    """Bounds for one fetch (RELIABILITY rule 6)."""

    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    max_body_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False
    per_host: int = 4  # connections to one host at a time, however many of its feeds are due
    user_agent: str = "newsbot/0.1 (+https://github.com/newsbot)"


class HttpStatusError(FetchError):
    """The publisher answered with an error status; retry_after is in seconds when given."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def make_http_session(limits: FetchLimits) -> aiohttp.ClientSession:
    """The one shared publisher session; call inside the running loop, close at shutdown."""
    connector = aiohttp.TCPConnector(
        resolver=urlguard.GuardedResolver(limits.allow_private),
        limit=MAX_CONNECTIONS,
        limit_per_host=limits.per_host,
        # Each new connection resolves in its fetch's own context, so the resolver sees
        # urlguard.public_only; a cached answer would skip that check.
        use_dns_cache=False,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=limits.total_timeout, sock_connect=limits.connect_timeout),
        trust_env=False,  # no proxy or netrc from the environment
        cookie_jar=aiohttp.DummyCookieJar(),  # one publisher's cookies are no business of another's
        auto_decompress=True,
        headers={"User-Agent": limits.user_agent},
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped at 24 h."""
    value = (value or "").strip()
    if re.fullmatch(r"[0-9]{1,15}", value):
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() - now.timestamp()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def parse_cache_control(value: str | None, age: str | None = None) -> float | None:
    """Seconds a response stays fresh from Cache-Control (s-maxage, else max-age) less its Age;
    None without a lifetime or with no-store / no-cache (then only the poll interval counts)."""
    directives: dict[str, str] = {}
    for part in (value or "").split(","):
        name, _, arg = part.partition("=")
        directives.setdefault(name.strip().lower(), arg.strip().strip('"'))
    if "no-store" in directives or "no-cache" in directives:
        return None
    for name in ("s-maxage", "max-age"):  # one bot serves many readers: the shared-cache rule wins
        seconds = directives.get(name)
        if seconds is not None and _DIGITS.fullmatch(seconds):
            elapsed = float(age) if age and _DIGITS.fullmatch(age.strip()) else 0.0
            return max(float(seconds) - elapsed, 0.0)
    return None


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    limits: FetchLimits,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """GET a feed with conditional headers, following at most max_redirects checked redirects."""
    token = urlguard.public_only.set(False)
    try:
        async with asyncio.timeout(limits.total_timeout):
            result = await _follow(session, url, limits, etag, last_modified)
    except TimeoutError:
        logger.info("feed fetch timed out url=%s", redact(url))
        raise FetchError("timeout") from None
    finally:
        urlguard.public_only.reset(token)
    logger.debug(
        "feed fetched url=%s status=%s bytes=%d", redact(result.url), result.status, len(result.body)
    )
    return result


async def _follow(
    session: aiohttp.ClientSession, url: str, limits: FetchLimits, etag: str | None, modified: str | None
) -> FetchResult:
    current = urlguard.normalize_feed_url(url)
    headers = {"User-Agent": limits.user_agent, "Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    seen = {current}
    permanent = True
    while True:
        # Literal IP hosts never reach the resolver, so every hop is checked here.
        allow_private = limits.allow_private and not urlguard.public_only.get()
        urlguard.check_host_literal(urlsplit(current).hostname or "", allow_private)
        with _client_errors():
            async with session.get(current, headers=headers, allow_redirects=False) as resp:
                if resp.status not in _REDIRECTS:
                    moved_to = current if len(seen) > 1 and permanent else None
                    return await _result(resp, current, limits, etag, modified, moved_to)
                location = resp.headers.get("Location", "").strip()
        if not location:
            raise HttpStatusError(resp.status)
        # Once a hop was public there is no way back into private networks. Only matters when
        # private targets are allowed at all; otherwise the guard refuses them anyway.
        if allow_private and await _origin_is_public(current):
            urlguard.public_only.set(True)
        target = urlguard.normalize_feed_url(urljoin(current, location))
        permanent = permanent and resp.status in _PERMANENT
        if len(seen) > limits.max_redirects or target in seen:
            raise FetchError("too many redirects")
        logger.debug("feed redirect from=%s to=%s status=%s", redact(current), redact(target), resp.status)
        seen.add(target)
        current = target


async def _origin_is_public(url: str) -> bool:
    """Whether url's host is on a public address; a failed lookup counts as public (stricter)."""
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return True
    return any(urlguard.ip_allowed(ipaddress.ip_address(i[4][0]), allow_private=False) for i in infos)


async def _result(
    resp: aiohttp.ClientResponse,
    url: str,
    limits: FetchLimits,
    etag: str | None,
    modified: str | None,
    moved_to: str | None,
) -> FetchResult:
    headers = {k.lower(): v for k, v in resp.headers.items()}
    new_etag, new_modified = headers.get("etag") or None, headers.get("last-modified") or None
    max_age = parse_cache_control(", ".join(resp.headers.getall("Cache-Control", ())), headers.get("age"))
    unchanged = FetchResult(
        304, url, b"", headers, new_etag or etag, new_modified or modified, moved_to, max_age
    )
    if resp.status == 304:
        return unchanged
    if resp.status >= 400:
        raise HttpStatusError(resp.status, parse_retry_after(headers.get("retry-after"), datetime.now(UTC)))
    if not 200 <= resp.status < 300:
        raise HttpStatusError(resp.status)
    if etag and new_etag == etag:
        return unchanged  # a 200 repeating our ETag is the same document (as miniflux treats it)
    if resp.content_length is not None and resp.content_length > limits.max_body_bytes:
        raise FetchError("too large")
    # Count the decoded stream: a small gzip body can expand a thousandfold.
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        total += len(chunk)
        if total > limits.max_body_bytes:
            resp.close()
            raise FetchError("too large")
        chunks.append(chunk)
    if not total:
        return unchanged  # an empty 200 means "nothing new" (RSStT), not a broken feed
    return FetchResult(200, url, b"".join(chunks), headers, new_etag, new_modified, moved_to, max_age)


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """Turn aiohttp errors into short FetchErrors."""
    try:
        yield
    except TimeoutError:
        raise  # fetch() reports every timeout the same way
    except aiohttp.ClientError as exc:
        if isinstance(getattr(exc, "os_error", None), urlguard.AddressRefusedError):
            raise FetchError("refused: private address") from None  # GuardedResolver said no
        for kind, message in _CLIENT_ERRORS:
            if isinstance(exc, kind):
                raise FetchError(message) from None
        if isinstance(exc, aiohttp.ClientConnectorError):
            raise FetchError(f"connection failed: {(exc.strerror or 'error').lower()}") from None
        raise FetchError(f"connection failed: {type(exc).__name__}") from None


def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str], now: datetime) -> ParsedFeed:
    """Parse RSS, Atom, RDF or JSON Feed bytes into entries; ParseError('not a feed') otherwise."""
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    base = redact(url)  # relative links must not inherit the feed URL's credentials
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
