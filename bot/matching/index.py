"""The subscription index: it narrows an article to the queries it may answer. Pure.

A presearcher in the manner of Lucene Monitor. Subscriptions with the same query share a
group, and a group is filed under its query tree's anchors (bot.matching.query.anchors):
terms of which at least one occurs in every match (the most selective term of `a b -c`, both
terms of `a OR b`). A term is filed by its token, its first two or three tokens, or the first
three characters of a prefix; an article's token set, token pairs, token triples and token
heads are looked up in those tables, which gives the candidate groups. The query decides:
each candidate's compiled program (bot.matching.compiler, held equal to the tree) is run on
the article, except for the one named shortcut, a query its lookup key alone proves
(bot.matching.program.proves).

Memory is what limits a million subscriptions, so a group is two fields, its program and its
members (bot.matching.membership), and subscriptions are arrays indexed by id, in pages.
Time is what limits the rest, so the hot paths are C-level passes (map, set intersection,
dict.update) rather than Python loops.
"""

from __future__ import annotations

import collections
import itertools
from array import array
from collections.abc import Iterable, Iterator
from itertools import compress, repeat
from typing import Any, TypeAlias, cast

from bot.domain import Alert, StoredArticle, UserInputError
from bot.matching import membership
from bot.matching.compiler import Prog, compile_query, is_word, tree_of
from bot.matching.document import Document
from bot.matching.membership import Hits, Members
from bot.matching.parser import parse_query
from bot.matching.program import counted_labels, counts, matched_labels, proven_labels, proves
from bot.matching.query import Node, Query, Term, anchors

_BUCKET = 32  # groups under one key kept in a list up to this many; a dict by program beyond


_PAGE = 12  # subscriptions are kept in pages of 4096 ids, so growing never copies


_MASK = (1 << _PAGE) - 1


_DENSE_MIN = 1 << 20  # ids below max(this, 4 x count) live in pages; others in a dict


class _Group:
    """The subscriptions that share one query; found, it is verified against the article."""

    __slots__ = ("members", "prog")

    def __init__(self, prog: Prog) -> None:
        self.prog = prog
        self.members: Members | None = None


class _ProvenGroup(_Group):
    """A group whose lookup key proves its query (program.proves): found is matched."""

    __slots__ = ()


class _WordGroup(_ProvenGroup):
    """A proven group whose query is one word as written in canonical form, its only label:
    the commonest query, so the class says it and matching spends no call on its labels."""

    __slots__ = ()


class _CountedGroup(_Group):
    """A group whose query is an OR that program.counts: found as many times as its terms
    occur, which decides it."""

    __slots__ = ()


# The groups under one key: one group; a list when several share it; a dict of them by
# program when many do, so finding one stays cheap.
Bucket: TypeAlias = "_Group | list[_Group] | dict[Prog, _Group]"


class _Table:
    """Groups by lookup key, for one scope: the whole article, or its title only."""

    __slots__ = ("pairs", "stems", "triple_starts", "triples", "two_starts", "words")

    def __init__(self) -> None:
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
        self._repeats: dict[_Group, list[tuple[int, int]]] = {}  # membership.repeats, remembered

    def __len__(self) -> int:
        return self._count

    def __contains__(self, sub_id: object) -> bool:
        return isinstance(sub_id, int) and self._locate(sub_id) is not None

    def distinct_queries(self) -> int:
        """How many distinct queries are indexed."""
        return self._groups

    def add(self, sub_id: int, chat_id: int, query: str | Query) -> None:
        """Add a subscription, replacing one with the same id; a bad query raises QueryError first."""
        root = (query if isinstance(query, Query) else parse_query(query)).root
        prog = compile_query(root)
        self.remove(sub_id)
        self._attach(sub_id, chat_id, self._find(root, prog) or self._new_group(root, prog))

    def remove(self, sub_id: int) -> None:
        """Remove a subscription; nothing happens when it is not there."""
        found = self._locate(sub_id)
        if found is None:
            return
        group = found[0]
        if sub_id in self._far:
            del self._far[sub_id]
        else:
            cast(list[_Group | None], self._groups_pages[sub_id >> _PAGE])[sub_id & _MASK] = None
        self._count -= 1
        self._repeats.pop(group, None)
        group.members = membership.left(cast(Members, group.members), sub_id)
        if group.members is None:
            self._drop_group(group)

    def remove_chat(self, chat_id: int) -> None:
        """Remove every subscription of a chat (a scan of all subscriptions)."""
        for sub_id in [s for s, (_, c) in self._subscriptions() if c == chat_id]:
            self.remove(sub_id)

    def candidates(self, doc: Document) -> list[_Group]:
        """The groups whose queries the document may answer: the presearch. A group filed under
        several of the article's keys comes once for each."""
        found: list[_Group] = []
        _scan(self._any, doc.words, doc.tokens, found)
        title = self._title
        if title.words or title.two_starts or title.stems:
            _scan(title, doc.title_words, doc.tokens[: doc.title_len], found)
        return found

    def hits(self, doc: Document) -> tuple[dict[int, tuple[str, ...]], dict[int, tuple[int, ...]]]:
        """For each chat with a matching subscription: the labels of the terms that matched,
        and the ids of the subscriptions that matched."""
        matched: list[tuple[_Group, tuple[str, ...]]] = []
        verify: list[_Group] = []
        counted: list[_Group] = []
        for group in self.candidates(doc):
            kind = type(group)
            if kind is _WordGroup:
                matched.append((group, (cast(str, group.prog),)))
            elif kind is _ProvenGroup:
                matched.append((group, proven_labels(group.prog)))
            elif kind is _CountedGroup:
                counted.append(group)  # once for each of its terms found
            else:
                verify.append(group)
        for group in dict.fromkeys(verify):
            labels = matched_labels(group.prog, doc)
            if labels:
                matched.append((group, labels))
        for group, found in collections.Counter(counted).items():
            matched.append((group, counted_labels(group.prog, found, doc)))
        hits = Hits()
        # One subscription, the commonest group, is given its alert in place (as Hits.give
        # would) rather than by two calls.
        labels_of, subs_of, more = hits.labels, hits.subs, hits.more
        pages, far, chat_of = self._chats_pages, self._far, self._chat_of
        for group, labels in matched:
            members = group.members
            if type(members) is int and not (far and members in far):
                chat = cast("array[int]", pages[members >> _PAGE])[members & _MASK]
                if chat in labels_of:
                    more.append((chat, labels, (members,)))
                else:
                    labels_of[chat] = labels
                    subs_of[chat] = (members,)
            elif not hits.give(cast(Members, members), labels, chat_of):
                hits.also(self._repeated(group), labels)
        return hits.merged()

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

    def _repeated(self, group: _Group) -> list[tuple[int, int]]:
        found = self._repeats.get(group)
        if found is None:
            found = self._repeats[group] = membership.repeats(cast(Members, group.members))
        return found

    def _chat_of(self, sub_id: int) -> int:
        """The chat of an indexed subscription."""
        page = sub_id >> _PAGE
        if 0 <= page < len(self._chats_pages) and sub_id not in self._far:
            return cast("array[int]", self._chats_pages[page])[sub_id & _MASK]
        return self._far[sub_id][1]

    def _subscriptions(self) -> list[tuple[int, tuple[_Group, int]]]:
        out = list(self._far.items())
        for p, (groups, chats) in enumerate(zip(self._groups_pages, self._chats_pages, strict=True)):
            if groups is not None and chats is not None:
                base = p << _PAGE
                out += [(base + i, (g, chats[i])) for i, g in enumerate(groups) if g is not None]
        return out

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
        self._repeats.pop(group, None)
        group.members = membership.joined(group.members, sub_id, chat_id, self._chat_of)

    def _slot(self, term: Term) -> tuple[dict[Any, Bucket], Any]:
        """The table and key a term is filed under."""
        table = self._title if term.title else self._any
        tokens = term.tokens
        if len(tokens) == 1:
            return (table.stems, tokens[0][:3]) if term.prefix else (table.words, tokens[0])
        if len(tokens) == 2 and term.prefix:
            return table.words, tokens[0]
        if len(tokens) == 2 or (len(tokens) == 3 and term.prefix):
            return table.pairs, (tokens[0], tokens[1])
        return table.triples, tokens[:3]

    def _find(self, root: Node, prog: Prog) -> _Group | None:
        """The group of an equal program, looked for under the first of its anchors."""
        terms = anchors(root)
        if not terms:
            return None
        lookup, key = self._slot(terms[0])
        entry = lookup.get(key)
        if isinstance(entry, dict):
            return entry.get(prog)
        for group in entry if isinstance(entry, list) else (entry,) if entry is not None else ():
            if group.prog == prog:
                return group
        return None

    def _new_group(self, root: Node, prog: Prog) -> _Group:
        terms = anchors(root)
        if terms is None:  # parse_query refuses these; a hand-built Query might not
            raise UserInputError("the query has nothing to look for")
        group: _Group
        if counts(prog):
            group = _CountedGroup(prog)
        elif not proves(prog):
            group = _Group(prog)
        else:
            group = _WordGroup(prog) if type(prog) is str and is_word(prog) else _ProvenGroup(prog)
        for term in terms:
            lookup, key = self._slot(term)
            _file(lookup, key, group)
            if type(key) is tuple:  # a phrase: note where it starts, for _scan
                table = self._title if term.title else self._any
                table.two_starts.add(key[0])
                if len(key) == 3:
                    table.triple_starts.add(key[:2])
        self._groups += 1
        return group

    def _drop_group(self, group: _Group) -> None:
        for term in anchors(tree_of(group.prog)) or ():
            lookup, key = self._slot(term)
            entry = lookup.get(key)
            if isinstance(entry, dict):
                entry.pop(group.prog, None)
                if not entry:
                    del lookup[key]
            elif isinstance(entry, list):
                if group in entry:
                    entry.remove(group)
                if len(entry) == 1:
                    lookup[key] = entry[0]
            elif entry is group:
                del lookup[key]
        self._groups -= 1


def _scan(table: _Table, words: set[str], tokens: list[str], found: list[_Group]) -> None:
    """The groups filed under the article's tokens, pairs, triples and stems. Each step is one
    C-level pass: in a big table every lookup is a cache miss, and a Python-level loop would
    cost as much again."""
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
        if isinstance(entry, _Group):
            found.append(entry)
        elif type(entry) is list:
            found += entry
        else:
            found += cast("dict[Prog, _Group]", entry).values()


def _file(lookup: dict[Any, Bucket], key: object, group: _Group) -> None:
    entry = lookup.get(key)
    if entry is None:
        lookup[key] = group
    elif isinstance(entry, dict):
        entry[group.prog] = group
    elif isinstance(entry, list):
        if group in entry:
            return  # a query filed twice under one key (title:x OR title:x*)
        if len(entry) < _BUCKET:
            entry.append(group)
        else:
            lookup[key] = {g.prog: g for g in (*entry, group)}
    elif entry is not group:
        lookup[key] = [entry, group]


def alerts(rows: Iterable[tuple[int, int, tuple[str, ...], tuple[int, ...]]]) -> Iterator[Alert]:
    """Alerts from their fields, at C speed: NamedTuple's own constructor is a Python function,
    and an article at a million subscriptions makes thousands of alerts (bench/match.py)."""
    return map(tuple.__new__, repeat(Alert), rows)  # type: ignore[arg-type]


def match(articles: Iterable[StoredArticle], index: SubscriptionIndex) -> list[Alert]:
    """One alert per (chat, article), listing every term that matched for that chat and the
    subscriptions that matched.

    Article by article, in the order given; an article's chats come in no particular order.
    """
    out: list[Alert] = []
    for article in articles:
        labels, subs = index.hits(Document.of(article.title, article.summary, article.content))
        # Not sorted (a third of the time at thousands of chats): an article can answer thousands.
        out += alerts(zip(labels.keys(), repeat(article.id), labels.values(), subs.values()))
    return out
