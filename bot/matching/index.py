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

import collections
import itertools
from array import array
from collections.abc import Iterable
from itertools import compress, repeat
from typing import Any, TypeAlias, cast

from bot.domain import Alert, StoredArticle, UserInputError
from bot.matching.compiler import _OPS, Prog, compile_query, quick_compile
from bot.matching.document import Document
from bot.matching.parser import parse_query
from bot.matching.program import _anchors, _kind, _labels, _some, _unpack, matched_labels
from bot.matching.query import Query

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
