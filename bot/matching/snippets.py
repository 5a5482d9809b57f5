"""Alert snippets: the sentence where a term first occurs, with the matches marked. Pure."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from bot.matching.normalization import TOKEN, normalize
from bot.matching.parser import make_term
from bot.matching.query import Query, QueryError, Term, leaves

# A period after a capital (U.S.) or before a lowercase word is no sentence end.
_SENTENCE_END = re.compile(r"(?<![A-Z])\.(?=\s+[^a-z\s])|[!?…](?=\s)|[。！？\n]")


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return normalize(ch)


def _folded(text: str) -> tuple[str, list[int]]:
    """The text normalized character by character, with each output character's source index."""
    if text.isascii():
        return text.lower(), list(range(len(text)))
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        folded = ch.lower() if ch.isascii() else _fold_char(ch)
        out.append(folded)
        where += [i] * len(folded)
    return "".join(out), where


def _terms_of(labels_or_query: Query | Iterable[str]) -> list[Term]:
    if isinstance(labels_or_query, Query):
        return [t for t, positive in leaves(labels_or_query.root) if positive]
    terms = []
    for label in labels_or_query:
        try:
            term = make_term(label)
        except QueryError:
            continue
        if term is not None:
            terms.append(term)
    return terms


def _occurrences(text: str, terms: list[Term]) -> list[tuple[int, int]]:
    """Where in the original text any of the terms occurs: sorted, overlaps merged."""
    folded, where = _folded(text)
    spans = [m.span() for m in TOKEN.finditer(folded)]
    tokens = [folded[a:b] for a, b in spans]
    found: list[tuple[int, int]] = []
    for term in terms:  # the term's own rule of where it occurs; its title: is not asked here
        n = len(term.tokens)
        for i in term.starts(tokens):
            found.append((where[spans[i][0]], where[spans[i + n - 1][1] - 1] + 1))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(found):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _window(text: str, a: int, b: int, width: int) -> tuple[int, int, bool, bool]:
    """About `width` characters of the sentence around text[a:b], and whether each end was cut."""
    start = 0
    for m in _SENTENCE_END.finditer(text):  # the lookahead must see past a, so no endpos
        if m.end() > a:
            break
        start = m.end()
    stop = _SENTENCE_END.search(text, b)
    end = stop.end() if stop else len(text)
    while start < a and text[start].isspace():
        start += 1
    if end - start <= width:
        return start, end, False, False
    # Too long: keep the match, with about a third of the room before it, cut at spaces.
    lo = max(start, a - max(0, width - (b - a)) // 3)
    hi = min(end, max(b, lo + width))
    if lo > start and (space := text.find(" ", lo, a)) >= 0:
        lo = space + 1
    if hi < end and (space := text.rfind(" ", b, hi)) >= 0:
        hi = space
    while lo > start and unicodedata.combining(text[lo]):
        lo -= 1  # never split a letter from its accent
    return lo, hi, lo > start, hi < end


def snippet(text: str, labels_or_query: Query | Iterable[str], *, width: int = 200) -> list[tuple[str, bool]]:
    """The piece of the sentence where a term first occurs, as (original text, is a match) segments.

    Empty when no term occurs in the text. Matches are whole words (or CJK substrings) as
    the index matches them, found in the original characters so they can be escaped and bolded.
    """
    if not text:
        return []
    spans = _occurrences(text, _terms_of(labels_or_query))
    if not spans:
        return []
    lo, hi, cut_before, cut_after = _window(text, *spans[0], width)
    pieces: list[tuple[str, bool]] = [("…", False)] if cut_before else []
    at = lo
    for a, b in spans:
        if a < lo or b > hi:
            continue
        if a > at:
            pieces.append((text[at:a], False))
        pieces.append((text[a:b], True))
        at = b
    tail = text[at:hi].rstrip()
    if tail:
        pieces.append((tail, False))
    if cut_after:
        pieces.append(("…", False))
    return pieces
