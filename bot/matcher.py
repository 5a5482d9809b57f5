"""Query parsing, the subscription index and alert snippets. Pure: no I/O, no clock.

The seam: `parse_query(text) -> Query`, `build_index(rows)`, `SubscriptionIndex.add/remove`,
`match(articles, index) -> alerts`, `snippet(text, labels)` and `QUERY_HELP`. The language
lives in `bot.query`, the index in `bot.index`; this module is what the rest of the bot imports.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from bot.index import SubscriptionIndex, build_index, match
from bot.query import (
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    TOKEN,
    Document,
    Query,
    QueryError,
    Term,
    leaves,
    make_term,
    normalize,
    parse_query,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "QUERY_HELP",
    "Document",
    "Query",
    "QueryError",
    "SubscriptionIndex",
    "build_index",
    "match",
    "normalize",
    "parse_query",
    "snippet",
]

QUERY_HELP: dict[str, str] = {
    "en": (
        "Words match whole words, ignoring case and accents: nato finds “NATO” and “NATO's” but "
        "not “NATOPOLIS”; zurich finds “Zürich”. A plural is another word: use a prefix.\n"
        "Chinese, Japanese and Korean terms match anywhere in the text: 乌克兰 finds “乌克兰局势”.\n"
        "Letters, digits and CJK characters are separate pieces that must follow each other: "
        'covid-19 = "covid 19" = COVID19; u.s. finds “U.S.”; 5G网络 finds “5G 网络”.\n'
        "\n"
        "nato ukraine — both words, anywhere (AND is optional)\n"
        '"climate change" — the exact phrase, even across punctuation or a line break\n'
        "bitcoin OR ethereum — either one (also bitcoin | ethereum)\n"
        'nato -summit — without “summit” (also NOT summit); -"world cup" excludes a phrase\n'
        "(tesla OR spacex) musk — parentheses group\n"
        "sanction* — words starting with at least 3 letters: sanctions, sanctioned\n"
        "title:apple — only in the headline\n"
        "\n"
        "At most 200 characters, 10 terms and 3 levels of parentheses."
    ),
    "zh": (
        "英文等词语按整词匹配，不分大小写和重音：nato 能找到 “NATO” 和 “NATO's”，但不会匹配 "
        "“NATOPOLIS”；zurich 能找到 “Zürich”。复数算另一个词，请用前缀。\n"
        "中文、日文、韩文词语只要在文中出现即匹配：乌克兰 能找到 “乌克兰局势”。\n"
        "字母、数字和中日韩文字各自成段，须前后紧接出现："
        'covid-19 = "covid 19" = COVID19；u.s. 能找到 “U.S.”；5G网络 能找到 “5G 网络”。\n'
        "\n"
        "俄罗斯 乌克兰 — 两个词都要出现（AND 可省略）\n"
        '"人工智能 芯片" — 完整短语，可跨标点和换行\n'
        "华为 OR 小米 — 任一即可（也可写 华为 | 小米）\n"
        '苹果 -水果 — 排除 “水果”（也可写 NOT 水果）；-"世界杯" 排除短语\n'
        "(特斯拉 OR 比亚迪) 电动车 — 用括号分组\n"
        "sanction* — 以至少 3 个字母开头的词：sanctions、sanctioned\n"
        "title:华为 或 标题:华为 — 只查标题\n"
        "\n"
        "最多 200 个字符、10 个词、3 层括号。"
    ),
}

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
    for term in terms:
        toks, n = term.tokens, len(term.tokens)
        for i in range(len(tokens) - n + 1):
            if all(tokens[i + k] == toks[k] for k in range(n - 1)):
                last = tokens[i + n - 1]
                if last == toks[-1] or (term.prefix and last.startswith(toks[-1])):
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
