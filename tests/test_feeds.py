"""Fetching and parsing against a real local publisher (tests/fakes/feed_server.py)."""

from __future__ import annotations

import asyncio
import builtins
import gzip
import hashlib
import json
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ConnectionKey

from bot import feeds, urlguard
from bot.domain import FetchError, ParseError
from bot.feeds import FetchLimits, HttpStatusError, fetch, make_http_session, parse, parse_feed
from bot.urlguard import AddressRefusedError
from tests.fakes.feed_server import FeedServer, atom, rss

LOCAL = FetchLimits(allow_private=True, total_timeout=5.0)  # the fake publisher lives on loopback
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
# Documented non-feeds in the corpus: they must fail with exactly this error.
CORPUS_NOT_FEEDS = {"scriptingnews-rss-as-json-not-jsonfeed.json": "not a feed"}


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


async def test_conditional_get_sends_validators_and_gets_304(server: FeedServer, session: Any) -> None:
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
async def test_empty_200_counts_as_not_modified(
    server: FeedServer, session: Any, body: bytes, headers: dict[str, str]
) -> None:
    server.set_status("/f", 200, body=body, headers=headers)
    assert (await fetch(session, server.url("/f"), LOCAL)).status == 304


async def test_200_with_our_etag_counts_as_not_modified(server: FeedServer, session: Any) -> None:
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


async def test_retry_after_is_kept_on_the_error(server: FeedServer, session: Any) -> None:
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
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert feeds.parse_retry_after(value, NOW) == expected


async def test_slow_server_times_out_quickly(server: FeedServer, session: Any) -> None:
    server.set_feed("/slow", rss([]))
    server.set_delay("/slow", 5.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"^timeout$"):
        await fetch(session, server.url("/slow"), FetchLimits(allow_private=True, total_timeout=0.5))
    assert time.monotonic() - started < 1.5


async def test_trickling_body_times_out(server: FeedServer, session: Any) -> None:
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
async def test_oversized_bodies_abort_with_bounded_memory(
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


async def test_credentials_are_sent_but_never_shown(server: FeedServer, session: Any) -> None:
    server.set_status("/private", 404)
    url = server.url("/private").replace("http://", "http://reader:s3cret@")
    with pytest.raises(FetchError) as info:
        await fetch(session, url, LOCAL)
    assert "s3cret" not in str(info.value) and "reader" not in str(info.value)
    assert server.requests[-1].headers["Authorization"].startswith("Basic ")


async def test_refused_url_is_never_requested(session: Any) -> None:
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
    with pytest.raises(FetchError) as info, feeds._client_errors():
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
async def test_name_resolving_to_loopback(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch, allow_private: bool
) -> None:
    monkeypatch.setattr(urlguard, "ThreadedResolver", lambda: _FixedResolver("127.0.0.1"))
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


async def test_permanent_redirect_chain_sets_moved_to(server: FeedServer, session: Any) -> None:
    server.set_redirect("/old", "/mid", 301)
    server.set_redirect("/mid", server.url("/new"), 308)
    server.set_feed("/new", rss([]))
    result = await fetch(session, server.url("/old"), LOCAL)
    assert result.status == 200 and result.url == server.url("/new")
    assert result.moved_to == server.url("/new")


@pytest.mark.parametrize("chain", [(302,), (307,), (303,), (301, 302), (302, 301)], ids=str)
async def test_temporary_hop_keeps_the_url(server: FeedServer, session: Any, chain: tuple[int, ...]) -> None:
    for i, status in enumerate(chain):
        server.set_redirect(f"/r{i}", f"/r{i + 1}", status)
    server.set_feed(f"/r{len(chain)}", rss([]))
    result = await fetch(session, server.url("/r0"), LOCAL)
    assert result.status == 200 and result.url == server.url(f"/r{len(chain)}")
    assert result.moved_to is None


async def test_no_redirect_no_moved_to(server: FeedServer, session: Any) -> None:
    server.set_feed("/f", rss([]))
    assert (await fetch(session, server.url("/f"), LOCAL)).moved_to is None


async def test_redirect_loop_is_an_error(server: FeedServer, session: Any) -> None:
    server.set_redirect("/a", "/b", 301)
    server.set_redirect("/b", "/a", 301)
    with pytest.raises(FetchError, match=r"^too many redirects$"):
        await fetch(session, server.url("/a"), LOCAL)
    assert server.hits("/a") == 1 and server.hits("/b") == 1


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)], ids=["five-hops", "six-hops"])
async def test_redirect_hop_limit(server: FeedServer, session: Any, hops: int, ok: bool) -> None:
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
async def test_redirect_to_refused_target(
    server: FeedServer, stub: FeedServer, session: Any, location: str, reason: str
) -> None:
    server.set_redirect("/go", location.format(port=stub.port))
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        await fetch(session, server.url("/go"), LOCAL)
    assert str(info.value) == reason
    assert stub.requests == []
    assert time.monotonic() - started < 1.0  # refused before any connection attempt


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["literal", "name"])
async def test_public_to_private_redirect_refused_even_when_private_allowed(
    server: FeedServer, stub: FeedServer, session: Any, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    # The fake publisher is on loopback; pretend it answered from a public address.
    async def public(url: str) -> bool:
        return True

    monkeypatch.setattr(feeds, "_origin_is_public", public)
    server.set_redirect("/go", f"http://{host}:{stub.port}/x")
    with pytest.raises(FetchError, match=r"^refused: private address$"):
        await fetch(session, server.url("/go"), LOCAL)
    assert stub.requests == []


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
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"^not a feed$"):
        _parse(body)


def test_path_body_never_opens_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
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
]


@pytest.mark.parametrize(("link", "expected"), [c[:2] for c in LINKS], ids=[c[2] for c in LINKS])
def test_links(link: str, expected: str | None) -> None:
    doc = rss([{"title": "t", "link": link, "guid": "g"}])
    (entry,) = _parse(doc, url="http://reader:s3cret@feeds.example/dir/feed.xml").entries
    assert entry.link == expected


HOSTILE_TITLES = [
    ("<script>x</script> & <b>", "&", "script-and-tags"),
    ("AT&amp;T", "AT&T", "escaped-once"),
    ("Tom&nbsp;&amp;&nbsp;Jerry", "Tom & Jerry", "nbsp"),
    ("evil\u202eexe\u200b.txt", "evilexe.txt", "bidi-and-zero-width"),
    ("a&#0;b", "a\ufffdb", "nul-reference"),
    ("x" * 200_000, "x" * 200_000, "huge"),
    ("   \n\t  ", "(untitled)", "blank"),
]


@pytest.mark.parametrize(
    ("title", "expected"), [c[:2] for c in HOSTILE_TITLES], ids=[c[2] for c in HOSTILE_TITLES]
)
def test_hostile_titles(title: str, expected: str) -> None:
    (entry,) = _parse(rss([{"title": title, "guid": "g", "link": "https://x.example/"}])).entries
    assert entry.title == expected


def test_hostile_xml_does_not_expand_or_read_files() -> None:
    doc = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY x SYSTEM "file:///etc/hostname">]><rss version="2.0"><channel><title>t</title>'
        "<item><title>&b; &x;</title><guid>1</guid></item></channel></rss>"
    )
    feed = _parse(doc)
    assert all(len(e.title) < 100 for e in feed.entries)
    assert socket.gethostname() not in " ".join(e.title for e in feed.entries)


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
    ],
    ids=["past", "epoch", "far-future", "slightly-ahead", "garbage", "missing"],
)
def test_published(pub: str | None, expected: datetime) -> None:
    (entry,) = _parse(rss([{"title": "t", "guid": "g", "pubDate": pub}])).entries
    assert entry.published == expected and entry.published.tzinfo is not None


def test_repeated_guids_get_distinct_keys() -> None:
    items = [{"title": f"t{i}", "guid": "same", "link": f"https://x.example/{i}"} for i in range(50)]
    items += [{"title": "dup", "guid": "twice", "link": "https://x.example/same"}] * 2
    keys = [e.key for e in _parse(rss(items)).entries]
    assert len(keys) == len(set(keys)) == 52
    assert keys[0] == hashlib.sha256(b"same|https://x.example/0").hexdigest()


def test_items_without_guid_or_link_get_distinct_keys() -> None:
    items = [{"title": f"t{i}", "description": "same text"} for i in range(5)]
    items += [{"title": "twin", "description": "d"}] * 2
    items += [{"title": f"shared link {i}", "link": "https://x.example/one"} for i in range(3)]
    keys = [e.key for e in _parse(rss(items)).entries]
    assert len(set(keys)) == len(keys) == 10


def test_keys_are_stable_across_parses_and_fetch_times() -> None:
    items = [
        {"title": "a", "guid": "g1"},
        {"title": "b", "link": "https://x.example/b"},
        {"title": "c", "description": "no id"},
        {"title": "d", "guid": "g2"},
        {"title": "e", "guid": "g2"},
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


async def test_parse_runs_in_a_thread() -> None:
    feed = await parse(
        rss([{"title": "t", "guid": "1"}]).encode(), url="http://x.example/f", headers={}, now=NOW
    )
    assert feed.entries[0].title == "t"


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=utf-8", "text/plain", "application/octet-stream"]
)
def test_feed_with_wrong_content_type_still_parses(content_type: str) -> None:
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


# --- the real-world corpus, end to end ------------------------------------------------------

CORPUS_FILES = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="shared feed corpus not present")
@pytest.mark.parametrize("name", CORPUS_FILES or ["none"])
async def test_corpus_feed(server: FeedServer, session: Any, name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    if name.endswith(".gz"):
        server.set_feed(
            f"/{name}", raw, content_type="application/rss+xml", headers={"Content-Encoding": "gzip"}
        )
    elif name.endswith(".json"):
        server.set_feed(f"/{name}", raw, content_type="application/feed+json")
    else:  # no charset parameter: the document's own declaration decides
        server.set_feed(f"/{name}", raw, content_type="application/xml")
    result = await fetch(session, server.url(f"/{name}"), LOCAL)
    assert result.status == 200
    if name in CORPUS_NOT_FEEDS:
        with pytest.raises(ParseError, match=rf"^{CORPUS_NOT_FEEDS[name]}$"):
            parse_feed(result.body, url=result.url, headers=result.headers, now=NOW)
        return
    feed = await asyncio.to_thread(parse_feed, result.body, url=result.url, headers=result.headers, now=NOW)
    again = parse_feed(result.body, url=result.url, headers=result.headers, now=NOW)
    keys = [e.key for e in feed.entries]
    assert keys == [e.key for e in again.entries]
    assert len(set(keys)) == len(keys)
    for entry in feed.entries:
        assert entry.title and "\n" not in entry.title
        assert entry.title != "(untitled)" or entry.summary or entry.content
        assert not any(c in entry.title + entry.summary for c in "\x00\u202e\u200b\ufeff")
        if entry.link is not None:
            parts = urlsplit(entry.link)
            assert parts.scheme in ("http", "https") and parts.hostname
        assert entry.published.tzinfo is not None and entry.published <= NOW + timedelta(days=1)
