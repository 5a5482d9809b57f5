"""A local publisher web server for tests: feeds, errors, redirects, slow and hostile bodies."""

from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

__all__ = ["FeedServer", "RecordedRequest", "atom", "rss"]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    path: str
    method: str
    headers: dict[str, str]
    time: float  # time.monotonic()


@dataclass
class _Route:
    kind: str  # feed | status | redirect | huge
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: datetime | None = None
    location: str = ""
    size: int | None = None
    content_length: bool = True
    gzip_bomb: bool = False
    trickle: float | None = None


class FeedServer:
    """aiohttp.web server on 127.0.0.1 with per-path behaviour set by the test."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.root = ""
        self._routes: dict[str, _Route] = {}
        self._delays: dict[str, float] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.root = f"http://127.0.0.1:{site.port}"

    async def stop(self) -> None:
        """Close the listener and cancel handlers still streaming."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        return int(self.root.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        return self.root + path

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def set_feed(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "application/rss+xml; charset=utf-8",
        etag: bool = True,
        last_modified: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serve body with validators; a matching conditional request gets 304."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        previous = self._routes.get(path)
        modified = datetime.now(UTC).replace(microsecond=0)
        if previous is not None and previous.last_modified is not None:
            # A replaced body must look newer even within the same second.
            modified = max(modified, previous.last_modified + timedelta(seconds=1))
        self._routes[path] = _Route(
            kind="feed",
            body=data,
            headers={"Content-Type": content_type, **(headers or {})},
            etag=f'"{hashlib.sha256(data).hexdigest()[:20]}"' if etag else None,
            last_modified=modified if last_modified else None,
        )

    def set_status(
        self, path: str, status: int, *, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        """Answer every request with status, body and headers."""
        self._routes[path] = _Route(kind="status", status=status, body=body, headers=dict(headers or {}))

    def set_delay(self, path: str, seconds: float) -> None:
        """Wait this long before sending the response headers."""
        self._delays[path] = seconds

    def set_redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer with a redirect to location (sent verbatim)."""
        self._routes[path] = _Route(kind="redirect", status=status, location=location)

    def set_huge(
        self,
        path: str,
        *,
        size: int | None = None,
        gzip_bomb: bool = False,
        trickle: float | None = None,
        content_length: bool = True,
    ) -> None:
        """A hostile body: size bytes (None: endless), a gzip bomb (~1 GiB decoded) or a trickle."""
        self._routes[path] = _Route(
            kind="huge", size=size, gzip_bomb=gzip_bomb, trickle=trickle, content_length=content_length
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append(RecordedRequest(path, request.method, dict(request.headers), time.monotonic()))
        if delay := self._delays.get(path):
            await asyncio.sleep(delay)
        route = self._routes.get(path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.kind == "redirect":
            return web.Response(status=route.status, headers={"Location": route.location})
        if route.kind == "status":
            return web.Response(status=route.status, body=route.body, headers=route.headers)
        if route.kind == "feed":
            return self._feed_response(request, route)
        return await self._huge_response(request, route)

    @staticmethod
    def _feed_response(request: web.Request, route: _Route) -> web.Response:
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = format_datetime(route.last_modified, usegmt=True)
        if _not_modified(request, route):
            headers.pop("Content-Type", None)
            return web.Response(status=304, headers=headers)
        return web.Response(status=200, body=route.body, headers=headers)

    async def _huge_response(self, request: web.Request, route: _Route) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_type = "application/rss+xml"
        if route.gzip_bomb:
            response.headers["Content-Encoding"] = "gzip"
        elif route.size is not None and route.content_length and route.trickle is None:
            response.content_length = route.size
        try:
            await response.prepare(request)
            if route.gzip_bomb:
                await _write_gzip_bomb(response)
            elif route.trickle is not None:
                while True:
                    await response.write(b" ")
                    await asyncio.sleep(route.trickle)
            else:
                await _write_filler(response, route.size)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client gave up, which is what these routes are for
        return response


def _not_modified(request: web.Request, route: _Route) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return route.etag is not None and ("*" in tags or route.etag in tags)
    ims = request.headers.get("If-Modified-Since")
    if ims is None or route.last_modified is None:
        return False
    try:
        return route.last_modified <= parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False


async def _write_filler(response: web.StreamResponse, size: int | None) -> None:
    block = b"<!-- filler -->" * (_CHUNK // 15)
    sent = 0
    while size is None or sent < size:
        piece = block if size is None else block[: size - sent]
        await response.write(piece)
        sent += len(piece)


async def _write_gzip_bomb(response: web.StreamResponse) -> None:
    # Compressed on the fly: ~1 KiB on the wire per MiB of zeros, 1 GiB in all.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    for _ in range(1024):
        await response.write(compressor.compress(zeros))
        await asyncio.sleep(0)  # tiny writes never wait for the client; let it read and hang up
    await response.write(compressor.flush())


def _element(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = format_datetime(value)
    return f"<{name}>{escape(str(value))}</{name}>"


def rss(items: list[dict[str, Any]], *, title: str = "Test feed", link: str = "https://example.com/") -> str:
    """An RSS 2.0 document; item keys: title, link, guid, description, pubDate, content."""
    parts = []
    for item in items:
        inner = "".join(
            _element(tag, item.get(key))
            for key, tag in (
                ("title", "title"),
                ("link", "link"),
                ("guid", "guid"),
                ("description", "description"),
                ("pubDate", "pubDate"),
                ("content", "content:encoded"),
            )
        )
        parts.append(f"<item>{inner}</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"{_element('title', title)}{_element('link', link)}<description>test</description>"
        f"{''.join(parts)}</channel></rss>\n"
    )


def atom(
    entries: list[dict[str, Any]],
    *,
    title: str = "Test feed",
    link: str = "https://example.com/",
    feed_id: str = "urn:test:feed",
) -> str:
    """An Atom 1.0 document; entry keys: title, link, id, summary, content, published, updated, author."""
    parts = []
    for entry in entries:
        inner = _element("title", entry.get("title")) + _element("id", entry.get("id"))
        if entry.get("link") is not None:
            inner += f'<link rel="alternate" href={quoteattr(str(entry["link"]))}/>'
        for key in ("published", "updated"):
            if isinstance(value := entry.get(key), datetime):
                inner += _element(key, value.isoformat())
            else:
                inner += _element(key, value)
        if entry.get("author") is not None:
            inner += f"<author>{_element('name', entry['author'])}</author>"
        if entry.get("summary") is not None:
            inner += f'<summary type="html">{escape(str(entry["summary"]))}</summary>'
        if entry.get("content") is not None:
            inner += f'<content type="html">{escape(str(entry["content"]))}</content>'
        parts.append(f"<entry>{inner}</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"{_element('title', title)}<link href={quoteattr(link)}/>{_element('id', feed_id)}"
        f"<updated>2024-01-01T00:00:00Z</updated>{''.join(parts)}</feed>\n"
    )
