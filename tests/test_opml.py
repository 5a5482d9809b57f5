"""OPML import and export: round trips, real-world shapes and hostile documents."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from bot.domain import ParseError
from bot.opml import MAX_OPML_BYTES, MAX_OPML_FEEDS, OpmlFeed, build_opml, parse_opml

FEEDS = [
    ("https://news.example/rss.xml", "News & Views <daily>"),
    ("http://blog.example/feed?format=atom&lang=de", "Blog \"quoted\" 'single'"),
    ("https://xn--bcher-kva.example/feed", "Bücher · 书 · книги"),
    ("https://tabs.example/feed", "tab\there\nnewline"),
]


def test_round_trip() -> None:
    data = build_opml(FEEDS)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert parse_opml(data) == [OpmlFeed(url, " ".join(title.split())) for url, title in FEEDS]


def test_export_is_opml_2_with_a_title_and_no_credentials() -> None:
    data = build_opml([("https://reader:s3cret@private.example/feed", "Private")], title="My & feeds")
    assert b'<opml version="2.0">' in data and b"<title>My &amp; feeds</title>" in data
    assert b"s3cret" not in data and b"reader" not in data
    assert parse_opml(data) == [OpmlFeed("https://private.example/feed", "Private")]
    kept = build_opml([("https://reader:s3cret@private.example/feed", "Private")], keep_credentials=True)
    assert parse_opml(kept)[0].url == "https://reader:s3cret@private.example/feed"


def test_export_drops_characters_xml_cannot_carry() -> None:
    data = build_opml([("https://x.example/f", "bad\x00\x0b\ud800\ufffe chars")])
    assert parse_opml(data) == [OpmlFeed("https://x.example/f", "bad chars")]


def test_export_of_nothing_is_still_valid() -> None:
    assert parse_opml(build_opml([])) == []


def test_untitled_feed_exports_its_url_as_text() -> None:
    assert parse_opml(build_opml([("https://x.example/f", "")])) == [
        OpmlFeed("https://x.example/f", "https://x.example/f")
    ]


def test_real_world_shapes() -> None:
    data = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!-- exported by some reader -->
<opml version="1.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Tech" title="Tech">
      <outline text="Caf\xe9" type="rss" xmlUrl="  https://cafe.example/feed  " htmlUrl="https://cafe.example/"/>
      <outline text="Deeper">
        <outline title="Only title" xmlURL="https://deep.example/rss"/>
      </outline>
    </outline>
    <outline text="No feed here" htmlUrl="https://site.example/"/>
    <outline text="Empty" xmlUrl=""/>
    <outline text="Again" xmlUrl="https://cafe.example/feed"/>
    <outline type="rss" xmlurl="https://lower.example/feed"/>
  </body>
</opml>"""
    assert parse_opml(data) == [
        OpmlFeed("https://cafe.example/feed", "Café"),
        OpmlFeed("https://deep.example/rss", "Only title"),
        OpmlFeed("https://lower.example/feed", ""),
    ]


def test_urls_are_returned_as_written_for_the_caller_to_check() -> None:
    data = b'<opml><body><outline xmlUrl="file:///etc/passwd"/><outline xmlUrl="not a url"/></body></opml>'
    assert [f.url for f in parse_opml(data)] == ["file:///etc/passwd", "not a url"]


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a0 "lol">'
    + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    + b']><opml><body><outline text="&a9;" xmlUrl="https://x.example/"/></body></opml>'
)

HOSTILE = [
    (BILLION_LAUGHS, "invalid OPML: entities are not allowed", "billion-laughs"),
    (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b'<opml><body><outline text="&x;" xmlUrl="https://x.example/"/></body></opml>',
     "invalid OPML: entities are not allowed", "external-entity"),
    (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>'
     b"<opml/>", "invalid OPML: entities are not allowed", "parameter-entity"),
    (b'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "http://127.0.0.1:1/opml.dtd"><opml><body>'
     b'<outline xmlUrl="https://x.example/"/></body></opml>', None, "external-dtd-not-fetched"),
    (b'<opml><body><outline text="&undefined;" xmlUrl="https://x.example/"/></body></opml>',
     "invalid OPML: not well-formed XML", "undefined-entity"),
    (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "invalid OPML: not an OPML file", "rss"),
    (b"<html><body>Not found</body></html>", "invalid OPML: not an OPML file", "html"),
    (b"", "invalid OPML: not well-formed XML", "empty"),
    (b"\x00\xff\xfe garbage", "invalid OPML: not well-formed XML", "binary"),
    (b"<opml><body><outline xmlUrl='https://x.example/'>", "invalid OPML: not well-formed XML", "truncated"),
    (b'<?xml version="1.0" encoding="x-no-such"?><opml/>', "invalid OPML: not well-formed XML",
     "unknown-encoding"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "error"), [c[:2] for c in HOSTILE], ids=[c[2] for c in HOSTILE])
def test_hostile_documents(data: bytes, error: str | None) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        if error is None:
            assert [f.url for f in parse_opml(data)] == ["https://x.example/"]
        else:
            with pytest.raises(ParseError) as info:
                parse_opml(data)
            assert str(info.value) == error
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 0.5 and peak < 5 * 1024 * 1024


def test_deep_nesting_is_fine() -> None:
    data = b"<opml><body>" + b"<outline>" * 5000 + b'<outline xmlUrl="https://x.example/"/>'
    data += b"</outline>" * 5000 + b"</body></opml>"
    assert parse_opml(data) == [OpmlFeed("https://x.example/", "")]


def test_size_and_count_limits() -> None:
    with pytest.raises(ParseError, match="too large"):
        parse_opml(b"<opml>" + b" " * MAX_OPML_BYTES + b"</opml>")
    many = b"".join(b'<outline xmlUrl="https://x.example/%d"/>' % i for i in range(MAX_OPML_FEEDS + 1))
    with pytest.raises(ParseError, match=f"more than {MAX_OPML_FEEDS} feeds"):
        parse_opml(b"<opml><body>" + many + b"</body></opml>")
