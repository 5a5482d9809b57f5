"""Fetching a feed: conditional GET under the address guard, bounded in time and size, redirects followed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from bot import urls
from bot.domain import FetchError, FetchResult
from bot.feeds import guard
from bot.urls import redact

logger = logging.getLogger(__name__)


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


_PERMANENT = frozenset({301, 308})


_CHUNK = 64 * 1024


MAX_RETRY_AFTER = 24 * 3600.0


MAX_CONNECTIONS = 32


_ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.8"


_DIGITS = re.compile(r"[0-9]{1,10}")


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


def make_http_session(limits: FetchLimits, resolver: AbstractResolver | None = None) -> aiohttp.ClientSession:
    """The one shared publisher session; call inside the running loop, close at shutdown.
    resolver is the DNS behind the guard (the system's by default)."""
    connector = aiohttp.TCPConnector(
        resolver=guard.GuardedResolver(limits.allow_private, resolver),
        limit=MAX_CONNECTIONS,
        limit_per_host=limits.per_host,
        # Each new connection resolves in its fetch's own context, so the resolver sees
        # guard.public_only; a cached answer would skip that check.
        use_dns_cache=False,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=limits.total_timeout, sock_connect=limits.connect_timeout),
        trust_env=False,  # no proxy or netrc from the environment
        cookie_jar=aiohttp.DummyCookieJar(),  # one publisher's cookies are no business of another's
        response_class=guard.PeerResponse,  # the rule below judges the address really reached
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
    token = guard.public_only.set(False)
    try:
        async with asyncio.timeout(limits.total_timeout):
            result = await _follow(session, url, limits, etag, last_modified)
    except TimeoutError:
        logger.info("feed fetch timed out url=%s", redact(url))
        raise FetchError("timeout") from None
    finally:
        guard.public_only.reset(token)
    logger.debug(
        "feed fetched url=%s status=%s bytes=%d", redact(result.url), result.status, len(result.body)
    )
    return result


async def _follow(
    session: aiohttp.ClientSession, url: str, limits: FetchLimits, etag: str | None, modified: str | None
) -> FetchResult:
    current = urls.normalize_feed_url(url)
    headers = {"User-Agent": limits.user_agent, "Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    seen = {current}
    permanent = True
    while True:
        # Literal IP hosts never reach the resolver, so every hop is checked here.
        allow_private = limits.allow_private and not guard.public_only.get()
        urls.check_host_literal(urlsplit(current).hostname or "", allow_private)
        with _client_errors():
            async with session.get(current, headers=headers, allow_redirects=False) as resp:
                if resp.status not in _REDIRECTS:
                    moved_to = current if len(seen) > 1 and permanent else None
                    return await _result(resp, current, limits, etag, modified, moved_to)
                location = resp.headers.get("Location", "").strip()
                # Judged on the address this connection used: a second DNS lookup could answer
                # otherwise (rebinding) and let a public site point us inward.
                from_public = guard.reached_public(resp)
        if not location:
            raise HttpStatusError(resp.status)
        # Once a hop was public there is no way back into private networks. Only matters when
        # private targets are allowed at all; otherwise the guard refuses them anyway.
        if allow_private and from_public:
            guard.public_only.set(True)
        target = urls.normalize_feed_url(urljoin(current, location))
        permanent = permanent and resp.status in _PERMANENT
        if len(seen) > limits.max_redirects or target in seen:
            raise FetchError("too many redirects")
        logger.debug("feed redirect from=%s to=%s status=%s", redact(current), redact(target), resp.status)
        seen.add(target)
        current = target


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
        if isinstance(getattr(exc, "os_error", None), guard.AddressRefusedError):
            raise FetchError("refused: private address") from None  # GuardedResolver said no
        for kind, message in _CLIENT_ERRORS:
            if isinstance(exc, kind):
                raise FetchError(message) from None
        if isinstance(exc, aiohttp.ClientConnectorError):
            raise FetchError(f"connection failed: {(exc.strerror or 'error').lower()}") from None
        raise FetchError(f"connection failed: {type(exc).__name__}") from None
