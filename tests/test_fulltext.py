"""The full-text index's tokens and query expressions, against the matcher on a real FTS5 table.

The index narrows and the tree decides, so the one property that matters is: every document the
query matches satisfies the index expression, and when the expression calls itself exact, only
those do (then a count from the index alone is the count of matches).
"""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.matching import Document, parse_query
from bot.matching.fulltext import fts5, index_text, index_tokens, query_narrowing, search_text, tsquery
from tests.test_matcher_props import SETTINGS, queries, texts, valid


@pytest.mark.parametrize(
    ("title", "body", "tokens"),
    [
        ("非洲疟疾疫苗", "", "非洲 洲疟 疟疾 疾疫 疫苗 ¶"),
        ("NATO 峰会", "Summit in 中 Paris", "nato 峰会 ¶ summit in 中 paris"),
        ("COVID-19", "a\n\nb", "covid 19 ¶ a b"),
        ("", "<p>Putin said</p> https://e.com/x", "¶ putin said"),
    ],
    ids=["cjk-bigrams", "lone-cjk-character", "words", "markup-and-urls"],
)
def test_index_tokens(title: str, body: str, tokens: str) -> None:
    assert search_text(title, body, "") == tokens


@pytest.mark.parametrize(
    ("query", "sqlite", "postgresql", "exact"),
    [
        ("疟疾", '"疟疾"', "('疟疾')", True),
        ("塔吉克斯坦", '"塔吉 吉克 克斯 斯坦"', "('塔吉' & '吉克' & '克斯' & '斯坦')", True),
        ('"white house"', '"white house"', "('white' & 'house')", True),
        ("nato -summit", '(("nato") NOT "summit")', "(('nato') & !('summit'))", True),
        ("nato OR 乌克兰", '("nato" OR "乌克 克兰")', "(('nato') | ('乌克' & '克兰'))", True),
        ("ukrain*", '"ukrain"*', "('ukrain':*)", True),
        ("title:nato", '"nato"', "('nato')", False),
        ("中 nato", '"nato"', "('nato')", False),
        ("nato -中", '"nato"', "('nato')", False),
    ],
    ids=[
        "cjk-2",
        "cjk-5",
        "phrase",
        "not",
        "or",
        "prefix",
        "title-is-left-to-the-tree",
        "lone-cjk",
        "not-lone",
    ],
)
def test_query_expressions(query: str, sqlite: str, postgresql: str, exact: bool) -> None:
    narrowing = query_narrowing(parse_query(query))
    assert narrowing is not None
    assert (fts5(narrowing.expr), tsquery(narrowing.expr), narrowing.exact) == (sqlite, postgresql, exact)


@pytest.mark.parametrize(
    "query", ["中", "nato OR 中", "日 -nato"], ids=["lone-cjk", "or-with-lone", "lone-and-not"]
)
def test_queries_the_index_cannot_narrow(query: str) -> None:
    assert query_narrowing(parse_query(query)) is None


@SETTINGS
@given(query=queries, docs=st.lists(st.tuples(texts(6), texts(), texts()), min_size=1, max_size=6))
def test_index_expression_holds_every_match_and_only_matches_when_exact(
    query: str, docs: list[tuple[str, str, str]]
) -> None:
    if not valid(query):
        return
    parsed = parse_query(query)
    narrowing = query_narrowing(parsed)
    if narrowing is None:
        return
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(search_text, tokenize='ascii')")
    conn.executemany(
        "INSERT INTO t(rowid, search_text) VALUES (?, ?)", [(i, search_text(*d)) for i, d in enumerate(docs)]
    )
    hits = {r[0] for r in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5(narrowing.expr),))}
    matches = {i for i, d in enumerate(docs) if parsed.matches(Document.of(*d))}
    assert matches <= hits
    if narrowing.exact:
        assert hits == matches


@SETTINGS
@given(title=texts(6), body=texts(), content=texts())
def test_fast_index_text_is_the_plain_token_loop(title: str, body: str, content: str) -> None:
    tokens = Document.of(title, body, content).tokens
    assert index_text(tokens) == " ".join(index_tokens(tokens))


def test_index_text_keeps_fields_apart() -> None:
    doc = Document.of("乌克", "兰 nato")
    assert index_text(doc.tokens) == "乌克 ¶ 兰 nato"
