"""The matching seam: whole words, case and accents folded, CJK substrings, one alert per chat."""

from __future__ import annotations

import pytest

from bot.domain import StoredArticle, UserInputError
from bot.matching import (
    QUERY_HELP,
    Document,
    QueryError,
    SubscriptionIndex,
    build_index,
    match,
    parse_query,
    snippet,
)
from bot.matching import index as index_module


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


# --- the parsed query ------------------------------------------------------------------------


def test_query_error_is_a_user_input_error_with_code_and_position() -> None:
    with pytest.raises(UserInputError) as caught:
        parse_query('nato "climate change')
    exc = caught.value
    assert isinstance(exc, QueryError)
    assert (exc.code, exc.position, exc.params) == ("unclosed_quote", 6, {})
    assert str(exc) == "unclosed quote at position 6"


def test_error_params_name_the_limit() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("x" * 250)
    assert caught.value.params == {"limit": 200}


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ("nato", ("nato",)),
        ("Zürich -summit", ("Zürich",)),
        ('"Climate  Change" OR 乌克兰', ("Climate Change", "乌克兰")),
        ("title:apple sanction*", ("apple", "sanction*")),
        ("nato nato NATO", ("nato",)),
    ],
    ids=["word", "as-typed-without-exclusions", "phrase-and-cjk", "field-and-prefix", "repeats"],
)
def test_terms_are_the_positive_labels_as_typed(query: str, labels: tuple[str, ...]) -> None:
    assert parse_query(query).terms == labels


def test_matched_terms_are_those_that_made_the_match() -> None:
    query = parse_query("(nato OR otan OR ukraine) summit -sport")
    assert query.matched_terms(Document.of("NATO and Ukraine summit")) == ("nato", "ukraine", "summit")
    assert query.matched_terms(Document.of("NATO summit on sport")) == ()


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("nato ukraine", "ukraine"),
        ('"climate change" -x', "climate"),
        ("乌克兰 x", "乌克兰"),
        ("a OR b", None),
    ],
    ids=["longest-word", "phrase-word", "cjk-run", "or-has-none"],
)
def test_required_needle(query: str, needle: str | None) -> None:
    assert parse_query(query).required_needle() == needle


def test_norm_is_a_short_canonical_key() -> None:
    query = parse_query('Zürich  "Climate Change" -Sport OR nato')
    assert query.norm == '"climate change" -sport zurich OR nato'
    assert len(parse_query("ｱ" * 200).norm) <= 500


def test_document_takes_title_then_body_parts() -> None:
    doc = Document.of("Title words", "the summary", "the content")
    assert parse_query("title:title").matches(doc)
    assert not parse_query("title:summary").matches(doc)
    assert parse_query("summary content").matches(doc)


# --- the index -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("NATO and Ukraine talks", ("NATO", "ukraine")),
        ("乌克兰 and NATO", ("NATO", "乌克兰")),
        ("Climate change: NATO, Ukraine, 乌克兰", ("NATO", "ukraine", "climate change", "乌克兰")),
        ("Ukraine climate change", ("ukraine", "climate change")),
        ("NATO: Ukraine, 乌克兰", ("NATO", "ukraine", "乌克兰")),
        ("Ukraine in the headline", ("ukraine",)),
    ],
    ids=["two-of-four", "cjk-and-word", "all-four", "phrase-and-word", "three-of-four", "one"],
)
def test_an_or_alert_lists_every_term_found_in_query_order(text: str, terms: tuple[str, ...]) -> None:
    # An OR of plain terms is found once for each term that occurs, and tested only as far as
    # needed: every one of them must still be named, in the order written.
    index = build_index([(1, 10, 'NATO OR ukraine OR "climate change" OR 乌克兰')])
    assert match([art(text)], index)[0].terms == terms


@pytest.mark.parametrize(
    "query",
    ["title:nato OR nato", "nato OR title:nato", "title:nato OR nato OR summit", "(title:nato OR nato)"],
)
def test_a_term_in_the_title_and_anywhere_is_named_once(query: str) -> None:
    index = build_index([(1, 10, query)])
    assert match([art("NATO talks", "NATO again")], index)[0].terms == ("nato",)


def test_alerts_come_article_by_article_one_per_chat() -> None:
    index = build_index([(1, 30, "nato"), (2, 10, "nato"), (3, 20, "nato"), (4, 10, "NATO OR otan")])
    alerts = match([art("NATO", article_id=7), art("NATO", article_id=8)], index)
    assert [a.article_id for a in alerts] == [7, 7, 7, 8, 8, 8]
    assert sorted((a.article_id, a.chat_id, a.terms) for a in alerts) == [
        (7, 10, ("NATO", "nato")),
        (7, 20, ("nato",)),
        (7, 30, ("nato",)),
        (8, 10, ("NATO", "nato")),
        (8, 20, ("nato",)),
        (8, 30, ("nato",)),
    ]


def test_a_chats_terms_are_its_queries_labels_in_sorted_query_order() -> None:
    index = build_index([(1, 10, "ukraine OR russia"), (2, 10, "nato"), (3, 10, "Nato summit")])
    (alert,) = match([art("NATO summit: Ukraine and Russia")], index)
    assert alert.terms == ("Nato", "summit", "nato", "ukraine", "russia")


def test_subscriptions_with_one_query_share_it_and_leave_it_alone() -> None:
    index = build_index([(1, 10, "nato"), (2, 11, "nato"), (3, 12, "nato -summit")])
    assert index.distinct_queries() == 2
    index.remove(1)
    assert {a.chat_id for a in match([art("NATO")], index)} == {11, 12}
    index.remove(2)
    assert {a.chat_id for a in match([art("NATO")], index)} == {12}
    assert index.distinct_queries() == 1


def test_add_replaces_the_same_id() -> None:
    index = SubscriptionIndex()
    index.add(5, 10, "nato")
    index.add(5, 11, "ukraine")
    assert len(index) == 1
    assert match([art("NATO")], index) == []
    assert [a.chat_id for a in match([art("Ukraine")], index)] == [11]


def test_a_bad_query_changes_nothing() -> None:
    index = build_index([(5, 10, "nato")])
    with pytest.raises(QueryError):
        index.add(5, 10, "nato OR")
    assert [a.chat_id for a in match([art("NATO")], index)] == [10]


def test_add_takes_a_parsed_query() -> None:
    index = SubscriptionIndex()
    index.add(1, 10, parse_query("Zürich"))
    assert match([art("Zurich talks")], index)[0].terms == ("Zürich",)


@pytest.mark.parametrize(
    "sub_id", [0, 7, 5000, -3, 10**12], ids=["zero", "small", "page-2", "negative", "huge"]
)
def test_any_subscription_id_works(sub_id: int) -> None:
    index = SubscriptionIndex()
    index.add(sub_id, 10, "nato")
    assert sub_id in index and len(index) == 1
    assert match([art("NATO")], index)
    index.remove(sub_id)
    assert sub_id not in index and len(index) == 0
    assert match([art("NATO")], index) == []


def test_remove_chat_takes_all_of_a_chats_subscriptions() -> None:
    index = build_index([(1, 10, "nato"), (2, 10, "ukraine"), (3, 11, "nato"), (10**12, 10, "russia")])
    index.remove_chat(10)
    assert len(index) == 1
    assert {a.chat_id for a in match([art("NATO Ukraine Russia")], index)} == {11}


def test_build_skips_stored_queries_that_no_longer_parse() -> None:
    index = build_index([(1, 10, "nato"), (2, 10, "nato OR"), (3, 10, "")])
    assert len(index) == 1 and index.distinct_queries() == 1
    assert [a.chat_id for a in match([art("NATO")], index)] == [10]


def test_a_big_group_and_a_crowded_key_stay_correct() -> None:
    rows = [(i, 1000 + i % 97, "nato") for i in range(1, 400)]
    rows += [(1000 + i, 5, f"nato -x{i}") for i in range(100)]  # one key, many queries
    index = build_index(rows)
    assert len(match([art("NATO")], index)) == 98
    for i in range(1, 400):
        index.remove(i)
    assert [a.chat_id for a in match([art("NATO")], index)] == [5]
    assert [a.chat_id for a in match([art("NATO x3")], index)] == [5]
    for i in range(100):
        index.remove(1000 + i)
    assert len(index) == 0 and index.distinct_queries() == 0


# --- snippets and help -----------------------------------------------------------------------


def test_snippet_bolds_matches_in_the_original_text() -> None:
    text = "Talks in Zürich. NATO’s chief said the U.S. would help. Unrelated."
    assert snippet(text, ["nato", "u.s."]) == [
        ("NATO", True),
        ("’s chief said the ", False),
        ("U.S", True),
        (". would help.", False),
    ]


def test_snippet_of_cjk_and_accents() -> None:
    assert snippet("中国5G网络建设。乌克兰局势紧张！", ["乌克兰"]) == [
        ("乌克兰", True),
        ("局势紧张！", False),
    ]
    assert snippet("Rain in São Paulo today", ["sao paulo"]) == [
        ("Rain in ", False),
        ("São Paulo", True),
        (" today", False),
    ]


def test_snippet_cuts_a_long_sentence_around_the_match() -> None:
    text = "word " * 100 + "the NATO summit " + "more " * 100
    pieces = snippet(text, ["nato"], width=80)
    assert pieces[0] == ("…", False) and pieces[-1] == ("…", False)
    assert ("NATO", True) in pieces
    assert sum(len(t) for t, _ in pieces) <= 84


def test_snippet_takes_a_query_and_finds_prefixes() -> None:
    assert snippet("New sanctions on Iran.", parse_query("sanction* -sport")) == [
        ("New ", False),
        ("sanctions", True),
        (" on Iran.", False),
    ]


def test_snippet_without_a_match_is_empty() -> None:
    assert snippet("Nothing to see", ["nato"]) == []
    assert snippet("", ["nato"]) == []


def test_query_help_in_english_and_chinese() -> None:
    for lang, text in QUERY_HELP.items():
        assert lang in ("en", "zh")
        assert "<" not in text and ">" not in text  # plain text: the renderer escapes it
        for example in ("OR", '"', "-", "*", "title:", "乌克兰", "5G网络", "covid-19"):
            assert example in text


def test_build_with_a_repeated_id_keeps_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_DENSE_MIN", 4096)
    # 10000 is beyond the dense pages when first seen; by its second row they cover it.
    rows = [
        (10_000, 1, "nato"),
        *((i, 2, "x") for i in range(1, 3001)),
        (9_999, 2, "y"),
        (10_000, 3, "ukraine"),
    ]
    index = build_index(rows)
    assert len(index) == 3002
    assert [a.chat_id for a in match([art("NATO Ukraine")], index)] == [3]
    index.remove(10_000)
    assert match([art("NATO Ukraine")], index) == []


def test_an_alert_carries_the_subscriptions_that_matched() -> None:
    rows = [(1, 10, "nato"), (2, 10, "ukraine"), (3, 10, "russia"), (4, 20, "nato"), (5, 30, "NATO -ukraine")]
    alerts = match([art("NATO backs Ukraine")], build_index(rows))
    assert sorted((a.chat_id, a.subscriptions) for a in alerts) == [(10, (1, 2)), (20, (4,))]


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "one-by-one"])
def test_a_chat_with_one_query_twice_gets_both_ids(bulk: bool) -> None:
    rows = [(1, 10, "nato"), (2, 11, "nato"), (3, 10, "NATO"), (4, 10, "nato"), (5, 12, "nato")]
    index = build_index(rows if bulk else rows[::-1])
    alerts = match([art("NATO")], index)
    assert sorted((a.chat_id, a.subscriptions) for a in alerts) == [(10, (1, 3, 4)), (11, (2,)), (12, (5,))]
    index.remove(4)
    assert {a.chat_id: a.subscriptions for a in match([art("NATO")], index)}[10] == (1, 3)
