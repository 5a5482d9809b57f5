"""The subscription index: every active query, found from the tokens of an article. Pure.

A presearcher in the manner of Lucene Monitor. Subscriptions with the same query share a
group, and a group is filed under its anchors: terms of which at least one occurs in every
match (the most selective term of `a b -c`, both terms of `a OR b`). A term is filed by its
token, its first two or three tokens, or the first three characters of a prefix; an article's
token set, token pairs, token triples and token heads are looked up in those tables, which
gives the candidate groups. A group whose query is one term of up to three exact tokens (a
word, a phrase, a short CJK term) is a match the moment it is found; any other is verified
against the article.

Memory is what limits a million subscriptions, so a group is two fields: its query compiled
to a small program of strings and tuples (a plain word is just the word, shared with the
table key), and its chats. Subscriptions are arrays indexed by id, in pages.
"""

from __future__ import annotations

import functools
import gc
import itertools
from array import array
from collections.abc import Iterable
from typing import Any, TypeAlias, cast

from bot.domain import Alert, StoredArticle, UserInputError
from bot.query import AllOf, Document, Node, Not, Query, Term, clear_term_cache, display, parse_query

__all__ = ["SubscriptionIndex", "build_index", "match"]

# A program is a leaf or an operator tuple: ("&", p, ...), ("|", p, ...), ("-", p).
# A leaf is a term's reference, or (reference, label) when the user's spelling differs from
# the canonical one. A reference is a plain token (one exact word anywhere), "\x01"-separated
# tokens with a trailing "\x01" unless the last is a prefix (a needle in the joined token text),
# or "\x02" + needle for a title-only term.
Prog: TypeAlias = "str | tuple[Prog, ...]"
_OPS = ("&", "|", "-")
_SMALL = 64  # chats kept in an array up to this many; a dict of counts beyond
_BUCKET = 32  # groups under one key kept in a list up to this many; a dict by program beyond
_PAGE = 12  # subscriptions are kept in pages of 4096 ids, so growing never copies
_MASK = (1 << _PAGE) - 1
_DENSE_MIN = 1 << 20  # ids below max(this, 4 x count) live in pages; others in a dict

Chats: TypeAlias = "int | array[int] | dict[int, int] | None"


class _Group:
    """The subscriptions that share one query."""

    __slots__ = ("chats", "prog")

    def __init__(self, prog: Prog) -> None:
        self.prog = prog
        self.chats: Chats = None  # one chat id, then an array of ids, then a dict of id -> count


Bucket: TypeAlias = "_Group | list[_Group] | dict[Any, _Group]"


class _Table:
    """Groups by lookup key, for one scope: the whole article, or its title only."""

    __slots__ = ("pairs", "stems", "triples", "words")

    def __init__(self) -> None:
        # Each value is a group; a list of groups when several share the key; a dict of them by
        # program when many do, so finding one stays cheap.
        self.words: dict[str, Bucket] = {}  # one exact token; the first of "a b*"
        self.pairs: dict[tuple[str, str], Bucket] = {}  # "a b"; the first two of "a b c*"
        self.triples: dict[tuple[str, str, str], Bucket] = {}  # the first three of longer
        self.stems: dict[str, Bucket] = {}  # first 3 characters of a one-word prefix


# In the word table, marks a token that starts a longer term; in the pair table, a pair that
# starts a term of three or more tokens. A hint: it stays when those terms go.
_STARTS = _Group("\x00")  # its program is no plain word, so _scan checks for it only after


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
        if not options:
            return None
        return max(options, key=lambda refs: (min(map(_weight, refs)), -len(refs)))
    return [cast(str, head)]  # (reference, label)


@functools.lru_cache(maxsize=1 << 16)
def _label(ref: str) -> str:
    """A multi-token or title reference as the user reads it; cached, for matching repeats them."""
    tokens, prefix, _ = _unpack(ref)
    return display(tokens) + ("*" if prefix else "")


def _direct(prog: Prog) -> tuple[str] | None:
    """The label of a query that its lookup key alone proves (one to three exact tokens)."""
    label: str | None
    if isinstance(prog, str):
        ref, label = prog, None
    elif prog[0] in _OPS:
        return None
    else:
        ref, label = cast(tuple[str, str], prog)
    if ref[0] > "\x02":
        return (label or ref,)
    needle = ref[1:] if ref[0] == "\x02" else ref
    if needle[-1] == "\x01" and needle.count("\x01") <= 4:  # up to three exact tokens
        return (label or _label(ref),)
    return None


def _has(ref: str, doc: Document) -> bool:
    first = ref[0]
    if first > "\x02":
        return ref in doc.words
    if first == "\x01":
        return ref in doc.joined
    return ref[1:] in doc.title_joined


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
    """Whether the program matches; the labels of the positive terms that made it match go to out."""
    if type(prog) is str:
        if _has(prog, doc):
            out.append(_label(prog) if prog[0] <= "\x02" else prog)
            return True
        return False
    head = prog[0]
    # Plain words, the commonest children, are handled in place rather than by a call.
    words = doc.words
    if head == "&":
        mark = len(out)
        for child in prog[1:]:
            if type(child) is str and child[0] > "\x02":
                if child not in words:
                    del out[mark:]
                    return False
                out.append(child)
            elif not _gather(child, doc, out):
                del out[mark:]
                return False
        return True
    if head == "|":
        hit = False
        for child in prog[1:]:
            if type(child) is str and child[0] > "\x02":
                if child in words:
                    out.append(child)
                    hit = True
            elif _gather(child, doc, out):
                hit = True  # every true branch contributes its terms
        return hit
    if head == "-":
        child = prog[1]
        if type(child) is str and child[0] > "\x02":
            return child not in words
        return not _test(child, doc)
    if _has(cast(str, head), doc):
        out.append(cast(str, prog[1]))
        return True
    return False


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
        prog = compile_query((query if isinstance(query, Query) else parse_query(query)).root)
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

    def search(self, doc: Document) -> dict[int, tuple[str, ...]]:
        """For each chat with a matching subscription: the labels of the terms that matched."""
        return {chat: _terms(hits) for chat, hits in self._hits(doc).items()}

    def _hits(self, doc: Document) -> dict[int, tuple[str, ...] | list[tuple[str, ...]]]:
        """For each chat: the labels of one matching query, or a list of them for several."""
        per_chat: dict[int, tuple[str, ...] | list[tuple[str, ...]]] = {}
        verify: dict[_Group, None] = {}
        self._scan(self._any, doc.words, doc.tokens, per_chat, verify)
        title = self._title
        if title.words or title.stems:
            self._scan(title, doc.title_words, doc.tokens[: doc.title_len], per_chat, verify)
        for group in verify:
            labels = matched_labels(group.prog, doc)
            if labels:
                _deliver(group, labels, per_chat)
        return per_chat

    # --- internals ---------------------------------------------------------------------------

    def _scan(
        self,
        table: _Table,
        words: set[str],
        tokens: list[str],
        per_chat: dict[int, tuple[str, ...] | list[tuple[str, ...]]],
        verify: dict[_Group, None],
    ) -> None:
        # Each lookup in a big table is a cache miss, so pairs are formed only after a token
        # that starts a phrase, and triples only after a pair that starts a longer term.
        hits: list[Bucket] = []
        starts: set[str] = set()
        get = table.words.get
        for tok in words:
            entry = get(tok)
            if entry is not None:
                if _marked(entry):
                    starts.add(tok)
                hits.append(entry)
        if starts:
            longer: set[tuple[str, str]] = set()
            get_pair = table.pairs.get
            for pair in {(a, b) for a, b in itertools.pairwise(tokens) if a in starts}:
                entry = get_pair(pair)
                if entry is not None:
                    if _marked(entry):
                        longer.add(pair)
                    hits.append(entry)
            if longer:
                firsts = {a for a, _ in longer}
                get_triple = table.triples.get
                for triple in {
                    (a, b, c)
                    for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)
                    if a in firsts and (a, b) in longer
                }:
                    entry = get_triple(triple)
                    if entry is not None:
                        hits.append(entry)
        if table.stems:
            stems = table.stems
            hits += [stems[s] for s in {tok[:3] for tok in words if len(tok) >= 3} & stems.keys()]
        for entry in hits:
            groups: Iterable[_Group]
            if isinstance(entry, _Group):
                groups = (entry,)
            elif isinstance(entry, list):
                groups = entry
            else:
                groups = entry.values()
            for group in groups:
                prog = group.prog
                if type(prog) is str and prog[0] > "\x02":
                    _deliver(group, (prog,), per_chat)  # one plain word: the commonest query
                    continue
                if group is _STARTS:
                    continue
                labels = _direct(prog)
                if labels is None:
                    verify[group] = None
                else:
                    _deliver(group, labels, per_chat)

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
        refs = _anchors(prog)
        if refs is None:  # parse_query refuses these; a hand-built Query might not
            raise UserInputError("the query has nothing to look for")
        group = _Group(prog)
        for ref in dict.fromkeys(refs) if len(refs) > 1 else refs:
            lookup, key = self._slot(ref)
            _file(lookup, key, group)
            if type(key) is tuple:  # a phrase: mark where it starts, for _scan
                table = self._title if ref[0] == "\x02" else self._any
                _mark(table.words, key[0])
                if len(key) == 3:
                    _mark(table.pairs, key[:2])
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
                    lookup[key] = entry[0]  # possibly just the _STARTS mark
            else:
                del lookup[key]
        self._groups -= 1


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
        lookup[key] = [entry, group]  # a mark stays first


def _marked(entry: Bucket) -> bool:
    """Whether a bucket holds the _STARTS mark."""
    if isinstance(entry, list):
        return entry[0] is _STARTS
    if isinstance(entry, dict):
        return _STARTS.prog in entry
    return entry is _STARTS


def _mark(lookup: dict[Any, Bucket], key: object) -> None:
    """Put the _STARTS mark in a key's bucket (first, in a list), once."""
    entry = lookup.get(key)
    if entry is None:
        lookup[key] = _STARTS
    elif isinstance(entry, list):
        if entry[0] is not _STARTS:
            entry.insert(0, _STARTS)
    elif isinstance(entry, dict):
        entry[_STARTS.prog] = _STARTS
    elif entry is not _STARTS:
        lookup[key] = [_STARTS, entry]


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
    group: _Group, labels: tuple[str, ...], per_chat: dict[int, tuple[str, ...] | list[tuple[str, ...]]]
) -> None:
    chats = group.chats
    for chat in (chats,) if isinstance(chats, int) else chats or ():
        seen = per_chat.get(chat)
        if seen is None:
            per_chat[chat] = labels
        elif isinstance(seen, list):
            seen.append(labels)
        else:
            per_chat[chat] = [seen, labels]


def _terms(hits: tuple[str, ...] | list[tuple[str, ...]]) -> tuple[str, ...]:
    """One chat's labels: each matching query's labels, queries in sorted order, no repeats."""
    if isinstance(hits, tuple):
        return hits
    return tuple(dict.fromkeys(label for labels in sorted(hits) for label in labels))


def build_index(subscriptions: Iterable[tuple[int, int, str]]) -> SubscriptionIndex:
    """An index over (subscription id, chat id, query) rows; stored queries that fail to parse are skipped."""
    index = SubscriptionIndex()
    by_text: dict[str, _Group] = {}  # each distinct text is parsed once
    pages, chat_pages, far = index._groups_pages, index._chats_pages, index._far
    enabled = gc.isenabled()
    # A collection during the load would rescan every object made so far, again and again.
    gc.disable()
    try:
        for sub_id, chat_id, text in subscriptions:
            group = by_text.get(text)
            if group is None:
                try:
                    prog = compile_query(parse_query(text).root)
                except UserInputError:
                    continue
                group = by_text[text] = index._find(prog) or index._new_group(prog)
            # The common case inline: a fresh id in an existing page, a group's first chat.
            page = sub_id >> _PAGE
            groups = pages[page] if 0 <= page < len(pages) else None
            if groups is not None and groups[sub_id & _MASK] is None and (not far or sub_id not in far):
                groups[sub_id & _MASK] = group
                cast("array[int]", chat_pages[page])[sub_id & _MASK] = chat_id
                index._count += 1
                if group.chats is None:
                    group.chats = chat_id
                else:
                    _join(group, chat_id)
            elif sub_id not in index:
                index._attach(sub_id, chat_id, group)
            else:  # a repeated id replaces; its old group may go, so forget the texts
                index.remove(sub_id)
                by_text.clear()
                index.add(sub_id, chat_id, text)
    finally:
        if enabled:
            gc.enable()
        clear_term_cache()
    return index


def match(articles: Iterable[StoredArticle], index: SubscriptionIndex) -> list[Alert]:
    """One alert per (chat, article), listing every term that matched for that chat."""
    alerts: list[Alert] = []
    for article in articles:
        hits = index._hits(Document.of(article.title, article.summary, article.content))
        chats = sorted(hits)
        terms = [h if type(h) is tuple else _terms(h) for h in map(hits.__getitem__, chats)]
        # map() calls Alert without a Python-level loop: half the cost at thousands of alerts.
        alerts += map(Alert, chats, itertools.repeat(article.id), terms)
    return alerts
