"""Plain-text cleaning and summaries: tables for the pure functions of bot.text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import BOILERPLATE, clean_text, clean_title, summarize, title_fingerprint

CLEAN = [
    (None, "", "none"),
    ("", "", "empty"),
    ("plain words", "plain words", "plain"),
    ("<p>Hello</p><p>World</p>", "Hello\nWorld", "paragraphs"),
    ("one<br>two<br/>three", "one\ntwo\nthree", "line-breaks"),
    ("<ul><li>a</li><li>b</li></ul>", "a\nb", "list"),
    ("<div>x</div><div>y</div>", "x\ny", "divs"),
    ("<td>a</td><td>b</td>", "a b", "table-cells"),
    ("<b>bold</b> and <i>it</i>", "bold and it", "inline-tags"),
    ("<script>alert(1)</script>Hi<style>p{color:red}</style>", "Hi", "script-style-dropped"),
    ("<script>x</script> & <b>", "&", "hostile-title"),
    ("AT&amp;amp;T", "AT&amp;T", "unescape-exactly-once"),
    ("AT&amp;T", "AT&T", "entity"),
    ("AT&T", "AT&T", "bare-ampersand"),
    ("&lt;b&gt;literal&lt;/b&gt;", "<b>literal</b>", "escaped-markup-stays-text"),
    ("a < b and c > d", "a < b and c > d", "comparison"),
    ("x&nbsp;y", "x y", "nbsp"),
    ("&#8216;quoted&#8217;", "\u2018quoted\u2019", "numeric-entities"),
    ("a&#0;b", "a\ufffdb", "nul-entity"),
    ("a\x00b\x07c\x1bd", "abcd", "c0-controls"),
    ("a\x85b\x9fc", "abc", "c1-controls"),
    ("a\u200bb\ufeffc", "abc", "zero-width"),
    ("a\u200cb\u200dc", "a\u200cb\u200dc", "joiners-kept"),
    ("sa<!-- -- nonwhitespace >fe", "safe", "unterminated-comment"),
    ("a<!-- x --> b <!-- y", "a b", "comment-then-unterminated"),
    ("evil\u202eexe.txt", "evilexe.txt", "rtl-override"),
    ("a\u2066b\u2069c\u202ad", "abcd", "bidi-isolates"),
    ("lone\ud800surrogate", "lone\ufffdsurrogate", "lone-surrogate"),
    ("e\u0301", "\u00e9", "nfc"),
    ("  lots   of\t\tspace \n\n\n next ", "lots of space\nnext", "whitespace"),
    ("line\r\nbreak", "line\nbreak", "crlf"),
    ("<!-- comment -->text", "text", "comment"),
    ("<![CDATA[kept]]> text", "kept text", "cdata-left-in-html"),
    ("unclosed <b", "unclosed <b", "unclosed-tag"),
    ("<p>Привет, мир</p>", "Привет, мир", "cyrillic"),
    ("<p>مرحبا بالعالم</p>", "مرحبا بالعالم", "arabic"),
    ("<p>中文内容</p><p>第二段</p>", "中文内容\n第二段", "chinese"),
]


@pytest.mark.parametrize(("raw", "expected"), [c[:2] for c in CLEAN], ids=[c[2] for c in CLEAN])
def test_clean_text(raw: str | None, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "html", "expected"),
    [
        ("\n   Parse podcast categories\n  ", True, "Parse podcast categories"),
        ("<p>Two</p><p>paragraphs</p>", True, "Two paragraphs"),
        ("Vec<T> &amp; more", False, "Vec<T> &amp; more"),
        ("a\u202eb\nc", False, "ab c"),
    ],
    ids=["padded", "one-line", "plain-text-kept-literally", "plain-text-still-cleaned"],
)
def test_clean_title(raw: str, html: bool, expected: str) -> None:
    assert clean_title(raw, html=html) == expected


LONG = "First sentence here. Second sentence is a bit longer than that. Third one goes on and on."
CHINESE = (
    "中国科学家今天宣布了一项重大发现，这项研究历时十年。"
    "研究团队表示，这一成果将改变我们对宇宙的理解！未来还有更多工作要做。"
)

SUMMARIES = [
    ("Short text.", 300, "Short text.", "fits"),
    (LONG, 30, "First sentence here.", "sentence-boundary"),
    (LONG, 70, "First sentence here. Second sentence is a bit longer than that.", "two-sentences"),
    ("one two three four five six seven eight nine ten", 22, "one two three four…", "word-boundary"),
    ("a" * 500, 20, "a" * 19 + "…", "no-boundary-hard-cut"),
    ("Advertisement\nThe real story.", 300, "The real story.", "advertisement"),
    ("ADVERTISEMENT\nStory.", 300, "Story.", "advertisement-upper"),
    ("Story continues below advertisement\nStory.", 300, "Story.", "story-continues"),
    ("Lede.\nSubscribe to our daily briefing\nMore.", 300, "Lede. More.", "subscribe"),
    ("Lede.\nSign up for the Morning newsletter.", 300, "Lede.", "newsletter"),
    ("Lede.\nContinue reading →", 300, "Lede.", "continue-reading"),
    ("Lede.\nRead more »", 300, "Lede.", "read-more"),
    ("Lede.\nThe post Hello World appeared first on My Blog.", 300, "Lede.", "wordpress-footer"),
    ("广告\n正文内容。", 300, "正文内容。", "chinese-ad"),
    ("Lede.\nRead the full post", 300, "Lede.", "read-the-full-post-line"),
    ("Lede.\n[read more]", 300, "Lede.", "bracketed-read-more-line"),
    ("Lede.\n阅读全文", 300, "Lede.", "chinese-read-all-line"),
    ("正文内容。\n点击查看原文", 300, "正文内容。", "chinese-view-original-line"),
    ("The minister spoke. Read the full post", 300, "The minister spoke.", "read-the-full-post-trailer"),
    ("The minister spoke […] Continue reading →", 300, "The minister spoke […]", "continue-reading-trailer"),
    ("The minister spoke… [read more]", 300, "The minister spoke…", "bracketed-trailer"),
    ("Talks went on [Read More]", 300, "Talks went on", "bracketed-after-a-word"),
    (
        "Talks went on. The post NATO talks appeared first on Daily News.",
        300,
        "Talks went on.",
        "wordpress-footer-trailer",
    ),
    ("正文内容……阅读全文", 300, "正文内容……", "chinese-read-all-trailer"),
    ("正文内容。点击查看原文>>", 300, "正文内容。", "chinese-view-original-trailer"),
    ("正文内容 【阅读全文】", 300, "正文内容", "chinese-bracketed-trailer"),
    ("He told me to read more", 300, "He told me to read more", "read-more-mid-sentence"),
    ("You can read more about it here, he said.", 300, "You can read more about it here, he said.", "mid"),
    ("We must continue reading the signs.", 300, "We must continue reading the signs.", "continue-mid"),
    ("请大家认真阅读全文。", 300, "请大家认真阅读全文。", "chinese-mid-sentence"),
    ("Fans read more books. Read more", 300, "Fans read more books.", "trailer-after-the-same-words"),
    ("Advertisers love this story.", 300, "Advertisers love this story.", "not-boilerplate"),
    (CHINESE, 30, "中国科学家今天宣布了一项重大发现，这项研究历时十年。", "chinese-sentence"),
    (CHINESE, 20, "中国科学家今天宣布了一项重大发现…", "chinese-clause"),
    (CHINESE, 10, "中国科学家今天宣布…", "chinese-hard-cut"),
    ("e\u0301" * 30, 10, "\u00e9" * 9 + "…", "accents-kept-whole"),
]


@pytest.mark.parametrize(
    ("text", "limit", "expected"), [c[:3] for c in SUMMARIES], ids=[c[3] for c in SUMMARIES]
)
def test_summarize(text: str, limit: int, expected: str) -> None:
    result = summarize(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_boilerplate_table_is_small_and_anchored() -> None:
    assert 0 < len(BOILERPLATE) <= 12
    assert not any(p.fullmatch("The advertisement market grew 5% this year.") for p in BOILERPLATE)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_clean_text_never_leaves_invisible_controls(raw: str) -> None:
    out = clean_text(raw)
    for ch in out:
        assert ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cs")
        assert ch not in "\u200b\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert clean_text(out, html=False) == out  # tidying is idempotent


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600), st.integers(min_value=1, max_value=400))
def test_summarize_respects_the_limit(text: str, limit: int) -> None:
    assert len(summarize(text, limit)) <= limit


FINGERPRINTS = [
    ("Breaking: Fire at the harbour!", "breaking fire at the harbour", "punctuation"),
    ("BREAKING — fire   at the HARBOUR", "breaking fire at the harbour", "case-and-dashes"),
    ("“Quoted” title, with commas…", "quoted title with commas", "typographic-quotes"),
    ("Ｆｕｌｌｗｉｄｔｈ ｔｉｔｌｅ ｈｅｒｅ", "fullwidth title here", "nfkc"),
    ("Straße in Köln gesperrt", "strasse in köln gesperrt", "casefold"),
    ("e\u0301te\u0301 2024 en France", "été 2024 en france", "combining-accents"),
    ("中国科学家今天宣布了一项重大发现", "中国科学家今天宣布了一项重大发现", "chinese"),
    ("snake_case_title words here", "snake case title words here", "underscores"),
    ("می\u200cخواهم بروم به خانه", "میخواهم بروم به خانه", "zero-width-non-joiner"),
    ("Update", "", "too-short"),
    ("(untitled)", "", "placeholder"),
    ("", "", "empty"),
    (None, "", "none"),
]


@pytest.mark.parametrize(
    ("title", "expected"), [c[:2] for c in FINGERPRINTS], ids=[c[2] for c in FINGERPRINTS]
)
def test_title_fingerprint(title: str | None, expected: str) -> None:
    assert title_fingerprint(title) == expected


def test_title_fingerprint_keeps_different_stories_apart() -> None:
    assert title_fingerprint("Fire at the harbour") != title_fingerprint("Fire at the harbour kills two")


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        ("<p>" + "word " * 10 + "</p>", 9, "word word"),
        ("<p>short</p>", 100, "short"),
        ("<p>ok</p><img src='" + "A" * 500, 20, "ok"),
        ("x" * 1000, 10, "x" * 10),
    ],
    ids=["cut", "under", "input-cut-before-an-open-tag", "plain"],
)
def test_clean_text_limit(raw: str, limit: int, expected: str) -> None:
    assert clean_text(raw, limit=limit) == expected


def test_clean_text_limit_bounds_the_work() -> None:
    huge = "<p>word</p>" * 500_000  # 5.5 MB of markup
    assert len(clean_text(huge, limit=100)) <= 100
    assert clean_title("<b>a</b> " * 100_000, limit=5) == "a a a"
