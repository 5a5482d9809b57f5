"""Matching: normalization, the one query parser, documents, the index, snippets and help. Pure.

The seam the rest of the bot uses: `parse_query(text) -> Query`, `build_index(rows)`,
`SubscriptionIndex.add/remove`, `match(articles, index) -> alerts`, `snippet(text, labels)`
and `QUERY_HELP`.
"""

from __future__ import annotations

from bot.matching.bulk import build_index
from bot.matching.document import Document, clean_for_matching
from bot.matching.help import QUERY_HELP
from bot.matching.index import SubscriptionIndex, match
from bot.matching.normalization import TOKEN, normalize, tokenize, words_of
from bot.matching.parser import (
    MAX_DEPTH,
    MAX_NORM_CHARS,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    make_term,
    parse_query,
)
from bot.matching.query import Query, QueryError, Term
from bot.matching.snippets import snippet

__all__ = [
    "MAX_DEPTH",
    "MAX_NORM_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "QUERY_HELP",
    "TOKEN",
    "Document",
    "Query",
    "QueryError",
    "SubscriptionIndex",
    "Term",
    "build_index",
    "clean_for_matching",
    "make_term",
    "match",
    "normalize",
    "parse_query",
    "snippet",
    "tokenize",
    "words_of",
]
