"""The subscription index: every active query, found from the tokens of an article. Pure.

A presearcher in the manner of Lucene Monitor. Subscriptions with the same query share a
group, and a group is filed under its anchors: terms of which at least one occurs in every
match (the most selective term of `a b -c`, both terms of `a OR b`). A term is filed by its
token, its first two or three tokens, or the first three characters of a prefix; an article's
token set, token pairs, token triples and token heads are looked up in those tables, which
gives the candidate groups. A group whose query is one term of up to three exact tokens (a
word, a phrase, a short CJK term) is a match the moment it is found; an OR of such terms is
found once for each term that occurs, which says how many to look for; any other query is
verified against the article.

Memory is what limits a million subscriptions, so a group is three fields: its query compiled
to a small program of strings and tuples (a plain word is just the word, shared with the
table key), its chats, and what finding it proves. Subscriptions are arrays indexed by id,
in pages.

Time is what limits the rest, so the hot paths are C-level passes (map, filter, set
intersection, dict.update) rather than Python loops: looking up an article's tokens, giving a
popular query's thousands of chats their alert, and loading a database's rows at start-up,
where only the distinct query texts are handled one by one (most of them by quick_compile,
which skips the parser for the commonest shapes).
"""

from __future__ import annotations

import bisect
import collections
import functools
import gc
import itertools
import operator
import re
import sys
from array import array
from collections.abc import Iterable
from itertools import compress, repeat
from typing import Any, TypeAlias, cast

from bot.domain import Alert, StoredArticle, UserInputError
from bot.query import (
    _KEYWORDS,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    UNSPACED,
    AllOf,
    Document,
    Node,
    Not,
    Query,
    Term,
    clear_term_cache,
    display,
    parse_query,
)

__all__ = ["SubscriptionIndex", "build_index", "match"]

# A program is a leaf or an operator tuple: ("&", p, ...), ("|", p, ...), ("-", p).
# A leaf is a term's reference, or (reference, label) when the user's spelling differs from
# the canonical one. A reference is a plain token (one exact word anywhere), "\x01"-separated
# tokens with a trailing "\x01" unless the last is a prefix (a needle in the joined token text),
# or "\x02" + needle for a title-only term.
Prog: TypeAlias = "str | tuple[Prog, ...]"
_OPS = ("&", "|", "-")
_UNSPACED_RUN = re.compile(f"[{UNSPACED}]+")
_SMALL = 64  # chats kept in an array up to this many; a dict of counts beyond
_BUCKET = 32  # groups under one key kept in a list up to this many; a dict by program beyond
_PAGE = 12  # subscriptions are kept in pages of 4096 ids, so growing never copies
_MASK = (1 << _PAGE) - 1
_DENSE_MIN = 1 << 20  # ids below max(this, 4 x count) live in pages; others in a dict

Chats: TypeAlias = "int | array[int] | dict[int, int] | None"


class _Group:
    """The subscriptions that share one query."""

    __slots__ = ("chats", "direct", "prog")

    def __init__(self, prog: Prog, direct: int) -> None:
        self.prog = prog
        self.chats: Chats = None  # one chat id, then an array of ids, then a dict of id -> count
        # 1 when the lookup key alone proves the query; n > 1 for an OR of n such terms, found
        # once for each of them that occurs; 0 for any other query, verified against the article.
        self.direct = direct


Bucket: TypeAlias = "_Group | list[_Group] | dict[Any, _Group]"


class _Table:
    """Groups by lookup key, for one scope: the whole article, or its title only."""

    __slots__ = ("pairs", "stems", "triple_starts", "triples", "two_starts", "words")

    def __init__(self) -> None:
        # Each value is a group; a list of groups when several share the key; a dict of them by
        # program when many do, so finding one stays cheap.
        self.words: dict[str, Bucket] = {}  # one exact token; the first of "a b*"
        self.pairs: dict[tuple[str, str], Bucket] = {}  # "a b"; the first two of "a b c*"
        self.triples: dict[tuple[str, str, str], Bucket] = {}  # the first three of longer
        self.stems: dict[str, Bucket] = {}  # first 3 characters of a one-word prefix
        # Tokens that start a term filed by pairs, and pairs that start one filed by triples:
        # an article's pairs and triples are formed only where these say a lookup can hit.
        # Hints: they stay when those terms go.
        self.two_starts: set[str] = set()
        self.triple_starts: set[tuple[str, str]] = set()


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
    # As bot.query._parse_flat: repeats within an alternative and repeated alternatives go.
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


def _unpack(ref: str) -> tuple[list[str], bool, bool]:
    """(tokens, prefix, title) of a reference."""
    title = ref[0] == "\x02"
    if title:
        ref = ref[1:]
    if ref[0] != "\x01":
        return [ref], False, False
    return ref.strip("\x01").split("\x01"), not ref.endswith("\x01"), title


def _weight(ref: str) -> float:
    """Guessed rarity, as in bot.query.weight: longer runs and title-only terms are rarer."""
    if ref[0] > "\x02":
        return len(ref)  # a plain word
    tokens, prefix, title = _unpack(ref)
    return sum(map(len, tokens)) + 4 * (len(tokens) - 1) - 3 * prefix + 6 * title


def _anchors(prog: Prog) -> list[str] | None:
    """References of which one occurs in every match; None when there is no such set."""
    if type(prog) is str:
        return [prog]
    head = prog[0]
    if head == "-":
        return None
    if head == "|":
        found: list[str] = []
        for child in prog[1:]:
            sub = _anchors(child)
            if sub is None:
                return None
            found += sub
        return found
    if head == "&":
        options = [a for a in map(_anchors, prog[1:]) if a is not None]
        if len(options) < 2:  # no choice to make: `a -b`, the commonest
            return options[0] if options else None
        return max(options, key=lambda refs: (min(map(_weight, refs)), -len(refs)))
    return [cast(str, head)]  # (reference, label)


def _label(ref: str) -> str:
    """A multi-token or title reference as the user reads it."""
    text = ref.replace("\x01", "").lstrip("\x02")
    if ref[-1] == "\x01" and _UNSPACED_RUN.fullmatch(text):
        return text  # CJK: the characters, as written
    return _spelled(ref)


@functools.lru_cache(maxsize=1 << 16)
def _spelled(ref: str) -> str:
    """_label, the general way; cached, for matching repeats them."""
    tokens, prefix, _ = _unpack(ref)
    return display(tokens) + ("*" if prefix else "")


def _direct(prog: Prog) -> bool:
    """Whether a query's lookup key alone proves it: one term of one to three exact tokens."""
    if isinstance(prog, str):
        ref = prog
    elif prog[0] in _OPS:
        return False
    else:
        ref = cast(str, prog[0])
    if ref[0] > "\x02":
        return True
    needle = ref[1:] if ref[0] == "\x02" else ref
    return needle[-1] == "\x01" and needle.count("\x01") <= 4


def _kind(prog: Prog) -> int:
    """_Group.direct of a query. (An OR that repeats a term, which the parser never gives, is
    found fewer times than it has terms, and _some then tests it as far as it takes.)"""
    head = prog[0]
    if head == "|":
        return len(prog) - 1 if all(map(_direct, prog[1:])) else 0
    if head == "&" or head == "-":
        return 0
    return 1 if _direct(prog) else 0


def _labels(prog: Prog) -> tuple[str]:
    """The label of a direct query."""
    if type(prog) is str:
        return (prog,) if prog[0] > "\x02" else (_label(prog),)
    return (cast(str, prog[1]),)


def _has(ref: str, doc: Document) -> bool:
    first = ref[0]
    if first > "\x02":
        return ref in doc.words
    # A search in the text, remembered: at thousands of matches an article tests the same
    # phrases and CJK terms for many queries.
    seen = doc.seen
    found = seen.get(ref)
    if found is None:
        found = seen[ref] = ref in doc.joined if first == "\x01" else ref[1:] in doc.title_joined
    return found


def _test(prog: Prog, doc: Document) -> bool:
    if type(prog) is str:
        return _has(prog, doc)
    head = prog[0]
    if head == "&":
        return all(_test(c, doc) for c in prog[1:])
    if head == "|":
        return any(_test(c, doc) for c in prog[1:])
    if head == "-":
        return not _test(prog[1], doc)
    return _has(cast(str, head), doc)


def _gather(prog: Prog, doc: Document, out: list[str]) -> bool:
    """Whether the program matches; labels of the positive terms that made it match go to out."""
    if type(prog) is str:
        if _has(prog, doc):
            out.append(_label(prog) if prog[0] <= "\x02" else prog)
            return True
        return False
    head = prog[0]
    if head == "&" or head == "|":
        # Terms, the commonest children, are tested in place rather than by a call.
        every = head == "&"
        mark = len(out)
        hit = False
        for child in prog[1:]:
            if type(child) is str:
                if child[0] > "\x02":
                    found = child in doc.words
                    label = child
                else:
                    found = _has(child, doc)
                    label = _label(child) if found else ""
                if found:
                    out.append(label)
            else:
                found = _gather(child, doc, out)
            if found:
                hit = True  # in an OR, every true branch contributes its terms
            elif every:
                del out[mark:]
                return False
        return hit
    if head == "-":
        child = prog[1]
        if type(child) is str and child[0] > "\x02":
            return child not in doc.words
        return not _test(child, doc)
    if _has(cast(str, head), doc):
        out.append(cast(str, prog[1]))
        return True
    return False


def _some(prog: Prog, times: int, doc: Document) -> tuple[str, ...]:
    """The labels of an OR of direct terms of which `times` were found, tested in order until
    that many are: `a OR b` found once costs one test (a set lookup when `a` is a word)."""
    out: list[str] = []
    left = times
    for child in prog[1:]:
        ref = child if type(child) is str else cast(str, child[0])
        if _has(ref, doc):
            out += _labels(child)
            left -= 1
            if not left:
                break
    return tuple(dict.fromkeys(out))  # title:x OR x has one label twice


def matched_labels(prog: Prog, doc: Document) -> tuple[str, ...]:
    """Labels of the positive terms that made the document match; empty when it does not."""
    out: list[str] = []
    return tuple(dict.fromkeys(out)) if _gather(prog, doc, out) else ()


class SubscriptionIndex:
    """All active subscriptions, updated in place; `match` finds the ones an article answers."""

    def __init__(self) -> None:
        # Page i holds ids i*4096 ... i*4096+4095: their groups, and their chats.
        self._groups_pages: list[list[_Group | None] | None] = []
        self._chats_pages: list[array[int] | None] = []
        self._far: dict[int, tuple[_Group, int]] = {}  # ids too large or negative for the arrays
        self._count = 0
        self._groups = 0
        self._any = _Table()
        self._title = _Table()

    def __len__(self) -> int:
        return self._count

    def __contains__(self, sub_id: object) -> bool:
        return isinstance(sub_id, int) and self._locate(sub_id) is not None

    def distinct_queries(self) -> int:
        """How many distinct queries are indexed."""
        return self._groups

    def add(self, sub_id: int, chat_id: int, query: str | Query) -> None:
        """Add a subscription, replacing one with the same id; a bad query raises QueryError first."""
        if isinstance(query, Query):
            prog = compile_query(query.root)
        else:
            prog = quick_compile(query) or compile_query(parse_query(query).root)
        self.remove(sub_id)
        self._attach(sub_id, chat_id, self._find(prog) or self._new_group(prog))

    def remove(self, sub_id: int) -> None:
        """Remove a subscription; nothing happens when it is not there."""
        found = self._locate(sub_id)
        if found is None:
            return
        group, chat_id = found
        if sub_id in self._far:
            del self._far[sub_id]
        else:
            cast(list[_Group | None], self._groups_pages[sub_id >> _PAGE])[sub_id & _MASK] = None
        self._count -= 1
        if _leave(group, chat_id):
            self._drop_group(group)

    def remove_chat(self, chat_id: int) -> None:
        """Remove every subscription of a chat (a scan of all subscriptions)."""
        for sub_id in [s for s, (_, c) in self._subscriptions() if c == chat_id]:
            self.remove(sub_id)

    def _subscriptions(self) -> list[tuple[int, tuple[_Group, int]]]:
        out = list(self._far.items())
        for p, (groups, chats) in enumerate(zip(self._groups_pages, self._chats_pages, strict=True)):
            if groups is not None and chats is not None:
                base = p << _PAGE
                out += [(base + i, (g, chats[i])) for i, g in enumerate(groups) if g is not None]
        return out

    def _hits(self, doc: Document) -> dict[int, tuple[str, ...]]:
        """For each chat with a matching subscription: the labels of the terms that matched."""
        found: list[_Group] = []
        _scan(self._any, doc.words, doc.tokens, found)
        title = self._title
        if title.words or title.two_starts or title.stems:
            _scan(title, doc.title_words, doc.tokens[: doc.title_len], found)
        per_chat: dict[int, tuple[str, ...]] = {}
        more: list[tuple[int, tuple[str, ...]]] = []  # a chat's labels beyond the first query's
        verify: list[_Group] = []
        labels: tuple[str, ...]
        for group in found:
            if group.direct == 1:
                prog = group.prog
                # A plain word, the commonest query, without a call.
                labels = (prog,) if type(prog) is str and prog[0] > "\x02" else _labels(prog)
                _deliver(group.chats, labels, per_chat, more)
            else:
                verify.append(group)
        for group, times in collections.Counter(verify).items():
            if group.direct == times:  # an OR with every term found: nothing to test
                # (title:x OR x has one label twice)
                labels = tuple(dict.fromkeys(label for child in group.prog[1:] for label in _labels(child)))
            elif group.direct:
                labels = _some(group.prog, times, doc)
            else:
                labels = matched_labels(group.prog, doc)
            if labels:
                _deliver(group.chats, labels, per_chat, more)
        if more:
            several: dict[int, list[tuple[str, ...]]] = {}
            for chat, labels in more:
                several.setdefault(chat, [per_chat[chat]]).append(labels)
            for chat, hits in several.items():
                per_chat[chat] = _terms(hits)
        return per_chat

    # --- internals ---------------------------------------------------------------------------

    def _locate(self, sub_id: int) -> tuple[_Group, int] | None:
        page = sub_id >> _PAGE
        if 0 <= page < len(self._groups_pages):
            groups = self._groups_pages[page]
            if groups is not None:
                group = groups[sub_id & _MASK]
                if group is not None:
                    return group, cast("array[int]", self._chats_pages[page])[sub_id & _MASK]
        return self._far.get(sub_id)

    def _attach(self, sub_id: int, chat_id: int, group: _Group) -> None:
        """File an absent subscription under a group."""
        if 0 <= sub_id < max(_DENSE_MIN, 4 * self._count):
            page = sub_id >> _PAGE
            pages = self._groups_pages
            if page >= len(pages):
                pages += [None] * (page + 1 - len(pages))
                self._chats_pages += [None] * (page + 1 - len(self._chats_pages))
            groups = pages[page]
            if groups is None:
                groups = pages[page] = [None] * (1 << _PAGE)
                self._chats_pages[page] = array("q", bytes(8 << _PAGE))
            groups[sub_id & _MASK] = group
            cast("array[int]", self._chats_pages[page])[sub_id & _MASK] = chat_id
        else:
            self._far[sub_id] = (group, chat_id)
        self._count += 1
        _join(group, chat_id)

    def _slot(self, ref: str) -> tuple[dict[Any, Bucket], Any]:
        """The table and key a term is filed under."""
        if ref[0] > "\x02":  # a plain word
            return self._any.words, ref
        tokens, prefix, title = _unpack(ref)
        table = self._title if title else self._any
        if len(tokens) == 1:
            return (table.stems, tokens[0][:3]) if prefix else (table.words, tokens[0])
        if len(tokens) == 2 and prefix:
            return table.words, tokens[0]
        if len(tokens) == 2 or (len(tokens) == 3 and prefix):
            return table.pairs, (tokens[0], tokens[1])
        return table.triples, (tokens[0], tokens[1], tokens[2])

    def _find(self, prog: Prog) -> _Group | None:
        """The group of an equal program, looked for under one of its anchors."""
        refs = _anchors(prog)
        if not refs:
            return None
        lookup, key = self._slot(refs[0])
        entry = lookup.get(key)
        if isinstance(entry, dict):
            return entry.get(prog)
        for group in entry if isinstance(entry, list) else (entry,) if entry is not None else ():
            if group.prog == prog:
                return group
        return None

    def _new_group(self, prog: Prog) -> _Group:
        # A word, plain or as the user spelled it: the commonest queries, in short.
        word = prog if type(prog) is str else prog[0] if prog[0] not in _OPS else None
        if type(word) is str and word[0] > "\x02":
            group = _Group(prog, 1)
            _file(self._any.words, word, group)
            self._groups += 1
            return group
        refs = _anchors(prog)
        if refs is None:  # parse_query refuses these; a hand-built Query might not
            raise UserInputError("the query has nothing to look for")
        group = _Group(prog, _kind(prog))
        for ref in dict.fromkeys(refs) if len(refs) > 1 else refs:
            lookup, key = self._slot(ref)
            _file(lookup, key, group)
            if type(key) is tuple:  # a phrase: note where it starts, for _scan
                table = self._title if ref[0] == "\x02" else self._any
                table.two_starts.add(key[0])
                if len(key) == 3:
                    table.triple_starts.add(key[:2])
        self._groups += 1
        return group

    def _drop_group(self, group: _Group) -> None:
        for ref in dict.fromkeys(_anchors(group.prog) or ()):
            lookup, key = self._slot(ref)
            entry = lookup[key]
            if isinstance(entry, dict):
                del entry[group.prog]
            elif isinstance(entry, list):
                entry.remove(group)
                if len(entry) == 1:
                    lookup[key] = entry[0]
            else:
                del lookup[key]
        self._groups -= 1


def _scan(table: _Table, words: set[str], tokens: list[str], found: list[_Group]) -> None:
    """The groups filed under the article's tokens, pairs, triples and stems (a group filed under
    several of them comes once for each). Each step is one C-level pass: in a big table every
    lookup is a cache miss, and a Python-level loop would cost as much again."""
    lookup = table.words
    hits: list[Bucket] = list(map(lookup.__getitem__, lookup.keys() & words))
    starts = table.two_starts.intersection(words)
    if starts:
        pairs = set(compress(itertools.pairwise(tokens), map(starts.__contains__, tokens)))
        hits += map(table.pairs.__getitem__, table.pairs.keys() & pairs)
        longer = table.triple_starts.intersection(pairs)
        if longer:
            triples = compress(
                zip(tokens, tokens[1:], tokens[2:], strict=False),
                map(longer.__contains__, itertools.pairwise(tokens)),
            )
            hits += map(table.triples.__getitem__, table.triples.keys() & set(triples))
    if table.stems:
        stems = table.stems
        hits += [stems[s] for s in {tok[:3] for tok in words if len(tok) >= 3} & stems.keys()]
    for entry in hits:
        if type(entry) is _Group:
            found.append(entry)
        elif type(entry) is list:
            found += entry
        else:
            found += cast("dict[Any, _Group]", entry).values()


def _file(lookup: dict[Any, Bucket], key: object, group: _Group) -> None:
    entry = lookup.get(key)
    if entry is None:
        lookup[key] = group
    elif isinstance(entry, dict):
        entry[group.prog] = group
    elif isinstance(entry, list):
        if len(entry) < _BUCKET:
            entry.append(group)
        else:
            lookup[key] = {g.prog: g for g in (*entry, group)}
    else:
        lookup[key] = [entry, group]


def _join(group: _Group, chat_id: int) -> None:
    chats = group.chats
    if chats is None:
        group.chats = chat_id
    elif isinstance(chats, int):
        group.chats = array("q", (chats, chat_id))
    elif isinstance(chats, dict):
        chats[chat_id] = chats.get(chat_id, 0) + 1
    elif len(chats) < _SMALL:
        chats.append(chat_id)
    else:  # removal from a long array would be a long scan
        counts: dict[int, int] = {}
        for c in (*chats, chat_id):
            counts[c] = counts.get(c, 0) + 1
        group.chats = counts


def _leave(group: _Group, chat_id: int) -> bool:
    """Take one subscription of a chat out of a group; True when the group is left empty."""
    chats = group.chats
    if chats is None or isinstance(chats, int):
        group.chats = None
        return True
    if isinstance(chats, dict):
        left = chats[chat_id] - 1
        if left:
            chats[chat_id] = left
        else:
            del chats[chat_id]
        return not chats
    chats.remove(chat_id)
    if len(chats) == 1:
        group.chats = chats[0]
    return False


def _deliver(
    chats: Chats,
    labels: tuple[str, ...],
    per_chat: dict[int, tuple[str, ...]],
    more: list[tuple[int, tuple[str, ...]]],
) -> None:
    """Give each chat the labels; a chat that has some already gets these in `more`."""
    if isinstance(chats, int):
        if chats in per_chat:
            more.append((chats, labels))
        else:
            per_chat[chats] = labels
    elif chats:
        # A popular query has thousands of chats: C-level passes, not a loop. A chat that has
        # labels already has them moved to `more` before these overwrite them; repeats within
        # one group (a chat with the query twice) give the same labels, so nothing is lost.
        if per_chat and (clash := per_chat.keys() & chats):
            more += zip(clash, map(per_chat.__getitem__, clash), strict=True)
        per_chat.update(zip(chats, repeat(labels)))


def _terms(hits: list[tuple[str, ...]]) -> tuple[str, ...]:
    """One chat's labels: each matching query's labels, queries in sorted order, no repeats."""
    return tuple(dict.fromkeys(label for labels in sorted(hits) for label in labels))


def build_index(subscriptions: Iterable[tuple[int, int, str]]) -> SubscriptionIndex:
    """An index over (subscription id, chat id, query) rows; stored queries that fail to parse are skipped."""
    rows = subscriptions if isinstance(subscriptions, list) else list(subscriptions)
    index = SubscriptionIndex()
    enabled = gc.isenabled()
    # A collection during the load would rescan every object made so far, again and again.
    gc.disable()
    try:
        if not _load_sorted(index, rows):
            index = SubscriptionIndex()  # it may hold some groups already
            _load_rows(index, rows)
    finally:
        if enabled:
            gc.enable()
        clear_term_cache()
    return index


def _load_sorted(index: SubscriptionIndex, rows: list[tuple[int, int, str]]) -> bool:
    """Load an empty index from rows with ascending ids and queries that all parse, as the
    database gives them, in C-level passes over the rows; False for any other rows, and the
    index is then to be thrown away.

    Only the distinct queries are handled one by one in Python: a third of the rows at a
    million subscriptions.
    """
    if not rows:
        return True
    columns = tuple(zip(*rows, strict=True))
    ids, chat_ids, texts = cast(tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]], columns)
    if (
        set(map(type, ids)) != {int}
        or ids[0] < 0
        or ids[-1] >= max(_DENSE_MIN, 4 * len(ids))
        or not all(map(operator.lt, ids, itertools.islice(ids, 1, None)))
    ):
        return False
    by_text: dict[str, Any] = dict.fromkeys(texts)  # each distinct text, then its group
    by_prog: dict[Prog, _Group] = {}  # texts that mean the same share a group
    get_group, new_group = by_prog.get, index._new_group
    for text in by_text:
        prog = quick_compile(text)
        if prog is None:
            try:
                prog = compile_query(parse_query(text).root)
            except UserInputError:
                return False
        group = get_group(prog)
        if group is None:
            group = by_prog[prog] = new_group(prog)
            group.chats = []  # type: ignore[assignment]  # a list while loading
        by_text[text] = group
    groups = list(map(by_text.__getitem__, texts))
    # Pages: each one's slots filled by one map over its run of rows.
    pages: list[list[_Group | None] | None] = [None] * ((ids[-1] >> _PAGE) + 1)
    chat_pages: list[array[int] | None] = [None] * len(pages)
    lo = 0
    while lo < len(ids):
        page = ids[lo] >> _PAGE
        hi = bisect.bisect_left(ids, (page + 1) << _PAGE, lo)
        slots = list(map(operator.and_, ids[lo:hi], itertools.repeat(_MASK)))
        page_groups: list[_Group | None] = [None] * (1 << _PAGE)
        page_chats = array("q", bytes(8 << _PAGE))
        pages[page], chat_pages[page] = page_groups, page_chats
        put: Any = page_groups.__setitem__  # an overloaded method, which map() cannot type
        collections.deque(map(put, slots, groups[lo:hi]), 0)
        put = page_chats.__setitem__
        collections.deque(map(put, slots, chat_ids[lo:hi]), 0)
        lo = hi
    index._groups_pages, index._chats_pages, index._count = pages, chat_pages, len(ids)
    # Each group's chats: gathered in one pass, then kept as _join would have kept them.
    collections.deque(map(list.append, map(operator.attrgetter("chats"), groups), chat_ids), 0)
    for group in by_prog.values():  # the forms _join gives a group's chats, at once
        chats: Any = group.chats
        if len(chats) == 1:
            group.chats = chats[0]
        elif len(chats) <= _SMALL:
            group.chats = array("q", chats)
        else:
            group.chats = dict(collections.Counter(chats))
    return True


def _load_rows(index: SubscriptionIndex, rows: list[tuple[int, int, str]]) -> None:
    """Load rows one by one: any order of ids, repeated ids, queries that no longer parse."""
    by_text: dict[str, _Group] = {}  # each distinct text is compiled once
    for sub_id, chat_id, text in rows:
        group = by_text.get(text)
        if group is None:
            try:
                prog = quick_compile(text) or compile_query(parse_query(text).root)
            except UserInputError:
                continue
            group = by_text[text] = index._find(prog) or index._new_group(prog)
        if sub_id in index:  # a repeated id replaces; its old group may go, so forget the texts
            index.remove(sub_id)
            by_text.clear()
            index.add(sub_id, chat_id, text)
        else:
            index._attach(sub_id, chat_id, group)


def match(articles: Iterable[StoredArticle], index: SubscriptionIndex) -> list[Alert]:
    """One alert per (chat, article), listing every term that matched for that chat.

    Article by article, in the order given; an article's chats come in no particular order.
    """
    alerts: list[Alert] = []
    for article in articles:
        hits = index._hits(Document.of(article.title, article.summary, article.content))
        # Built without a Python-level loop, and not sorted (a third of the time at thousands
        # of chats): an article can answer thousands of chats.
        rows = zip(hits.keys(), repeat(article.id), hits.values())
        alerts += map(tuple.__new__, repeat(Alert), rows)  # type: ignore[arg-type]
    return alerts
