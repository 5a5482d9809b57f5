"""The shared corpus of real published feeds, end to end through fetch and parse.

The corpus lives in `shared/corpus` beside the repository; without it these tests skip.
"""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.domain import EntryDraft, ParseError
from bot.feeds import FetchLimits, fetch, make_http_session, parse_feed
from tests.fakes.feed_server import FeedServer

LOCAL = FetchLimits(allow_private=True, total_timeout=10.0)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS = CORPUS_DIR / "feeds"
CORPUS_FILES = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []

# Documented non-feeds in the corpus: they must fail with exactly this error.
NOT_FEEDS = {"scriptingnews-rss-as-json-not-jsonfeed.json": "not a feed"}
# Where we keep fewer items than the README's count, and why.
FEWER_ITEMS = {
    "lecerclepsy-undeclared-latin1-rss2.xml": 9,  # one <item> has only a pubDate: nothing to show
    "scripting-grateful-dead-rss092-enclosures.xml": 21,  # one item is listed twice, byte for byte
}
# Feeds whose items carry no link at all; every item of every other feed must get one.
WITHOUT_LINKS = {
    "gb2312-undeclared-fragment-rss.xml",
    "macstroke-sparkle-appcast-multi-channel-rss2.xml",
    "scripting-grateful-dead-rss092-enclosures.xml",
}
# Mojibake at the source (UTF-8 read as Windows-1252 when the file was captured): not ours to fix.
DOUBLE_ENCODED = {"yandex-news-moscow-double-encoded-utf8-rss2.xml"}
# Undeclared legacy charsets that must be detected (chardet) and come out readable.
SNIFFED = {
    "gb2312-undeclared-fragment-rss.xml": "不归移民漫画系列：专业工作",
    "big5-undeclared-fragment-atom.xml": "我希望",
    "lecerclepsy-undeclared-latin1-rss2.xml": "études",
    "uol-noticias-no-xmldecl-latin1-rss.xml": "simulações",
}

# UTF-8 read as Latin-1/Windows-1252: a lead byte (Â-ß, à-ï, ð-ô) followed by the right number of
# continuation bytes shown as Latin-1 or cp1252 characters ("Ã©", "Ð¯", "â€™"); and legacy
# double-byte text read as Latin-1, which gives long runs of accented letters ("²»¹éÒÆÃñ").
_CONT = (
    "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
MOJIBAKE = re.compile(
    f"[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}|[\u00f0-\u00f4]{_CONT}{{3}}|[\u0080-\u00ff]{{4,}}"
)


def readme_counts() -> dict[str, int]:
    """The Items column of the corpus README (its leading number)."""
    readme = CORPUS_DIR / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    rows = re.finditer(r"^\| `([^`]+)` \|[^|]*\|[^|]*\| (\d+)", text, re.MULTILINE)
    return {m.group(1): int(m.group(2)) for m in rows}


README_COUNTS = readme_counts()


def mojibake(text: str) -> list[str]:
    return [m.group(0) for m in MOJIBAKE.finditer(text)]


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("Ð¯Ð½Ð´ÐµÐºÑ", True),
        ("cafÃ© crÃ¨me", True),
        ("donâ€™t", True),
        ("²»¹éÒÆÃñÂþ»", True),
        ("Grüße aus Köln, l'été à Paris", False),
        ("Slovenská môže ísť ďalej", False),
        ("São Paulo: simulações do 2º turno", False),
        ("Яндекс · 中文 · مرحبا", False),
    ],
    ids=["cyrillic", "french", "quote", "gb-as-latin1", "german-french", "slovak", "portuguese", "scripts"],
)
def test_mojibake_detector(text: str, bad: bool) -> None:
    assert bool(mojibake(text)) is bad


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    http = make_http_session(LOCAL)
    yield http
    await http.close()


def serve(server: FeedServer, name: str) -> str:
    raw = (CORPUS / name).read_bytes()
    if name.endswith(".gz"):  # served as a publisher would: gzip on the wire, decoded by the client
        server.set_feed(
            f"/{name}", raw, content_type="application/rss+xml", headers={"Content-Encoding": "gzip"}
        )
    elif name.endswith(".json"):
        server.set_feed(f"/{name}", raw, content_type="application/feed+json")
    else:  # no charset parameter: the document's own declaration (or detection) decides
        server.set_feed(f"/{name}", raw, content_type="application/xml")
    return server.url(f"/{name}")


def check_entry(name: str, entry: EntryDraft) -> None:
    assert entry.title and "\n" not in entry.title
    assert entry.title != "(untitled)" or entry.summary or entry.content
    text = f"{entry.title}\n{entry.summary}\n{entry.content}"
    assert not any(c in text for c in "\x00\u202e\u200b\ufeff\ufffd")
    if name not in DOUBLE_ENCODED:
        assert not mojibake(text), mojibake(text)[:5]
    if name in WITHOUT_LINKS:
        assert entry.link is None
    else:
        assert entry.link is not None
        parts = urlsplit(entry.link)
        assert parts.scheme in ("http", "https") and parts.hostname
        assert entry.canonical_link is not None and entry.canonical_link.startswith("https://")
    assert entry.published.tzinfo is not None and entry.published <= NOW + timedelta(days=1)
    assert len(entry.key) == 64


@pytest.mark.skipif(not CORPUS_FILES, reason="shared feed corpus not present")
@pytest.mark.parametrize("name", CORPUS_FILES or ["none"])
async def test_corpus_feed(feed_server: FeedServer, session: Any, name: str) -> None:
    """Fetched from the local feed server (the shared fixture) and parsed, twice."""
    server = feed_server
    url = serve(server, name)
    first = await fetch(session, url, LOCAL)
    assert first.status == 200 and first.body
    if name in NOT_FEEDS:
        with pytest.raises(ParseError, match=rf"^{NOT_FEEDS[name]}$"):
            parse_feed(first.body, url=first.url, headers=first.headers, now=NOW)
        return
    feed = await asyncio.to_thread(parse_feed, first.body, url=first.url, headers=first.headers, now=NOW)

    expected = FEWER_ITEMS.get(name, README_COUNTS.get(name))
    if expected is not None:
        assert len(feed.entries) == expected
    if name not in DOUBLE_ENCODED:
        assert not mojibake(feed.title)
    for entry in feed.entries:
        check_entry(name, entry)
    if name in SNIFFED:
        assert SNIFFED[name] in " ".join([feed.title] + [e.title + e.summary for e in feed.entries])

    # Identity: stable across parses, fetch times and a move of the feed; unique within the feed.
    keys = [e.key for e in feed.entries]
    assert len(set(keys)) == len(keys)
    moved = parse_feed(
        first.body, url="https://moved.example/feed", headers=first.headers, now=NOW + timedelta(days=2)
    )
    assert [e.key for e in moved.entries] == keys

    # The second poll is a conditional GET that costs nothing: 304, no body to parse, no alerts.
    second = await fetch(session, url, LOCAL, etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    assert server.requests[-1].headers.get("If-None-Match") == first.etag


@pytest.mark.skipif(not CORPUS_FILES, reason="shared feed corpus not present")
def test_corpus_gzip_file_is_really_compressed() -> None:
    # Guards the serving rule above: the .gz file must reach parse_feed decompressed.
    raw = (CORPUS / "nshipster-invalid-chars-rss2.xml.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and b"<rss" in gzip.decompress(raw)[:500]
