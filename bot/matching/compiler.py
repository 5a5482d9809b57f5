"""Query trees compiled to the index's compact programs. Pure."""

from __future__ import annotations

import re
import sys
from typing import Any, TypeAlias, cast

from bot.matching.parser import _KEYWORDS, MAX_QUERY_CHARS, MAX_TERMS
from bot.matching.query import AllOf, Node, Not, Term

# A program is a leaf or an operator tuple: ("&", p, ...), ("|", p, ...), ("-", p).
# A leaf is a term's reference, or (reference, label) when the user's spelling differs from
# the canonical one. A reference is a plain token (one exact word anywhere), "\x01"-separated
# tokens with a trailing "\x01" unless the last is a prefix (a needle in the joined token text),
# or "\x02" + needle for a title-only term.
Prog: TypeAlias = "str | tuple[Prog, ...]"


_OPS = ("&", "|", "-")


def _ref(term: Term) -> str:
    if term.title:
        return "\x02" + term.needle
    return term.tokens[0] if term.single else term.needle


def compile_query(node: Node) -> Prog:
    """A query tree as a compact program."""
    if isinstance(node, Term):
        ref = _ref(node)
        return ref if node.plain else (ref, node.label)
    if isinstance(node, Not):
        return ("-", compile_query(node.child))
    return ("&" if isinstance(node, AllOf) else "|", *(compile_query(c) for c in node.children))


# What most stored queries are, in ASCII letters or runs of common Han characters with single
# spaces between items: [-][title:]word or "a phrase", OR between them, or one group of such
# terms joined by OR in parentheses (in a query with no top-level OR).
_ATOM = r'(?:title:)?(?:[A-Za-z]+|[\u4e00-\u9fff]+|"[A-Za-z]+(?: [A-Za-z]+)*")'


_QUICK_ITEM = re.compile(
    r'(?:(OR|\|)|(-?)(title:)?(?:([A-Za-z]+|[\u4e00-\u9fff]+)|"([A-Za-z]+(?: [A-Za-z]+)*)")'
    rf"|\(({_ATOM}(?: (?:OR|\|) {_ATOM})+)\))(?: |$)"
)


_QUICK_ALTERNATIVE = re.compile(
    r'(title:)?(?:([A-Za-z]+|[\u4e00-\u9fff]+)|"([A-Za-z]+(?: [A-Za-z]+)*)")(?: (?:OR|\|) |$)'
)


def _quick_term(title: str | None, word: str | None, phrase: str | None) -> tuple[str, Prog] | None:
    """(reference, program) of one term of a quick query; None for a keyword. The reference
    says what the term means: terms with the same one are the same term."""
    if word is None:  # ASCII words
        label = cast(str, phrase)
        canonical = label.lower()
        tokens = canonical.split(" ")
    elif word.isascii():
        if word in _KEYWORDS:
            return None
        label = word
        canonical = word.lower()
        tokens = [canonical]
    else:  # Han characters are tokens of their own; as a term they read as written
        label = canonical = word
        tokens = list(word)
    if title:
        ref = "\x02\x01" + "\x01".join(tokens) + "\x01"
    elif len(tokens) == 1:
        ref = tokens[0]
    else:
        ref = "\x01" + "\x01".join(tokens) + "\x01"
    ref = sys.intern(ref)
    return ref, ref if label == canonical else (ref, sys.intern(label))


def _quick_group(text: str) -> tuple[Any, Prog, int] | None:
    """(meaning, program, terms) of the inside of a group of terms joined by OR."""
    kept: dict[Any, Prog] = {}
    at = terms = 0
    while at < len(text):
        m = cast(re.Match[str], _QUICK_ALTERNATIVE.match(text, at))  # _QUICK_ITEM checked it
        at = m.end()
        term = _quick_term(*m.groups())
        if term is None:
            return None
        terms += 1
        kept.setdefault(*term)
    if len(kept) == 1:
        return (*next(iter(kept.items())), terms)
    return ("|", frozenset(kept)), ("|", *kept.values()), terms


def quick_compile(text: str) -> Prog | None:
    """compile_query(parse_query(text).root) for the commonest shapes of query, several times
    faster; None for any other text, which then goes through the parser (errors included).

    A start-up with a million subscriptions parses a third of a million distinct texts, and
    the parser builds and checks a tree for each. tests/test_matcher_props.py holds the two equal.
    """
    if not 0 < len(text) <= MAX_QUERY_CHARS or text[-1] == " ":
        return None
    if text.isalpha() and text.isascii():  # one word, the commonest query by far
        if text in _KEYWORDS:
            return None
        word = text.lower()
        return sys.intern(word) if word == text else (sys.intern(word), sys.intern(text))
    alts: list[list[tuple[Any, Prog]]] = []
    items: list[tuple[Any, Prog]] = []  # (meaning, program) of each item of an alternative
    terms = at = 0
    grouped = positive = False  # positive: the alternative has something to look for
    match = _QUICK_ITEM.match
    while at < len(text):
        m = match(text, at)
        if m is None:
            return None
        at = m.end()
        op, neg, title, word, phrase, group = m.groups()
        if op is not None:
            if not positive or at == len(text) or grouped:
                return None  # the parser names the problem, if there is one
            alts.append(items)
            items = []
            positive = False
            continue
        key: Any
        prog: Prog
        if group is None:
            term = _quick_term(title, word, phrase)
            if term is None:
                return None
            key, prog = term
            terms += 1
        else:
            inside = _quick_group(group)
            if inside is None or neg or alts:
                return None
            grouped = True
            key, prog, count = inside
            terms += count
        if terms > MAX_TERMS:
            return None
        if neg:
            items.append((("-", key), ("-", prog)))
        else:
            items.append((key, prog))
            positive = True
    if not positive:
        return None
    if not alts and len(items) == 1:
        return items[0][1]
    alts.append(items)
    # As bot.matching.parser._parse_flat: repeats within an alternative and repeated alternatives go.
    nodes: list[Prog] = []
    seen: set[object] = set()
    for alt in alts:
        kept = dict(alt)
        if len(kept) < len(alt):  # a repeat: keep the first of each meaning, in order
            kept = {}
            for meaning, item in alt:
                kept.setdefault(meaning, item)
        key = frozenset(kept) if len(kept) > 1 else next(iter(kept))
        if key not in seen:
            seen.add(key)
            progs = tuple(kept.values())
            nodes.append(progs[0] if len(progs) == 1 else ("&", *progs))
    return nodes[0] if len(nodes) == 1 else ("|", *nodes)
