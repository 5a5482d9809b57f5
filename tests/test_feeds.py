"""Fetching and parsing against a real local publisher (tests/fakes/feed_server.py)."""

from __future__ import annotations

import asyncio
import builtins
import gzip
import hashlib
import io
import json
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ConnectionKey

from bot import feeds
from bot.domain import FetchError, ParseError
from bot.feeds import FetchLimits, HttpStatusError, fetch, guard, make_http_session, parse, parse_feed
from bot.feeds.check import check_feed
from bot.feeds.guard import AddressRefusedError
from tests.fakes.feed_server import FeedServer, atom, rss

LOCAL = FetchLimits(allow_private=True, total_timeout=5.0)  # the fake publisher lives on loopback
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    srv = FeedServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def stub() -> AsyncIterator[FeedServer]:
    """A second listener that must never be reached."""
    srv = FeedServer()
    await srv.start()
    srv.set_feed("/x", rss([{"title": "internal"}]))
    yield srv
    await srv.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    http = make_http_session(LOCAL)
    yield http
    await http.close()


def _parse(body: bytes | str, url: str = "http://feeds.example/dir/feed.xml", **kw: Any) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return parse_feed(data, url=url, headers=kw.pop("headers", {}), now=kw.pop("now", NOW))


# --- fetch: conditional GET ---------------------------------------------------------------


async def test_s1_row4_conditional_get_sends_validators_and_gets_304(
    server: FeedServer, session: Any
) -> None:
    server.set_feed("/f", rss([{"title": "a", "guid": "1"}]))
    first = await fetch(session, server.url("/f"), LOCAL)
    assert first.status == 200 and first.etag and first.last_modified and b"<rss" in first.body
    second = await fetch(session, server.url("/f"), LOCAL, etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    assert second.etag == first.etag and second.last_modified == first.last_modified
    sent = server.requests[-1].headers
    assert sent["If-None-Match"] == first.etag
    assert sent["If-Modified-Since"] == first.last_modified
    assert sent["User-Agent"] == LOCAL.user_agent
    server.set_feed("/f", rss([{"title": "b", "guid": "2"}]))  # new body, new ETag
    third = await fetch(session, server.url("/f"), LOCAL, etag=first.etag, last_modified=first.last_modified)
    assert third.status == 200 and third.etag != first.etag


async def test_last_modified_alone_gives_304(server: FeedServer, session: Any) -> None:
    server.set_feed("/f", rss([]), etag=False)
    first = await fetch(session, server.url("/f"), LOCAL)
    assert first.etag is None
    second = await fetch(session, server.url("/f"), LOCAL, last_modified=first.last_modified)
    assert second.not_modified


@pytest.mark.parametrize(
    ("body", "headers"),
    [(b"", {}), (b"", {"ETag": '"same"'})],
    ids=["empty-200", "empty-200-with-etag"],
)
async def test_s2_input_20_empty_200_counts_as_not_modified(
    server: FeedServer, session: Any, body: bytes, headers: dict[str, str]
) -> None:
    server.set_status("/f", 200, body=body, headers=headers)
    assert (await fetch(session, server.url("/f"), LOCAL)).status == 304


async def test_s2_input_20_200_with_our_etag_counts_as_not_modified(server: FeedServer, session: Any) -> None:
    server.set_status("/f", 200, body=b"<rss/>", headers={"ETag": '"v1"'})  # ignores If-None-Match
    assert (await fetch(session, server.url("/f"), LOCAL, etag='"v1"')).not_modified


# --- fetch: errors ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 500, 503])
async def test_error_status_raises_with_status(server: FeedServer, session: Any, status: int) -> None:
    server.set_status("/f", status, body=b"<html>secret error page</html>")
    with pytest.raises(HttpStatusError) as info:
        await fetch(session, server.url("/f"), LOCAL)
    assert str(info.value) == f"HTTP {status}" and info.value.status == status
    assert info.value.retry_after is None
    assert isinstance(info.value, FetchError)


async def test_s1_row5_retry_after_is_kept_on_the_error(server: FeedServer, session: Any) -> None:
    server.set_status("/f", 429, headers={"Retry-After": "120"})
    with pytest.raises(HttpStatusError) as info:
        await fetch(session, server.url("/f"), LOCAL)
    assert info.value.status == 429 and info.value.retry_after == 120.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
        ("abc", None),
        ("", None),
        (None, None),
        ("-5", None),
        ("1.5", None),
        ("99999999", 86400.0),
        (format_datetime(NOW + timedelta(days=30), usegmt=True), 86400.0),
    ],
    ids=["seconds", "zero", "http-date", "past-date", "garbage", "empty", "missing", "negative",
         "fraction", "capped", "date-capped"],
)  # fmt: skip
def test_s1_row5_s2_input_18_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert feeds.parse_retry_after(value, NOW) == expected


async def test_s1_row1_slow_server_times_out_quickly(server: FeedServer, session: Any) -> None:
    server.set_feed("/slow", rss([]))
    server.set_delay("/slow", 5.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"^timeout$"):
        await fetch(session, server.url("/slow"), FetchLimits(allow_private=True, total_timeout=0.5))
    assert time.monotonic() - started < 1.5


async def test_s2_input_4_trickling_body_times_out(server: FeedServer, session: Any) -> None:
    server.set_huge("/trickle", trickle=0.1)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"^timeout$"):
        await fetch(session, server.url("/trickle"), FetchLimits(allow_private=True, total_timeout=0.5))
    assert time.monotonic() - started < 1.5


async def test_connection_refused(session: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match=r"^connection failed: "):
        await fetch(session, f"http://127.0.0.1:{port}/feed", LOCAL)


@pytest.mark.parametrize(
    "kind",
    ["content-length-over-cap", "chunked-over-cap", "endless-stream", "gzip-bomb"],
)
async def test_s1_row2_s2_input_4_oversized_bodies_abort_with_bounded_memory(
    server: FeedServer, session: Any, kind: str
) -> None:
    limits = FetchLimits(allow_private=True, max_body_bytes=5 * 1024 * 1024)
    if kind == "content-length-over-cap":
        server.set_huge("/big", size=6 * 1024 * 1024)
    elif kind == "chunked-over-cap":
        server.set_huge("/big", size=6 * 1024 * 1024, content_length=False)
    elif kind == "endless-stream":
        server.set_huge("/big")
    else:
        server.set_huge("/big", gzip_bomb=True)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=r"^too large$"):
            await fetch(session, server.url("/big"), limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024


async def test_body_just_under_the_cap_is_read(server: FeedServer, session: Any) -> None:
    server.set_huge("/big", size=1000, content_length=False)
    result = await fetch(session, server.url("/big"), FetchLimits(allow_private=True, max_body_bytes=1000))
    assert len(result.body) == 1000


async def test_gzip_body_is_decoded(server: FeedServer, session: Any) -> None:
    doc = rss([{"title": "zipped", "guid": "z"}]).encode()
    server.set_feed("/gz", gzip.compress(doc), headers={"Content-Encoding": "gzip"})
    assert (await fetch(session, server.url("/gz"), LOCAL)).body == doc


async def test_s2_input_24_credentials_are_sent_but_never_shown(server: FeedServer, session: Any) -> None:
    server.set_status("/private", 404)
    url = server.url("/private").replace("http://", "http://reader:s3cret@")
    with pytest.raises(FetchError) as info:
        await fetch(session, url, LOCAL)
    assert "s3cret" not in str(info.value) and "reader" not in str(info.value)
    assert server.requests[-1].headers["Authorization"].startswith("Basic ")


async def test_s2_input_22_refused_url_is_never_requested(session: Any) -> None:
    with pytest.raises(FetchError, match=r"^refused: only http and https URLs$"):
        await fetch(session, "file:///etc/passwd", LOCAL)


_KEY = ConnectionKey("feeds.example", 80, False, True, None, None, None, None)
CLIENT_ERRORS = [
    (aiohttp.ClientConnectorDNSError(_KEY, AddressRefusedError("x")), "refused: private address", "rebind"),
    (aiohttp.ClientConnectorDNSError(_KEY, socket.gaierror(-2, "Name or service not known")),
     "connection failed: DNS lookup failed", "nxdomain"),
    (aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "Connection refused")),
     "connection failed: connection refused", "refused"),
    (aiohttp.ServerDisconnectedError(), "connection failed: server disconnected", "disconnected"),
    (aiohttp.ClientPayloadError("bad chunk"), "connection failed: broken body", "payload"),
    (aiohttp.ClientConnectionError("boom"), "connection failed: ClientConnectionError", "other"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "message"), [c[:2] for c in CLIENT_ERRORS], ids=[c[2] for c in CLIENT_ERRORS]
)
def test_client_errors_become_short_fetch_errors(exc: Exception, message: str) -> None:
    with pytest.raises(FetchError) as info, feeds.fetcher._client_errors():
        raise exc
    assert str(info.value) == message and info.value.__cause__ is None


class _FixedResolver(AbstractResolver):
    """DNS that answers every name with one address, as a rebinding attacker would."""

    def __init__(self, ip: str) -> None:
        self.ip = ip

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=self.ip, port=port, family=socket.AF_INET, proto=0, flags=0)
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("allow_private", [False, True], ids=["refused", "allowed"])
async def test_s1_row3_dns_rebinding_name_resolving_to_loopback(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch, allow_private: bool
) -> None:
    monkeypatch.setattr(guard, "ThreadedResolver", lambda: _FixedResolver("127.0.0.1"))
    server.set_feed("/f", rss([]))
    limits = FetchLimits(allow_private=allow_private)
    async with make_http_session(limits) as http:
        if allow_private:  # proves the connection really uses the guarded resolver
            assert (await fetch(http, f"http://rebind.example:{server.port}/f", limits)).status == 200
        else:
            with pytest.raises(FetchError, match=r"^refused: private address$"):
                await fetch(http, f"http://rebind.example:{server.port}/f", limits)
            assert server.requests == []


# --- fetch: redirects and the address guard -------------------------------------------------


async def test_s1_row7_s2_input_16_permanent_redirect_chain_sets_moved_to(
    server: FeedServer, session: Any
) -> None:
    server.set_redirect("/old", "/mid", 301)
    server.set_redirect("/mid", server.url("/new"), 308)
    server.set_feed("/new", rss([]))
    result = await fetch(session, server.url("/old"), LOCAL)
    assert result.status == 200 and result.url == server.url("/new")
    assert result.moved_to == server.url("/new")


@pytest.mark.parametrize("chain", [(302,), (307,), (303,), (301, 302), (302, 301)], ids=str)
async def test_s1_row7_s2_input_16_temporary_hop_keeps_the_url(
    server: FeedServer, session: Any, chain: tuple[int, ...]
) -> None:
    for i, status in enumerate(chain):
        server.set_redirect(f"/r{i}", f"/r{i + 1}", status)
    server.set_feed(f"/r{len(chain)}", rss([]))
    result = await fetch(session, server.url("/r0"), LOCAL)
    assert result.status == 200 and result.url == server.url(f"/r{len(chain)}")
    assert result.moved_to is None


async def test_no_redirect_no_moved_to(server: FeedServer, session: Any) -> None:
    server.set_feed("/f", rss([]))
    assert (await fetch(session, server.url("/f"), LOCAL)).moved_to is None


async def test_s2_input_17_redirect_loop_is_an_error(server: FeedServer, session: Any) -> None:
    server.set_redirect("/a", "/b", 301)
    server.set_redirect("/b", "/a", 301)
    with pytest.raises(FetchError, match=r"^too many redirects$"):
        await fetch(session, server.url("/a"), LOCAL)
    assert server.hits("/a") == 1 and server.hits("/b") == 1


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)], ids=["five-hops", "six-hops"])
async def test_s2_input_17_redirect_hop_limit(server: FeedServer, session: Any, hops: int, ok: bool) -> None:
    for i in range(hops):
        server.set_redirect(f"/h{i}", f"/h{i + 1}")
    server.set_feed(f"/h{hops}", rss([]))
    if ok:
        assert (await fetch(session, server.url("/h0"), LOCAL)).status == 200
    else:
        with pytest.raises(FetchError, match=r"^too many redirects$"):
            await fetch(session, server.url("/h0"), LOCAL)
        assert server.hits(f"/h{hops}") == 0


REFUSED_LOCATIONS = [
    ("file:///etc/passwd", "refused: only http and https URLs", "file"),
    ("gopher://x/", "refused: only http and https URLs", "gopher"),
    ("http://169.254.169.254/latest/meta-data/", "refused: private address", "metadata"),
    ("http://[::ffff:169.254.169.254]/", "refused: private address", "mapped-metadata"),
    ("http://2130706433:{port}/x", "refused: non-canonical numeric host", "decimal-loopback"),
    ("http://127.1:{port}/x", "refused: non-canonical numeric host", "short-loopback"),
    ("http://0177.0.0.1:{port}/x", "refused: non-canonical numeric host", "octal-loopback"),
]


@pytest.mark.parametrize(
    ("location", "reason"), [c[:2] for c in REFUSED_LOCATIONS], ids=[c[2] for c in REFUSED_LOCATIONS]
)
async def test_s1_row3_s2_input_17_redirect_to_refused_target(
    server: FeedServer, stub: FeedServer, session: Any, location: str, reason: str
) -> None:
    server.set_redirect("/go", location.format(port=stub.port))
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        await fetch(session, server.url("/go"), LOCAL)
    assert str(info.value) == reason
    assert stub.requests == []
    assert time.monotonic() - started < 1.0  # refused before any connection attempt


async def test_private_to_private_redirect_allowed_when_configured(
    server: FeedServer, stub: FeedServer, session: Any
) -> None:
    server.set_redirect("/go", f"http://localhost:{stub.port}/x")
    assert (await fetch(session, server.url("/go"), LOCAL)).status == 200
    assert stub.hits("/x") == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["literal", "dns-name"])
async def test_private_targets_refused_by_default(server: FeedServer, host: str) -> None:
    server.set_feed("/f", rss([]))
    limits = FetchLimits()  # allow_private=False: the resolver drops loopback answers
    async with make_http_session(limits) as http:
        with pytest.raises(FetchError, match=r"^refused: private address$"):
            await fetch(http, f"http://{host}:{server.port}/f", limits)
    assert server.requests == []


# --- parse_feed -----------------------------------------------------------------------------


NOT_FEEDS = [
    (b"<!DOCTYPE html><html><head><title>Hi</title></head><body><p>Welcome</p></body></html>", "html"),
    (b'<html><body><form action="/login"><input name="password"></form></body></html>', "login-page"),
    (b"<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>", "cf"),
    (b"just some plain text\nwith lines\n", "plain-text"),
    (b"/etc/passwd", "path"),
    (b"config.toml", "relative-path"),
    (b'{"rss": {"channel": {"item": []}}}', "json-not-jsonfeed"),
    (b'{"version": "1.0", "items": []}', "json-wrong-version"),
    (b"[1, 2, 3]", "json-array"),
    (b"{not json", "broken-json"),
    (b"", "empty"),
    (b"\x00\x01\x02binary\xff\xfe", "binary"),
]


@pytest.mark.parametrize("body", [c[0] for c in NOT_FEEDS], ids=[c[1] for c in NOT_FEEDS])
def test_s2_input_5_not_a_feed(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"^not a feed$"):
        _parse(body)


def test_s2_input_3_path_body_never_opens_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Any] = []
    real_open = builtins.open

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    for body in (b"/etc/passwd", b"/etc/hostname", b"file:///etc/passwd"):
        with pytest.raises(ParseError):
            _parse(body)
    assert not [f for f in opened if "etc" in str(f)]


def test_rss_entry_fields() -> None:
    doc = rss(
        [
            {
                "title": "Hello <b>world</b>",
                "link": "https://news.example/a",
                "guid": "urn:a",
                "description": "<p>Summary <i>here</i>.</p><p>Advertisement</p>",
                "content": "<p>Full <b>content</b></p><script>x()</script>",
                "pubDate": "Tue, 02 Jan 2024 10:00:00 +0100",
            }
        ],
        title="News &amp; views",
    )
    feed = _parse(doc)
    assert feed.title == "News & views" and not feed.bozo
    (entry,) = feed.entries
    assert entry.title == "Hello world"
    assert entry.link == "https://news.example/a"
    assert entry.summary == "Summary here.\nAdvertisement"  # boilerplate is summarize()'s job
    assert entry.content == "Full content"
    assert entry.published == datetime(2024, 1, 2, 9, tzinfo=UTC)
    assert entry.key == hashlib.sha256(b"urn:a").hexdigest()


def test_atom_entry_fields_and_plain_text_titles() -> None:
    doc = atom(
        [
            {
                "title": "Vec<T> & friends",  # type="text": literal, not markup
                "id": "tag:x,2024:1",
                "link": "/posts/1",
                "updated": "2024-03-01T08:00:00Z",
                "author": "Ann",
                "content": "<p>Body</p>",
            }
        ]
    )
    (entry,) = _parse(doc, url="https://blog.example/feed.atom").entries
    assert entry.title == "Vec<T> & friends"
    assert entry.link == "https://blog.example/posts/1"
    assert entry.published == datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert entry.author == "Ann" and entry.content == "Body" and entry.summary == "Body"


def test_json_feed() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON &amp; Co",
        "items": [
            {
                "id": "1",
                "url": "/posts/1",
                "title": "Die Rückkehr von <i> und &amp;",
                "content_html": "<p>Hello <b>there</b></p>",
                "summary": "Short.",
                "date_published": "2024-05-06T07:08:09+02:00",
                "authors": [{"name": "Jo"}],
            },
            {"id": 2, "external_url": "https://elsewhere.example/x", "content_text": "Only text"},
            {"url": "javascript:alert(1)", "content_text": "No id, bad link"},
            "not an item",
        ],
    }
    feed = _parse(json.dumps(doc), url="https://site.example/feed.json")
    assert feed.title == "JSON & Co" and not feed.bozo
    first, second, third = feed.entries
    assert first.title == "Die Rückkehr von <i> und &"  # JSON Feed titles are plain text
    assert first.link == "https://site.example/posts/1"
    assert first.summary == "Short." and first.content == "Hello there" and first.author == "Jo"
    assert first.published == datetime(2024, 5, 6, 5, 8, 9, tzinfo=UTC)
    assert second.link == "https://elsewhere.example/x" and second.title == "Only text"
    assert second.key == hashlib.sha256(b"2").hexdigest() and second.published == NOW
    assert third.link is None


@pytest.mark.parametrize("version", ["http://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1"])
def test_json_feed_versions(version: str) -> None:
    body = json.dumps({"version": version, "items": [{"id": "a", "content_text": "x"}]})
    assert len(_parse(body).entries) == 1


LINKS = [
    ("/p/1", "http://feeds.example/p/1", "root-relative"),
    ("p/2", "http://feeds.example/dir/p/2", "relative"),
    ("//cdn.example/x", "http://cdn.example/x", "scheme-relative"),
    ("HTTPS://Other.Example/A?b=1#c", "https://other.example/A?b=1#c", "absolute"),
    ("  \n https://padded.example/x \n ", "https://padded.example/x", "padded"),
    ('https://q.example/a"b<c>', "https://q.example/a%22b%3Cc%3E", "quotes-encoded"),
    ("javascript:alert(1)", None, "javascript"),
    ("JaVaScRiPt:alert(1)", None, "javascript-mixed-case"),
    ("data:text/html,<script>x</script>", None, "data"),
    ("mailto:a@b.example", None, "mailto"),
    ("https://user:pw@creds.example/x", "https://creds.example/x", "credentials-dropped"),
    ("www.example.com/news/1.html", "http://www.example.com/news/1.html", "scheme-less-www-host"),
    ("news.example.org/a/2.html", "http://news.example.org/a/2.html", "scheme-less-host"),
    ("story.html", "http://feeds.example/dir/story.html", "relative-file"),
    ("archive/story.php?id=3", "http://feeds.example/dir/archive/story.php?id=3", "relative-path"),
]


@pytest.mark.parametrize(("link", "expected"), [c[:2] for c in LINKS], ids=[c[2] for c in LINKS])
def test_s2_input_8_links(link: str, expected: str | None) -> None:
    doc = rss([{"title": "t", "link": link, "guid": "g"}])
    (entry,) = _parse(doc, url="http://reader:s3cret@feeds.example/dir/feed.xml").entries
    assert entry.link == expected


ORIG_LINKS = (
    '<?xml version="1.0"?><rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"'
    ' xmlns:pheedo="http://www.pheedo.com/namespace/pheedo"><channel><title>t</title>'
    "<item><title>a</title><guid>urn:a</guid><link>http://feeds.feedburner.com/~r/news/~3/abc/</link>"
    "<feedburner:origLink>https://news.example/2024/a?utm_source=feedburner</feedburner:origLink></item>"
    "<item><title>b</title><guid>urn:b</guid><link>http://ads.pheedo.com/click.phdo?i=1</link>"
    "<pheedo:origLink>https://news.example/2024/b</pheedo:origLink></item>"
    "<item><title>c</title><guid>urn:c</guid><link>http://feeds.feedburner.com/~r/news/~3/c/</link>"
    "<feedburner:origLink>javascript:alert(1)</feedburner:origLink></item>"
    "</channel></rss>"
)


def test_orig_link_is_the_article_link() -> None:
    a, b, c = _parse(ORIG_LINKS).entries
    assert a.link == "https://news.example/2024/a?utm_source=feedburner"
    assert a.canonical_link == "https://news.example/2024/a"  # what duplicate detection compares
    assert b.link == "https://news.example/2024/b"
    assert c.link == "http://feeds.feedburner.com/~r/news/~3/c/"  # an unusable origLink is ignored
    assert a.key == hashlib.sha256(b"urn:a").hexdigest()


@pytest.mark.parametrize(
    ("guid", "expected"),
    [
        ("<guid>12345</guid>", None),
        ("<guid>abc123</guid>", None),
        ("<guid>1</guid>", None),
        ('<guid isPermaLink="false">https://x.example/not-a-permalink</guid>', None),
        ('<guid isPermaLink="true">https://x.example/permalink</guid>', "https://x.example/permalink"),
        ("<guid>tag:x.example,2024:1</guid>", None),
        ("<guid>12345</guid><link>/a/1</link>", "http://feeds.example/a/1"),
    ],
    ids=["number", "word", "one", "not-permalink", "permalink-url", "tag-uri", "real-link-after-it"],
)
def test_a_guid_that_is_not_a_url_never_becomes_the_link(guid: str, expected: str | None) -> None:
    doc = rss([{"title": "x"}]).replace("<title>x</title>", f"<title>x</title>{guid}")
    (entry,) = _parse(doc).entries
    assert entry.link == expected


@pytest.mark.parametrize(
    ("atom_id", "expected"), [("1", None), ("https://x.example/e", "https://x.example/e")]
)
def test_an_atom_id_that_is_not_a_url_never_becomes_the_link(atom_id: str, expected: str | None) -> None:
    (entry,) = _parse(atom([{"title": "x", "id": atom_id}])).entries
    assert entry.link == expected


def test_link_text_url_wins_over_another_scheme_in_an_attribute() -> None:
    doc = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title>'
        '<guid isPermaLink="false">p1</guid>'
        '<link uri="at://did:plc:abc/app.bsky.feed.post/3k">https://bsky.example/profile/abc/post/3k</link>'
        "</item></channel></rss>"
    )
    (entry,) = _parse(doc).entries
    assert entry.link == "https://bsky.example/profile/abc/post/3k"


HOSTILE_TITLES = [
    ("<script>x</script> & <b>", "&", "script-and-tags"),
    ("AT&amp;T", "AT&T", "escaped-once"),
    ("Tom&nbsp;&amp;&nbsp;Jerry", "Tom & Jerry", "nbsp"),
    ("evil\u202eexe\u200b.txt", "evilexe.txt", "bidi-and-zero-width"),
    ("a&#0;b", "a\ufffdb", "nul-reference"),
    ("x" * 200_000, "x" * feeds.MAX_TITLE_CHARS, "huge-bounded"),
    ("lone &#xD800; surrogate", "lone \ufffd surrogate", "surrogate-reference"),
    ("   \n\t  ", "(untitled)", "blank"),
]


@pytest.mark.parametrize(
    ("title", "expected"), [c[:2] for c in HOSTILE_TITLES], ids=[c[2] for c in HOSTILE_TITLES]
)
def test_s2_input_7_15_hostile_titles(title: str, expected: str) -> None:
    (entry,) = _parse(rss([{"title": title, "guid": "g", "link": "https://x.example/"}])).entries
    assert entry.title == expected


RSS_TITLES = [
    ("&lt;/example&gt;", "</example>", "escaped-close-tag-is-text"),
    ("The &lt;blink&gt; tag is back", "The <blink> tag is back", "escaped-tag-is-text"),
    ("Vec&lt;T&gt; in Rust", "Vec<T> in Rust", "generics"),
    ("&lt;b&gt;Bold&lt;/b&gt; move", "Bold move", "clearly-html-pair"),
    ("Line&lt;br/&gt;break", "Line break", "clearly-html-void"),
    ("Fish &amp;amp; chips", "Fish & chips", "double-escaped-entity"),
    ("sa&lt;!-- -- nonwhitespace &gt;fe", "safe", "unterminated-comment"),
    ("sa<![CDATA[<!-- comment -->]]>fe", "safe", "comment-in-cdata"),
    ("Q&amp;A: a &lt; b", "Q&A: a < b", "plain-comparison"),
]


@pytest.mark.parametrize(("title", "expected"), [c[:2] for c in RSS_TITLES], ids=[c[2] for c in RSS_TITLES])
def test_rss_titles_are_plain_text_unless_clearly_html(title: str, expected: str) -> None:
    doc = rss([{"title": "PLACEHOLDER", "guid": "g"}]).replace("PLACEHOLDER", title)
    (entry,) = _parse(doc).entries
    assert entry.title == expected


def test_zero_width_joiners_are_part_of_the_text() -> None:
    persian, family = "می\u200cخواهم", "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    doc = rss([{"title": f"{persian} {family}", "guid": "g", "description": f"<p>{persian} {family}</p>"}])
    (entry,) = _parse(doc).entries
    assert entry.title == f"{persian} {family}" and entry.summary == f"{persian} {family}"


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff")],
    ids=["le", "be"],
)
def test_a_utf32_bom_is_read_as_utf32(encoding: str, bom: bytes) -> None:
    doc = rss([{"title": "Grüße 中文", "guid": "1"}]).replace('encoding="utf-8"', 'encoding="utf-32"')
    feed = _parse(bom + doc.encode(encoding), headers={"Content-Type": "application/rss+xml"})
    assert [e.title for e in feed.entries] == ["Grüße 中文"]


def test_s2_input_1_billion_laughs_is_not_expanded() -> None:
    levels = ['<!ENTITY a0 "lol">'] + [f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 8)]
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(levels)}]><rss version="2.0"><channel>'
        "<title>t</title><item><title>&a7;</title><guid>1</guid></item></channel></rss>"
    )
    tracemalloc.start()
    started = time.monotonic()
    try:
        feed = _parse(doc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1.0 and peak < 20 * 1024 * 1024
    assert feed.bozo and all(len(e.title) < 100 for e in feed.entries)


def test_s2_input_2_external_entity_is_never_read() -> None:
    doc = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>before &x; after</title><description>&x;</description><guid>1</guid></item>"
        "</channel></rss>"
    )
    feed = _parse(doc)
    text = " ".join(f"{e.title} {e.summary}" for e in feed.entries)
    assert socket.gethostname() not in text and Path("/etc/hostname").read_text().strip() not in text


def test_titles_fall_back_to_summary_then_untitled() -> None:
    doc = rss(
        [{"description": "A story without a title. " * 10, "guid": "1"}, {"link": "https://x.example/2"}]
    )
    first, second = _parse(doc).entries
    assert first.title.startswith("A story without a title.") and len(first.title) <= 80
    assert second.title == "(untitled)"


def test_empty_items_are_dropped() -> None:
    doc = rss([{"title": "real", "guid": "1"}, {}]).replace(
        "<item></item>", "<item><pubDate>x</pubDate></item>"
    )
    assert [e.title for e in _parse(doc).entries] == ["real"]


@pytest.mark.parametrize(
    ("pub", "expected"),
    [
        ("Sat, 01 Jan 2000 00:00:00 GMT", datetime(2000, 1, 1, tzinfo=UTC)),
        ("Thu, 01 Jan 1970 00:00:00 GMT", datetime(1970, 1, 1, tzinfo=UTC)),
        ("Fri, 01 Jan 2099 00:00:00 GMT", NOW),
        (format_datetime(NOW + timedelta(hours=12)), NOW + timedelta(hours=12)),
        ("not a date", NOW),
        (None, NOW),
        ("Sun Jan  4 16:29:06 PST 2004", datetime(2004, 1, 5, 0, 29, 6, tzinfo=UTC)),
    ],
    ids=["past", "epoch", "far-future", "slightly-ahead", "garbage", "missing", "asctime-by-feedparser"],
)
def test_s2_input_13_published(pub: str | None, expected: datetime) -> None:
    (entry,) = _parse(rss([{"title": "t", "guid": "g", "pubDate": pub}])).entries
    assert entry.published == expected and entry.published.tzinfo is not None
    assert entry.dated is (expected != NOW)  # the fetch time is marked as such


def test_s1_row9_s2_input_10_repeated_guids_get_distinct_keys() -> None:
    items = [{"title": f"t{i}", "guid": "same", "link": f"https://x.example/{i}"} for i in range(50)]
    items += [{"title": "dup", "guid": "twice", "link": "https://x.example/same"}] * 2
    keys = [e.key for e in _parse(rss(items)).entries]
    assert len(keys) == len(set(keys)) == 51  # the second "dup" repeats the first in every respect
    assert keys[0] == hashlib.sha256(b"same").hexdigest()


SHARED = [{"title": t, "guid": "same", "link": "https://x.example/one", "description": t} for t in "ABCD"]


def test_shared_guid_keys_come_from_content_never_position() -> None:
    """The first entry holds the plain GUID key; every entry's own key is the same wherever it stands."""
    a, b, c, d = SHARED
    own = {}
    for order in ([a, b, c], [d, a, b, c], [c, b], [b, d, a]):
        entries = _parse(rss(order)).entries
        assert entries[0].key == hashlib.sha256(b"same").hexdigest()
        assert [e.key for e in entries[1:]] == [e.content_key for e in entries[1:]]
        for e in entries:
            assert own.setdefault(e.title, e.content_key) == e.content_key
            assert e.guid_key == hashlib.sha256(b"same").hexdigest()
    assert len(set(own.values())) == 4
    (alone,) = _parse(rss([a])).entries
    assert alone.key == hashlib.sha256(b"same").hexdigest() and alone.guid_key is None


def test_s1_row9_s2_input_10_items_without_guid_or_link_get_distinct_keys() -> None:
    items = [{"title": f"t{i}", "description": "same text"} for i in range(5)]
    items += [{"title": "twin", "description": "d"}] * 2  # one entry listed twice: kept once
    items += [{"title": f"shared link {i}", "link": "https://x.example/one"} for i in range(3)]
    keys = [e.key for e in _parse(rss(items)).entries]
    assert len(set(keys)) == len(keys) == 9


def test_s1_row11_keys_are_stable_across_parses_fetch_times_and_moves() -> None:
    items = [
        {"title": "a", "guid": "g1"},
        {"title": "b", "link": "https://x.example/b"},
        {"title": "c", "description": "no id"},
        {"title": "d", "guid": "g2"},
        {"title": "e", "guid": "g2"},
        {"title": "f", "link": "/relative/f"},  # resolved against the feed URL, identified as written
        {"title": "g", "link": "//cdn.example/g"},
    ]
    doc = rss(items)
    first = [e.key for e in _parse(doc).entries]
    later = [e.key for e in _parse(doc, now=NOW + timedelta(days=3)).entries]
    moved = [e.key for e in _parse(doc, url="https://new-home.example/feed").entries]
    assert first == later == moved


def test_bozo_feed_with_entries_is_kept() -> None:
    doc = rss([{"title": "ok", "guid": "1"}]) + "trailing <garbage"
    feed = _parse(doc)
    assert feed.bozo and [e.title for e in feed.entries] == ["ok"]


async def test_s1_row22_parse_runs_in_a_thread() -> None:
    feed = await parse(
        rss([{"title": "t", "guid": "1"}]).encode(), url="http://x.example/f", headers={}, now=NOW
    )
    assert feed.entries[0].title == "t"


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=utf-8", "text/plain", "application/octet-stream"]
)
def test_s2_input_6_feed_with_wrong_content_type_still_parses(content_type: str) -> None:
    doc = rss([{"title": "Grüße", "guid": "1"}])
    assert [e.title for e in _parse(doc, headers={"Content-Type": content_type}).entries] == ["Grüße"]


def test_declared_charset_header_is_used() -> None:
    doc = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Привет</title></item></channel></rss>"
    )
    body = doc.encode("windows-1251")
    feed = _parse(body, headers={"Content-Type": "application/rss+xml; charset=windows-1251"})
    assert feed.entries[0].title == "Привет"


# --- RELIABILITY §1 and §2 rows not covered above --------------------------------------------


async def test_s1_row1_hung_feed_does_not_delay_the_others(server: FeedServer, session: Any) -> None:
    server.set_feed("/hung", rss([]))
    server.set_delay("/hung", 30.0)
    server.set_feed("/ok", rss([{"title": "fine", "guid": "1"}]))
    limits = FetchLimits(allow_private=True, total_timeout=1.0)
    started = time.monotonic()
    hung = asyncio.ensure_future(fetch(session, server.url("/hung"), limits))
    ok = await fetch(session, server.url("/ok"), limits)
    assert ok.status == 200 and time.monotonic() - started < 0.5
    with pytest.raises(FetchError, match=r"^timeout$"):
        await hung
    assert time.monotonic() - started < limits.total_timeout + 1.0


async def test_s1_row6_s2_input_19_gone_is_a_410_error(server: FeedServer, session: Any) -> None:
    server.set_status("/gone", 410, body=b"<html>gone</html>")
    with pytest.raises(HttpStatusError) as info:
        await fetch(session, server.url("/gone"), LOCAL)
    assert info.value.status == 410 and str(info.value) == "HTTP 410"


@pytest.mark.parametrize("status", [200, 403], ids=["html-200", "challenge-403"])
async def test_s2_input_5_html_page_instead_of_a_feed(server: FeedServer, session: Any, status: int) -> None:
    page = b"<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"
    server.set_status("/feed", status, body=page, headers={"Content-Type": "text/html"})
    if status == 403:
        with pytest.raises(HttpStatusError, match=r"^HTTP 403$"):
            await fetch(session, server.url("/feed"), LOCAL)
        return
    result = await fetch(session, server.url("/feed"), LOCAL)
    with pytest.raises(ParseError, match=r"^not a feed$"):
        parse_feed(result.body, url=result.url, headers=result.headers, now=NOW)


async def test_s2_input_21_tls_failure_is_a_short_error(server: FeedServer, session: Any) -> None:
    server.set_feed("/f", rss([]))
    with pytest.raises(FetchError, match=r"^connection failed: TLS error$"):
        await fetch(session, server.url("/f").replace("http://", "https://"), LOCAL)


def test_s1_row12_s2_input_13_dates_have_no_effect_on_identity() -> None:
    def doc(pub: str | None) -> str:
        return rss(
            [
                {"title": "guid", "guid": "urn:1", "pubDate": pub},
                {"title": "link", "link": "https://x.example/2", "pubDate": pub},
                {"title": "text only", "description": "no id, no link", "pubDate": pub},
            ]
        )

    dates = [
        "Tue, 02 Jan 2024 10:00:00 GMT",
        "Fri, 01 Jan 2099 00:00:00 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "not a date",
        None,
    ]
    keys = {tuple(e.key for e in _parse(doc(pub)).entries) for pub in dates}
    assert len(keys) == 1


def test_s2_input_11_guid_churn_keeps_links_comparable() -> None:
    before = rss([{"title": f"t{i}", "guid": f"run1-{i}", "link": f"http://x.example/{i}?utm_source=rss"}
                  for i in range(3)])  # fmt: skip
    after = rss([{"title": f"t{i}", "guid": f"run2-{i}", "link": f"https://x.example/{i}"} for i in range(3)])
    old, new = _parse(before).entries, _parse(after).entries
    assert {e.key for e in old}.isdisjoint(e.key for e in new)  # the keys did change...
    assert [e.guid for e in new] == ["run2-0", "run2-1", "run2-2"]
    # ...but the poller can tell they are the same articles
    assert [e.canonical_link for e in old] == [e.canonical_link for e in new]
    assert new[0].canonical_link == "https://x.example/0"


def test_entry_identity_fields() -> None:
    doc = rss(
        [
            {"title": "a", "guid": "  urn:a\n", "link": "HTTP://News.Example:80/a?id=1&fbclid=x#top"},
            {"title": "b"},
        ]
    )
    first, second = _parse(doc).entries
    assert first.guid == "urn:a" and first.link == "http://news.example:80/a?id=1&fbclid=x#top"
    assert first.canonical_link == "https://news.example/a?id=1"
    assert second.guid is None and second.canonical_link is None and second.link is None


def test_alternate_link_is_used_when_the_main_one_is_not_http() -> None:
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        "<id>urn:f</id><entry><id>tag:x.example,2024:thesis</id><title>Thesis</title>"
        '<link rel="alternate" type="application/pdf" href="https://x.example/thesis.pdf"/></entry></feed>'
    )
    (entry,) = _parse(doc).entries
    assert entry.link == "https://x.example/thesis.pdf"
    assert entry.key == hashlib.sha256(b"tag:x.example,2024:thesis").hexdigest()


@pytest.mark.parametrize(
    ("pub", "expected"),
    [
        ("2020/1/10 14:23:00", datetime(2020, 1, 10, 14, 23, tzinfo=UTC)),
        ("2017-2-14 00:12 +8", datetime(2017, 2, 13, 16, 12, tzinfo=UTC)),
        ("2014-09-26", datetime(2014, 9, 26, tzinfo=UTC)),
        ("2006-01-11 16:43:22 -0800", datetime(2006, 1, 12, 0, 43, 22, tzinfo=UTC)),
        ("2020/13/45", NOW),
        ("2020/1/10 14:23 +25", NOW),
    ],
    ids=["slashes", "short-offset", "date-only", "offset", "impossible", "bad-offset"],
)
def test_numeric_dates(pub: str, expected: datetime) -> None:
    (entry,) = _parse(rss([{"title": "t", "guid": "g", "pubDate": pub}])).entries
    assert entry.published == expected


DATES = [
    ("mer, 16 nov 2022 00:38:15 +0100", datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC), "italian"),
    ("Mi, 16 Nov 2022 00:38:15 +0100", datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC), "german"),
    ("Do, 05 Mär 2020 10:00:00 MEZ", datetime(2020, 3, 5, 9, tzinfo=UTC), "german-umlaut-zone-name"),
    ("mié, 16 nov 2022 00:38:15 +0100", datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC), "spanish"),
    ("Seg, 24 Set 2018 19:35:07 -0300", datetime(2018, 9, 24, 22, 35, 7, tzinfo=UTC), "portuguese"),
    ("lun., 03 févr. 2020 10:00:00 +0100", datetime(2020, 2, 3, 9, tzinfo=UTC), "french"),
    ("ma, 03 mrt 2020 10:00:00 +0100", datetime(2020, 3, 3, 9, tzinfo=UTC), "dutch"),
    ("Fri,24 Nov 2023 10:00:00 GMT", datetime(2023, 11, 24, 10, tzinfo=UTC), "no-space-after-comma"),
    ("24 Nov 2023 10:00 +0000", datetime(2023, 11, 24, 10, tzinfo=UTC), "no-weekday"),
    ("Wed, 27 July 2011 01:30:00 EST", datetime(2011, 7, 27, 6, 30, tzinfo=UTC), "full-month-name"),
    ("2022年11月16日 00:38", datetime(2022, 11, 16, 0, 38, tzinfo=UTC), "chinese"),
    ("2024年6月25日(火) 14時7分", datetime(2024, 6, 25, 14, 7, tzinfo=UTC), "japanese"),
    ("2004년 05월 28일 01:31:15", datetime(2004, 5, 28, 1, 31, 15, tzinfo=UTC), "korean"),
    ("2004년 05월 28일 (금) 오후 01:31:15", datetime(2004, 5, 28, 13, 31, 15, tzinfo=UTC), "korean-pm"),
    ("2024年6月25日 下午3点20分", datetime(2024, 6, 25, 15, 20, tzinfo=UTC), "chinese-pm"),
    ("2013-01-28T11:30:00-06:00", datetime(2013, 1, 28, 17, 30, tzinfo=UTC), "rfc3339"),
    ("2013-01-28T11:30:00-06:00Textra", NOW, "junk-after-a-date"),
    ("22013", NOW, "bare-number"),
    ("2022", NOW, "year-only"),
    ("2022-11", NOW, "no-day"),
    ("Mon, 31 Feb 2022 10:00:00 +0100", NOW, "impossible-day"),
    ("16 Brumaire 2022 10:00", NOW, "unknown-month-word"),
]


@pytest.mark.parametrize(("pub", "expected"), [c[:2] for c in DATES], ids=[c[2] for c in DATES])
def test_dates_by_their_numbers_and_zone(pub: str, expected: datetime) -> None:
    (entry,) = _parse(rss([{"title": "t", "guid": "g", "pubDate": pub}])).entries
    assert entry.published == expected
    item = {"id": "g", "content_text": "t", "date_published": pub}
    (entry,) = _parse(json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [item]})).entries
    assert entry.published == expected


@pytest.mark.parametrize("pub", ["2022年11月16日 00:38", "2022", "2022-11", "22013"])
def test_dates_never_depend_on_the_clock(monkeypatch: pytest.MonkeyPatch, pub: str) -> None:
    """feedparser fills in what a string lacks from time.gmtime(); two clocks, one answer."""
    doc = rss([{"title": "t", "guid": "g", "pubDate": pub}])
    seen = set()
    for clock in (
        time.struct_time((2026, 1, 20, 0, 0, 0, 1, 20, 0)),
        time.struct_time((2030, 7, 9, 0, 0, 0, 1, 190, 0)),
    ):
        monkeypatch.setattr(time, "gmtime", lambda *_, c=clock: c)
        seen.add(_parse(doc).entries[0].published)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("<ttl>60</ttl>", 3600.0),
        ("<ttl> 15 </ttl>", 900.0),
        ("<ttl>0</ttl>", None),
        ("<ttl>soon</ttl>", None),
        ("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", 1800.0),
        ("<sy:updatePeriod>daily</sy:updatePeriod>", 86400.0),
        ("<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>0</sy:updateFrequency>", None),
        ("", None),
    ],
    ids=["ttl", "ttl-padded", "ttl-zero", "ttl-garbage", "sy-hourly-twice", "sy-daily", "sy-zero", "none"],
)
def test_ttl(channel: str, expected: float | None) -> None:
    doc = rss([{"title": "t", "guid": "g"}]).replace(
        "<channel>", f'<channel xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">{channel}'
    )
    assert _parse(doc).ttl_seconds == expected


@pytest.mark.parametrize(
    ("value", "age", "expected"),
    [
        ("max-age=300", None, 300.0),
        ("public, max-age=300", "100", 200.0),
        ("max-age=300", "999", 0.0),
        ('max-age="60"', None, 60.0),
        ("s-maxage=600, max-age=60", None, 600.0),
        ("max-age=300, no-cache", None, None),
        ("no-store", None, None),
        ("max-age=-1", None, None),
        ("max-age=abc", None, None),
        ("private", None, None),
        ("", None, None),
        (None, None, None),
    ],
    ids=["max-age", "minus-age", "stale", "quoted", "s-maxage-wins", "no-cache", "no-store", "negative",
         "garbage", "no-lifetime", "empty", "missing"],
)  # fmt: skip
def test_parse_cache_control(value: str | None, age: str | None, expected: float | None) -> None:
    assert feeds.parse_cache_control(value, age) == expected


async def test_max_age_is_reported_on_200_and_304(server: FeedServer, session: Any) -> None:
    server.set_feed("/f", rss([]), headers={"Cache-Control": "public, max-age=900"})
    first = await fetch(session, server.url("/f"), LOCAL)
    assert first.status == 200 and first.max_age == 900.0
    second = await fetch(session, server.url("/f"), LOCAL, etag=first.etag)
    assert second.not_modified and second.max_age == 900.0
    server.set_feed("/plain", rss([]))
    assert (await fetch(session, server.url("/plain"), LOCAL)).max_age is None


CHARSETS = [
    ("header-utf8-bytes-cp1251", "application/rss+xml; charset=utf-8", "", "cp1251", b""),
    ("bom-beats-declaration", "application/xml", ' encoding="windows-1251"', "utf-8", b"\xef\xbb\xbf"),
    ("undeclared-cp1251", "application/xml", "", "cp1251", b""),
    ("declared-koi8r", "application/xml", ' encoding="koi8-r"', "koi8-r", b""),
    ("bom-utf16le", "text/html", ' encoding="utf-16"', "utf-16-le", b"\xff\xfe"),
]
RUSSIAN = "Сегодня в Москве из-за сильных морозов объявлен оранжевый уровень опасности погоды"


@pytest.mark.parametrize(
    ("content_type", "declaration", "encoding", "prefix"),
    [c[1:] for c in CHARSETS],
    ids=[c[0] for c in CHARSETS],
)
def test_s2_input_6_wrong_or_missing_charset_still_reads(
    content_type: str, declaration: str, encoding: str, prefix: bytes
) -> None:
    doc = (
        f'<?xml version="1.0"{declaration}?><rss version="2.0"><channel><title>Новости</title>'
        f"<item><title>{RUSSIAN}</title><guid>1</guid><description>{RUSSIAN}.</description></item>"
        "</channel></rss>"
    )
    feed = _parse(prefix + doc.encode(encoding), headers={"Content-Type": content_type})
    assert feed.entries[0].title == RUSSIAN


def test_s2_input_6_invalid_bytes_do_not_raise() -> None:
    body = rss([{"title": "Grüße", "guid": "1"}, {"title": "second", "guid": "2"}]).encode()
    body = body.replace("Grüße".encode(), b"Gr\xff\xfe\xc3e")
    feed = _parse(body, headers={"Content-Type": "application/rss+xml; charset=utf-8"})
    assert [e.guid for e in feed.entries] == ["1", "2"] and feed.entries[1].title == "second"


def test_chardet_is_installed() -> None:
    # feedparser uses chardet when it can import it; without it undeclared legacy charsets
    # (GB2312, Big5, Latin-1 without a declaration) come out as mojibake.
    import feedparser.encodings

    assert feedparser.encodings.chardet is not None


GB18030_TITLES = [
    "国家航天局：嫦娥六号完成月背采样并安全返回",
    "深圳地铁新线开通，沿线居民出行更方便",
    "罕见字测试：𠀀𪚥𫠠 与表情 😀 都能显示",
]


@pytest.mark.parametrize("name", ["gb18030-zh-rss2.xml", "gb18030-undeclared-zh-rss2.xml"])
async def test_gb18030_chinese_feed(server: FeedServer, session: Any, name: str) -> None:
    server.set_feed(f"/{name}", (DATA / name).read_bytes(), content_type="application/rss+xml")
    result = await fetch(session, server.url(f"/{name}"), LOCAL)
    feed = await parse(result.body, url=result.url, headers=result.headers, now=NOW)
    assert feed.title == "新闻中心 · 测试频道" and feed.ttl_seconds == 1800.0
    assert [e.title for e in feed.entries] == GB18030_TITLES
    assert feed.entries[0].summary.startswith("6月25日14时7分，嫦娥六号返回器")
    assert feed.entries[0].published == datetime(2024, 6, 24, 16, tzinfo=UTC)
    assert feed.entries[2].key == hashlib.sha256(b"news-2").hexdigest()


def test_broken_dates_file() -> None:
    feed = _parse((DATA / "broken-dates-rss2.xml").read_bytes())
    published = {e.guid: e.published for e in feed.entries}
    assert len(published) == 12
    for case in ("far-future", "garbage", "empty", "out-of-range", "huge-year", "missing"):
        assert published[f"urn:dates:{case}"] == NOW, case
    assert published["urn:dates:portuguese"] == datetime(2018, 9, 24, 22, 35, 7, tzinfo=UTC)
    assert published["urn:dates:epoch"] == datetime(1970, 1, 1, tzinfo=UTC)
    assert published["urn:dates:slash-no-zone"] == datetime(2020, 1, 10, 14, 23, tzinfo=UTC)
    assert published["urn:dates:est-double-space"] == datetime(2025, 11, 5, 18, 52, 10, tzinfo=UTC)
    assert published["urn:dates:date-only"] == datetime(2014, 9, 26, tzinfo=UTC)
    assert all(e.key == hashlib.sha256(e.guid.encode()).hexdigest() for e in feed.entries if e.guid)


def test_hostile_titles_file() -> None:
    feed = _parse((DATA / "hostile-titles-rss2.xml").read_bytes(), url="https://hostile.example/feed")
    entries = {e.guid.removeprefix("urn:hostile:"): e for e in feed.entries if e.guid}
    titles = {name: e.title for name, e in entries.items()}
    assert feed.title == "Hostile & titles"  # "&amp;amp;" in XML is "&amp;" in HTML: one "&"
    assert titles["script"] == "&"
    assert titles["double-escaped"] == "AT&T earnings"
    assert titles["nbsp"] == "Tom & Jerry"
    assert titles["bidi"] == "invoiceexe.pdf and zerowidth"
    assert titles["surrogate-ref"] == "lone \ufffd surrogate" and titles["nul-ref"] == "nul \ufffd here"
    assert titles["cdata-html"] == "Café news"
    assert titles["entity-soup"] == "<>\"'&"
    assert titles["telegram-tags"] == "click s"
    assert entries["javascript-link"].link is None and entries["data-link"].link is None
    assert entries["quote-link"].link == "https://hostile.example/a%22onmouseover=%22alert(1)"
    assert entries["relative-link"].link == "https://hostile.example/p/relative"
    for entry in feed.entries:
        assert not any(ch in entry.title for ch in "\x00\u202e\u200b\u2066\ud800")


def test_s2_input_9_huge_fields_are_bounded() -> None:
    summary = "<p>A sentence that goes on. " * 170_000  # ~4.6 MB of HTML
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><item>'
        f"<title>{'x' * 200_000}</title><guid>1</guid><description><![CDATA[{summary}]]></description>"
        "</item></channel></rss>"
    ).encode()
    assert len(doc) < 5 * 1024 * 1024
    started = time.monotonic()
    (entry,) = _parse(doc).entries
    assert time.monotonic() - started < 1.0
    assert len(entry.title) == feeds.MAX_TITLE_CHARS
    assert 0 < len(entry.summary) <= feeds.MAX_SUMMARY_CHARS
    assert entry.summary.startswith("A sentence that goes on.\nA sentence")


async def test_s1_row22_s2_input_14_big_feed_parses_off_the_loop(server: FeedServer, session: Any) -> None:
    items = [
        {"title": f"Item {i} " + "words " * 30, "guid": f"g{i}", "link": f"https://x.example/{i}",
         "description": "<p>" + "text " * 40 + "</p>"}
        for i in range(10_000)
    ]  # fmt: skip
    body = rss(items).encode()
    assert 3 * 1024 * 1024 < len(body) < 5 * 1024 * 1024
    server.set_feed("/big", body)
    result = await fetch(session, server.url("/big"), LOCAL)
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    try:
        feed = await parse(result.body, url=result.url, headers=result.headers, now=NOW)
    finally:
        task.cancel()
    assert len(feed.entries) == 10_000 and len({e.key for e in feed.entries}) == 10_000
    assert gaps and max(gaps) < 0.5  # the loop kept answering while feedparser worked


# --- newsbot feeds check ---------------------------------------------------------------------


async def test_check_feed_prints_what_would_be_stored(server: FeedServer) -> None:
    items = [{"title": f"Story {i}", "guid": f"g{i}", "link": f"/s/{i}", "description": f"<p>Text {i}.</p>",
              "pubDate": "Tue, 02 Jan 2024 10:00:00 GMT" if i else "mañana"} for i in range(12)]  # fmt: skip
    server.set_feed("/feed", rss(items, title="Local news"), headers={"Cache-Control": "max-age=600"})
    server.set_redirect("/old", "/feed", 301)
    out = io.StringIO()
    url = server.url("/old").replace("http://", "http://reader:s3cret@")
    assert await check_feed(url, allow_private=True, out=out) == 0
    report = out.getvalue()
    assert "s3cret" not in report and "reader" not in report
    assert "Local news" in report and server.url("/feed") in report and "permanently" in report
    assert "HTTP 200" in report and "Cache-Control 600 s" in report
    assert "12 (12 with an id, 12 with a link)" in report
    assert "Story 9" in report and "Story 10" not in report and "and 2 more" in report
    assert hashlib.sha256(b"g0").hexdigest()[:12] in report
    assert f"{server.root}/s/0" in report and "Text 0." in report and "2024-01-02T10:00:00+00:00" in report
    assert report.count("(fetch time: no usable date)") == 1


@pytest.mark.parametrize(
    ("path", "allow_private", "message"),
    [
        ("/missing", True, "error: HTTP 404"),
        ("/html", True, "error: not a feed"),
        ("/feed", False, "error: refused: private address"),
        ("file:///etc/passwd", True, "error: refused: only http and https URLs"),
    ],
    ids=["404", "not-a-feed", "private", "scheme"],
)
async def test_check_feed_errors_are_one_line(
    server: FeedServer, path: str, allow_private: bool, message: str
) -> None:
    server.set_status("/html", 200, body=b"<html><body>hello</body></html>")
    server.set_feed("/feed", rss([]))
    out = io.StringIO()
    url = path if "://" in path else server.url(path)
    assert await check_feed(url, allow_private=allow_private, out=out) == 1
    assert out.getvalue() == message + "\n"
