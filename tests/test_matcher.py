"""The matching seam: whole words, case and accents folded, CJK substrings, one alert per chat."""

from __future__ import annotations

import pytest

from bot.domain import StoredArticle, UserInputError
from bot.matcher import Document, build_index, match, parse_query


def art(title: str, summary: str = "", content: str = "", article_id: int = 1) -> StoredArticle:
    return StoredArticle(id=article_id, feed_id=1, title=title, summary=summary, content=content)


@pytest.mark.parametrize(
    ("query", "text", "hit"),
    [
        ("nato", "NATO allies meet", True),
        ("nato", "NATO's new chief", True),
        ("nato", "NATOPOLIS opens", False),
        ("ai", "he said so", False),
        ("zurich", "Talks in Zürich", True),
        ("sao paulo", "Rain in São Paulo", True),
        ('"climate change"', "climate\nchange is real", True),
        ('"climate change"', "change the climate", False),
        ("nato -summit", "NATO summit", False),
        ("nato -summit", "NATO meeting", True),
        ("乌克兰", "乌克兰局势紧张", True),
        ("乌克兰", "俄罗斯新闻", False),
        ("5G网络", "中国5G网络建设", True),
        ("nato", "N\u200bATO", True),
        ("ｎａｔｏ", "nato", True),
    ],
    ids=[
        "word",
        "possessive",
        "longer-word",
        "inside-word",
        "accent",
        "accent-phrase",
        "phrase-newline",
        "phrase-order",
        "exclude-hit",
        "exclude-miss",
        "cjk",
        "cjk-miss",
        "mixed",
        "zero-width",
        "fullwidth",
    ],
)
def test_query_semantics(query: str, text: str, hit: bool) -> None:
    assert parse_query(query).matches(Document.of(text)) is hit


@pytest.mark.parametrize(
    "query",
    ["", "   ", "-x", '"unclosed', "x" * 201, " ".join("abcdefghijk")],
    ids=["empty", "blank", "only-negative", "unclosed", "too-long", "too-many"],
)
def test_bad_queries_are_refused(query: str) -> None:
    with pytest.raises(UserInputError):
        parse_query(query)


def test_one_alert_per_chat_with_every_term() -> None:
    index = build_index([(1, 10, "nato"), (2, 10, "ukraine"), (3, 20, "nato"), (4, 30, "bakery")])
    alerts = match([art("NATO backs Ukraine")], index)
    by_chat = {a.chat_id: a.terms for a in alerts}
    assert by_chat == {10: ("nato", "ukraine"), 20: ("nato",)}


def test_index_updates_in_place() -> None:
    index = build_index([(1, 10, "nato")])
    index.add(2, 11, "乌克兰")
    assert {a.chat_id for a in match([art("NATO 与 乌克兰")], index)} == {10, 11}
    index.remove(1)
    index.remove(1)
    assert {a.chat_id for a in match([art("NATO 与 乌克兰")], index)} == {11}
    assert len(index) == 1


def test_matching_ignores_nothing_of_title_summary_content() -> None:
    index = build_index([(1, 10, "brussels")])
    assert match([art("x", content="Talks in Brussels")], index)
    assert match([art("x", summary="Brussels")], index)
