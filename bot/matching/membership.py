"""A group's members: which subscriptions share one query, and handing them an alert. Pure.

Memory decides the form. Most groups (four in five at a million subscriptions) have one
member, kept as its subscription id alone: its chat is in the index's pages. A group of
several keeps one flat array of 64-bit integers, its n subscription ids in ascending order
and then their n chats in the same order, which costs 16 bytes a member with no objects,
finds a member by bisection and gives a popular query's thousands of chats in one slice.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import TypeAlias

Members: TypeAlias = "int | array[int]"  # one subscription id; or ids then their chats


def several(subs: Iterable[int], chats: Iterable[int]) -> array[int]:
    """The members of a group of several: ascending subscription ids, and their chats."""
    return array("q", [*subs, *chats])


def count(members: Members) -> int:
    """How many subscriptions the group has."""
    return 1 if type(members) is int else len(members) >> 1  # type: ignore[arg-type]


def pairs(members: Members, chat_of: Callable[[int], int]) -> list[tuple[int, int]]:
    """(subscription, chat) of every member."""
    if isinstance(members, int):
        return [(members, chat_of(members))]
    n = len(members) >> 1
    return list(zip(members[:n], members[n:], strict=True))


def joined(members: Members | None, sub_id: int, chat_id: int, chat_of: Callable[[int], int]) -> Members:
    """The members with one more subscription (which is not among them)."""
    if members is None:
        return sub_id
    if isinstance(members, int):
        first = (members, chat_of(members))
        return several(*zip(*sorted((first, (sub_id, chat_id))), strict=True))
    n = len(members) >> 1
    at = bisect.bisect_left(members, sub_id, 0, n)
    members.insert(n + at, chat_id)  # the chat first: the ids before it stay where they are
    members.insert(at, sub_id)
    return members


def left(members: Members, sub_id: int) -> Members | None:
    """The members without one of them; None when none is left."""
    if isinstance(members, int):
        return None
    n = len(members) >> 1
    at = bisect.bisect_left(members, sub_id, 0, n)
    del members[n + at]
    del members[at]
    return members[0] if n == 2 else members


def repeats(members: Members) -> list[tuple[int, int]]:
    """(subscription, chat) of the members whose chat has a later member too (rare: the
    database keeps one subscription per chat and query)."""
    if isinstance(members, int):
        return []
    n = len(members) >> 1
    last = dict(zip(members[n:], members[:n], strict=True))
    return [(s, c) for s, c in zip(members[:n], members[n:], strict=True) if last[c] != s]


Labels: TypeAlias = tuple[str, ...]


class Hits:
    """Per chat: the labels of the first query it matched, the subscriptions, and the rest."""

    __slots__ = ("labels", "more", "subs")

    def __init__(self) -> None:
        self.labels: dict[int, Labels] = {}
        self.subs: dict[int, tuple[int, ...]] = {}  # the same keys, in the same order
        self.more: list[tuple[int, Labels, tuple[int, ...]]] = []  # a chat's further queries

    def give(self, members: Members, labels: Labels, chat_of: Callable[[int], int]) -> bool:
        """Give each member's chat the labels of the query the group matched; False when a chat
        has the query twice, and then `repeats(members)` must be given to `more` too."""
        given, subs = self.labels, self.subs
        if isinstance(members, int):
            chat = chat_of(members)
            if chat in given:
                self.more.append((chat, labels, (members,)))
            else:
                given[chat] = labels
                subs[chat] = (members,)
            return True
        # A popular query has thousands of chats: C-level passes, not a loop. A chat that has
        # labels already has them moved to `more` before these overwrite them.
        n = len(members) >> 1
        chats = members[n:].tolist()  # made ints once, for three passes
        before = len(given)
        clash = given.keys() & chats if given else ()
        if clash:
            self.more += zip(clash, map(given.__getitem__, clash), map(subs.__getitem__, clash), strict=False)
        given.update(zip(chats, repeat(labels)))
        subs.update(zip(chats, zip(members[:n]), strict=False))
        return len(given) == before + n - len(clash)

    def also(self, repeats: list[tuple[int, int]], labels: Labels) -> None:
        """The members that `give` overwrote: a chat's other subscriptions to the same query."""
        self.more += ((chat, labels, (sub,)) for sub, chat in repeats)

    def merged(self) -> tuple[dict[int, Labels], dict[int, tuple[int, ...]]]:
        """Labels and subscriptions per chat: each matching query's labels, queries in sorted
        order, no repeats; subscription ids ascending."""
        if self.more:
            hits: dict[int, list[Labels]] = {}
            ids: dict[int, set[int]] = {}
            for chat, labels, subs in self.more:
                if chat not in hits:
                    hits[chat] = [self.labels[chat]]
                    ids[chat] = set(self.subs[chat])
                hits[chat].append(labels)
                ids[chat].update(subs)
            for chat, found in hits.items():
                self.labels[chat] = tuple(dict.fromkeys(x for labels in sorted(found) for x in labels))
                self.subs[chat] = tuple(sorted(ids[chat]))
        return self.labels, self.subs
