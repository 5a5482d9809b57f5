"""The subscription index: every active query, looked up by the tokens of an article. Pure.

A presearcher in the manner of Lucene Monitor. Each distinct query text is one group holding
its subscribers. A group is filed under its anchors: terms of which at least one occurs in
every match (one term for `a b -c`, both for `a OR b`). An article is reduced to its token
set, its set of token pairs and its tokens' 3-character heads; looking these up gives the
anchor terms present, and so the candidate groups. A group whose whole query is its anchor
is a match at once; any other is verified against the article.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain import Alert, StoredArticle, UserInputError
from bot.query import Document, Query, Term, anchors, parse_query

__all__ = ["SubscriptionIndex", "build_index", "match"]

# A group's members are a flat [sub, chat, sub, chat, ...] list while small (most queries have
# one subscriber, and a list is a third of a dict's size), a dict once removal by scan would cost.
_LIST_MAX = 64


class _Anchor:
    """One distinct term that groups are filed under."""

    __slots__ = ("check", "groups", "term")

    def __init__(self, term: Term) -> None:
        self.term = term
        # Whether finding the lookup key proves the term: a word or a two-word phrase does;
        # a longer phrase or a prefix needs the term itself tested.
        self.check = term.prefix or len(term.tokens) > 2
        self.groups: list[_Group] = []


class _Group:
    """The subscriptions that share one query text."""

    __slots__ = ("anchors", "exact", "members", "query")

    def __init__(self, query: Query, anchors: tuple[_Anchor, ...]) -> None:
        self.query = query
        self.anchors = anchors
        root = query.root
        # A query that is one positive term matches exactly when its anchor is found.
        self.exact: tuple[str, ...] | None = (root.label,) if isinstance(root, Term) else None
        self.members: list[int] | dict[int, int] = []


class _Table:
    """Anchors by lookup key, for one scope: the whole article, or its title only."""

    __slots__ = ("pairs", "stems", "words")

    def __init__(self) -> None:
        self.words: dict[str, list[_Anchor]] = {}  # one exact token; first token of "a b*"
        self.pairs: dict[tuple[str, str], list[_Anchor]] = {}  # first two tokens of a phrase
        self.stems: dict[str, list[_Anchor]] = {}  # first 3 characters of a one-word prefix

    def slot(self, term: Term) -> tuple[dict[str, list[_Anchor]] | dict[tuple[str, str], list[_Anchor]], object]:
        toks = term.tokens
        if len(toks) == 1:
            return (self.stems, toks[0][:3]) if term.prefix else (self.words, toks[0])
        if len(toks) == 2 and term.prefix:
            return self.words, toks[0]
        return self.pairs, (toks[0], toks[1])

    def found(self, doc: Document, title: bool, out: dict[_Anchor, None]) -> None:
        """Add the anchors that occur in the document (in its title for the title table)."""
        words = doc.title_words if title else doc.words
        joined = doc.title_joined if title else doc.joined
        table = self.words
        if table:
            for tok in words & table.keys() if len(table) > len(words) else table.keys() & words:
                for a in table[tok]:
                    if not a.check or a.term.needle in joined:
                        out[a] = None
        if self.pairs:
            pairs = doc.title_pairs() if title else doc.pairs()
            ptable = self.pairs
            for pair in pairs & ptable.keys() if len(ptable) > len(pairs) else ptable.keys() & pairs:
                for a in ptable[pair]:
                    if not a.check or a.term.needle in joined:
                        out[a] = None
        if self.stems:
            stems = self.stems
            for tok in words:
                if len(tok) >= 3 and (bucket := stems.get(tok[:3])) is not None:
                    for a in bucket:
                        if a not in out and tok.startswith(a.term.tokens[0]):
                            out[a] = None


class SubscriptionIndex:
    """All active subscriptions, updated in place; `match` finds the ones an article answers."""

    def __init__(self) -> None:
        self._subs: dict[int, _Group] = {}
        self._groups: dict[str, _Group] = {}
        self._anchors: dict[tuple[bool, tuple[str, ...], bool], _Anchor] = {}
        self._any = _Table()
        self._title = _Table()
        self._chats: dict[int, int] = {}  # one int object per chat id, shared by its members

    def __len__(self) -> int:
        return len(self._subs)

    def __contains__(self, sub_id: object) -> bool:
        return sub_id in self._subs

    def add(self, sub_id: int, chat_id: int, query: str | Query) -> None:
        """Add a subscription, replacing one with the same id; raises QueryError for a bad query."""
        text = query.text if isinstance(query, Query) else query.strip()
        group = self._groups.get(text)
        if group is None:
            group = self._new_group(query if isinstance(query, Query) else parse_query(text))
        old = self._subs.get(sub_id)
        if old is not None:
            if old is group and self._chat_of(old, sub_id) == chat_id:
                return
            self.remove(sub_id)
        chat_id = self._chats.setdefault(chat_id, chat_id)
        members = group.members
        if type(members) is list:
            if len(members) < 2 * _LIST_MAX:
                members += (sub_id, chat_id)
            else:
                group.members = dict(zip(members[::2], members[1::2], strict=True))
                group.members[sub_id] = chat_id
        else:
            members[sub_id] = chat_id
        self._subs[sub_id] = group

    def remove(self, sub_id: int) -> None:
        """Remove a subscription; nothing happens when it is not there."""
        group = self._subs.pop(sub_id, None)
        if group is None:
            return
        members = group.members
        if type(members) is list:
            i = _pair_index(members, sub_id)
            del members[i : i + 2]
        else:
            del members[sub_id]
        if not members:
            self._drop_group(group)

    def remove_chat(self, chat_id: int) -> None:
        """Remove every subscription of a chat."""
        for sub_id in [s for s, g in self._subs.items() if self._chat_of(g, s) == chat_id]:
            self.remove(sub_id)

    def groups(self) -> int:
        """How many distinct query texts are indexed."""
        return len(self._groups)

    def _chat_of(self, group: _Group, sub_id: int) -> int:
        members = group.members
        if type(members) is list:
            return members[_pair_index(members, sub_id) + 1]
        return members[sub_id]

    def _new_group(self, query: Query) -> _Group:
        terms = anchors(query.root)
        if terms is None:  # parse_query refuses these; a hand-built Query might not
            raise UserInputError("the query has nothing to look for")
        found: dict[_Anchor, None] = {}
        for term in terms:
            anchor = self._anchors.get(term.key)
            if anchor is None:
                anchor = self._anchors[term.key] = _Anchor(term)
                table = self._title if term.title else self._any
                lookup, key = table.slot(term)
                lookup.setdefault(key, []).append(anchor)  # type: ignore[arg-type]
            found[anchor] = None
        group = _Group(query, tuple(found))
        for anchor in group.anchors:
            anchor.groups.append(group)
        self._groups[query.text] = group
        return group

    def _drop_group(self, group: _Group) -> None:
        del self._groups[group.query.text]
        for anchor in group.anchors:
            anchor.groups.remove(group)
            if anchor.groups:
                continue
            term = anchor.term
            del self._anchors[term.key]
            table = self._title if term.title else self._any
            lookup, key = table.slot(term)
            bucket = lookup[key]  # type: ignore[index]
            bucket.remove(anchor)
            if not bucket:
                del lookup[key]  # type: ignore[attr-defined]

    def search(self, doc: Document) -> dict[int, list[tuple[int, tuple[str, ...]]]]:
        """For each chat with a match: its matching subscriptions as (sub id, matched labels)."""
        present: dict[_Anchor, None] = {}
        self._any.found(doc, False, present)
        self._title.found(doc, True, present)
        verify: dict[_Group, None] = {}
        per_chat: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
        for anchor in present:
            for group in anchor.groups:
                labels = group.exact
                if labels is None:
                    verify[group] = None
                    continue
                _deliver(group, labels, per_chat)
        for group in verify:
            labels = group.query.matched_terms(doc)
            if labels:
                _deliver(group, labels, per_chat)
        return per_chat


def _pair_index(members: list[int], sub_id: int) -> int:
    """Index of sub_id at an even position of a flat [sub, chat, ...] list."""
    i = members.index(sub_id)
    while i % 2:  # the same number as a chat id; keep looking among subscription ids
        i = members.index(sub_id, i + 1)
    return i


def _deliver(
    group: _Group, labels: tuple[str, ...], per_chat: dict[int, list[tuple[int, tuple[str, ...]]]]
) -> None:
    members = group.members
    pairs = zip(members[::2], members[1::2], strict=True) if type(members) is list else members.items()
    for sub_id, chat_id in pairs:
        hits = per_chat.get(chat_id)
        if hits is None:
            per_chat[chat_id] = [(sub_id, labels)]
        else:
            hits.append((sub_id, labels))


def build_index(subscriptions: Iterable[tuple[int, int, str]]) -> SubscriptionIndex:
    """An index over (subscription id, chat id, query) rows; stored queries that fail to parse are skipped."""
    index = SubscriptionIndex()
    add = index.add
    for sub_id, chat_id, query in subscriptions:
        try:
            add(sub_id, chat_id, query)
        except UserInputError:
            continue
    return index


def _terms(hits: list[tuple[int, tuple[str, ...]]]) -> tuple[str, ...]:
    if len(hits) == 1:
        return hits[0][1]
    hits.sort()
    return tuple(dict.fromkeys(label for _, labels in hits for label in labels))


def match(articles: Iterable[StoredArticle], index: SubscriptionIndex) -> list[Alert]:
    """One alert per (chat, article), listing every term that matched for that chat."""
    alerts: list[Alert] = []
    for article in articles:
        per_chat = index.search(Document.of(article.title, article.summary, article.content))
        for chat_id in sorted(per_chat):
            alerts.append(Alert(chat_id, article.id, _terms(per_chat[chat_id])))
    return alerts
