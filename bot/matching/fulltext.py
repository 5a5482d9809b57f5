"""What the database's full-text index holds for an article, and what a query asks of it. Pure.

The index holds tokens, not substrings: a Latin (or other spaced) word is one token, and a run of
CJK (or other unspaced) characters is its overlapping bigrams, so 疟疾 and 中国 are single
tokens and 塔吉克斯坦 is the phrase 塔吉 吉克 克斯 斯坦. A lone unspaced character between words
is indexed as itself. Fields are kept apart by a token no query can ask for, so a phrase never
spans the title and the body, as in the matcher.

A query becomes an expression over those tokens that every match satisfies (the index narrows,
the tree decides). When the expression says exactly what the tree says, `exact` is true and a
count from the index alone is the count of matches.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.matching.document import Document
from bot.matching.normalization import UNSPACED, is_unspaced
from bot.matching.query import AnyOf, Node, Not, Query, Term

FIELD_BREAK = "¶"  # never a token (not a letter or digit), so no query phrase crosses it


def _unspaced(token: str) -> bool:
    return len(token) == 1 and is_unspaced(token)


def index_tokens(tokens: Iterable[str]) -> list[str]:
    """Index tokens for a document's tokens; "\\x00" between fields becomes FIELD_BREAK."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(run[0])
        else:
            out.extend(a + b for a, b in itertools.pairwise(run))
        run.clear()

    for tok in tokens:
        if _unspaced(tok):
            run.append(tok)
            continue
        if run:
            flush()
        out.append(FIELD_BREAK if tok == "\x00" else tok)
    if run:
        flush()
    return out


# A run of two or more unspaced characters in tokens joined by spaces.
_RUN = re.compile(f"[{UNSPACED}](?: [{UNSPACED}])+")


def _bigrams(m: re.Match[str]) -> str:
    chars = m.group()[::2]
    return " ".join([a + b for a, b in itertools.pairwise(chars)])


def index_text(tokens: Iterable[str]) -> str:
    """`" ".join(index_tokens(tokens))`, made by one regex pass instead of a test per token.

    About 3 times faster on Chinese text (0.6 ms instead of 1.7 ms for a 2 KB article, paid on
    every insert and in bench/search.py's build); tests/test_fulltext.py holds it equal.
    """
    return _RUN.sub(_bigrams, " ".join(tokens)).replace("\x00", FIELD_BREAK)


def search_text(title: str, summary: str, content: str) -> str:
    """What `articles.search_text` stores: the index tokens of the text the matcher reads."""
    return index_text(Document.of(title, summary, content).tokens)


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive index tokens; the last may be a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class AllOfX:
    positive: tuple[Expr, ...]
    negative: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class AnyOfX:
    children: tuple[Expr, ...]


Expr = Phrase | AllOfX | AnyOfX


@dataclass(frozen=True, slots=True)
class Narrowing:
    """An index expression every match satisfies; `exact` when satisfying it is matching."""

    expr: Expr
    exact: bool


def _term(term: Term) -> Narrowing | None:
    toks = term.tokens
    phrase: list[str] = []
    exact = not term.title  # the index has no fields: title: is checked by the tree
    i = 0
    while i < len(toks):
        if not _unspaced(toks[i]):
            phrase.append(toks[i])
            i += 1
            continue
        j = i
        while j < len(toks) and _unspaced(toks[j]):
            j += 1
        run = toks[i:j]
        if len(run) > 1:
            phrase.extend(a + b for a, b in itertools.pairwise(run))
        elif i > 0 and j < len(toks):
            phrase.append(run[0])  # between two words in the query, so alone in the text too
        else:
            exact = False  # at an edge it may be half of a bigram: leave it to the tree
        i = j
    if not phrase:
        return None
    # A prefix on a CJK character asks for that character: the bigrams already hold it.
    prefix = term.prefix and not _unspaced(toks[-1])
    return Narrowing(Phrase(tuple(phrase), prefix), exact)


def narrowing(node: Node) -> Narrowing | None:
    """The index expression for a query node, or None when the index cannot narrow it."""
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Not):
        return None
    if isinstance(node, AnyOf):
        parts = [narrowing(c) for c in node.children]
        if any(p is None for p in parts):
            return None
        found = [p for p in parts if p is not None]
        return Narrowing(AnyOfX(tuple(p.expr for p in found)), all(p.exact for p in found))
    positive: list[Narrowing] = []
    negative: list[Narrowing] = []
    exact = True
    for child in node.children:
        if isinstance(child, Not):
            inner = narrowing(child.child)
            if inner is not None and inner.exact:
                negative.append(inner)
            else:
                exact = False
            continue
        part = narrowing(child)
        if part is None:
            exact = False
        else:
            positive.append(part)
            exact = exact and part.exact
    if not positive:
        return None
    if len(positive) == 1 and not negative:
        return Narrowing(positive[0].expr, exact)
    return Narrowing(AllOfX(tuple(p.expr for p in positive), tuple(n.expr for n in negative)), exact)


def query_narrowing(query: Query) -> Narrowing | None:
    """What the index can be asked for a whole query."""
    return narrowing(query.root)


def fts5(expr: Expr) -> str:
    """The expression in SQLite FTS5 query syntax (every token quoted: nothing is syntax)."""
    if isinstance(expr, Phrase):
        quoted = '"' + " ".join(expr.tokens).replace('"', '""') + '"'
        return quoted + ("*" if expr.prefix else "")
    if isinstance(expr, AnyOfX):
        return "(" + " OR ".join(fts5(c) for c in expr.children) + ")"
    text = " AND ".join(fts5(c) for c in expr.positive)
    for neg in expr.negative:
        text = f"({text}) NOT {fts5(neg)}"
    return f"({text})"


def tsquery(expr: Expr) -> str:
    """The expression as a PostgreSQL tsquery over position-less lexemes (a phrase is all its tokens)."""
    if isinstance(expr, Phrase):
        parts = ["'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in expr.tokens]
        if expr.prefix:
            parts[-1] += ":*"
        return "(" + " & ".join(parts) + ")"
    if isinstance(expr, AnyOfX):
        return "(" + " | ".join(tsquery(c) for c in expr.children) + ")"
    text = " & ".join(tsquery(c) for c in expr.positive)
    for neg in expr.negative:
        text += f" & !{tsquery(neg)}"
    return f"({text})"


def exact_on_postgresql(expr: Expr) -> bool:
    """Whether the tsquery form says what the FTS5 form says: no phrase of several tokens."""
    if isinstance(expr, Phrase):
        return len(expr.tokens) == 1
    if isinstance(expr, AnyOfX):
        return all(exact_on_postgresql(c) for c in expr.children)
    return all(exact_on_postgresql(c) for c in (*expr.positive, *expr.negative))
