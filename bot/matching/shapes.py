"""Stored queries parsed by their shape, for the bulk load at start-up. Pure.

A million subscriptions parse a third of a million distinct texts at start-up, and half of
them are not one term; but they come in a handful of shapes (`a OR b`, `a -b`, `(a OR b) -c`,
`title:a`). The shape of a text is the text with each plain term (a word or a phrase of ASCII
letters) replaced by a placeholder word; the real parser parses each shape once, and each
text of that shape gets the shape's tree with its own terms put back in by the parser's term
rule (make_term). Nothing here decides what a query means: a shape that the parser refuses,
or whose placeholders do not come out as terms of their own, is not used, and the text goes
to parse_query.
"""

from __future__ import annotations

import functools
import re

from bot.matching.parser import _checked, _parse_general, make_term, parse_with
from bot.matching.query import AllOf, AnyOf, Node, Not, Query, QueryError, Term

# A word or a phrase of ASCII letters, standing alone between separators of the query syntax.
_PLAIN = re.compile(r'(?<![^\s(|:-])("[A-Za-z]+(?: [A-Za-z]+)*"|[A-Za-z]+)(?=[\s)|]|$)')


_KEYWORDS = frozenset({"OR", "AND", "NOT"})


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


_SHAPES: dict[str, Node | None] = {}  # shape -> the parser's tree of it, or None: not used


SHAPE_CACHE_SIZE = 4096  # shapes are few; a bound all the same, for the texts are users'


@functools.lru_cache(maxsize=1024)
def _placeholder(kind: int, nth: int) -> str:
    """The placeholder of the nth term of one meaning: the same word for every term of that
    meaning (so the parser sees which terms are equal), spelled apart by letter case (so each
    term's own spelling can be put back)."""
    base = "qz" + _LETTERS[kind] + "xjqzxj"
    return "".join(c.upper() if nth >> i & 1 else c for i, c in enumerate(base))


def shape_of(text: str) -> tuple[str, dict[str, str]] | None:
    """The shape of a query's text and each placeholder's term as written; None when the text
    has too many kinds of term to name."""
    raws: dict[str, str] = {}
    kinds: dict[str, int] = {}
    counts: list[int] = []

    def put(m: re.Match[str]) -> str:
        raw = m.group(1)
        if raw in _KEYWORDS:
            return raw
        body = raw.strip('"')
        kind = kinds.setdefault(body.lower(), len(kinds))
        if kind == len(counts):
            counts.append(0)
        name = _placeholder(kind, counts[kind])
        counts[kind] += 1
        raws[name] = body
        return name

    shape = _PLAIN.sub(put, text)
    return None if len(kinds) > len(_LETTERS) else (shape, raws)


def _tree_of_shape(shape: str, raws: dict[str, str]) -> Node | None:
    """The parser's tree of a shape, kept only when each placeholder came out as a term of its
    own: one whose label is the placeholder, never part of another term."""
    try:
        root = _parse_general(shape).root
    except QueryError:
        return None
    bases = {name.lower() for name in raws}
    for leaf in _leaves(root):
        if leaf.label not in raws and bases.intersection(leaf.tokens):
            return None
    return root


def _leaves(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return _leaves(node.child)
    return [leaf for child in node.children for leaf in _leaves(child)]


def _filled(node: Node, raws: dict[str, str]) -> Node:
    """A shape's tree with each placeholder replaced by its term as written."""
    if isinstance(node, Term):
        raw = raws.get(node.label)
        return node if raw is None else make_term(raw, title=node.title)  # type: ignore[return-value]
    if isinstance(node, Not):
        return Not(_filled(node.child, raws))
    kids = tuple(_filled(child, raws) for child in node.children)
    return AllOf(kids) if isinstance(node, AllOf) else AnyOf(kids)


def parse_stored(text: str) -> Query:
    """parse_query(text), faster for the many texts of a bulk load.

    A fast path: the parser runs once per shape rather than once per text that is not one
    term, half the distinct texts at a million subscriptions; with the term cache kept for the
    whole load it took a cold build there from 17.3 to 15.1 s on a loaded machine
    (bench/ab_match.py, build_s). tests/test_matcher_props.py holds it equal to parse_query.
    """
    return parse_with(text, _by_shape)


def _by_shape(text: str) -> Query:
    """A text that is not one term, by the tree of its shape when that can be used."""
    stripped = text.strip()
    found = shape_of(stripped)
    if found is None:
        return _parse_general(text)
    shape, raws = found
    if shape in _SHAPES:
        root = _SHAPES[shape]
    else:
        root = _tree_of_shape(shape, raws)
        if len(_SHAPES) >= SHAPE_CACHE_SIZE:
            _SHAPES.clear()
        _SHAPES[shape] = root
    if root is None:
        return _parse_general(text)
    return _checked(Query(stripped, _filled(root, raws)), stripped, len(text) - len(text.lstrip()))


def clear_shape_cache() -> None:
    """Forget cached shapes (after a bulk load)."""
    _SHAPES.clear()
