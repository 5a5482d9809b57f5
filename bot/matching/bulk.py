"""Loading the index from the database's rows at start-up. Pure."""

from __future__ import annotations

import bisect
import collections
import gc
import itertools
import operator
from array import array
from collections.abc import Iterable
from typing import Any, cast

from bot.domain import UserInputError
from bot.matching import membership
from bot.matching.compiler import Prog, compile_query
from bot.matching.index import _DENSE_MIN, _MASK, _PAGE, SubscriptionIndex, _Group
from bot.matching.parser import clear_term_cache
from bot.matching.shapes import clear_shape_cache, parse_stored

_TERMS_WHILE_LOADING = 1 << 20  # a million subscriptions name about 250k distinct terms


def build_index(subscriptions: Iterable[tuple[int, int, str]]) -> SubscriptionIndex:
    """An index over (subscription id, chat id, query) rows; stored queries that fail to parse are skipped."""
    rows = subscriptions if isinstance(subscriptions, list) else list(subscriptions)
    index = SubscriptionIndex()
    enabled = gc.isenabled()
    # A collection during the load would rescan every object made so far, again and again.
    gc.disable()
    clear_term_cache(_TERMS_WHILE_LOADING)
    try:
        if not _load_sorted(index, rows):
            index = SubscriptionIndex()  # it may hold some groups already
            _load_rows(index, rows)
    finally:
        if enabled:
            gc.enable()
        clear_term_cache()
        clear_shape_cache()
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
    gathered: dict[_Group, tuple[list[int], list[int]]] = {}  # each group's ids and chats
    for text in by_text:
        try:
            root = parse_stored(text).root
        except UserInputError:
            return False
        prog = compile_query(root)
        group = get_group(prog)
        if group is None:
            group = by_prog[prog] = new_group(root, prog)
            gathered[group] = ([], [])
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
    # Each group's members: gathered in one pass each (ids ascending, as the rows), then kept
    # as membership.joined would have kept them.
    lists = list(map(gathered.__getitem__, groups))
    collections.deque(map(list.append, map(operator.itemgetter(0), lists), ids), 0)
    collections.deque(map(list.append, map(operator.itemgetter(1), lists), chat_ids), 0)
    for group, (subs, chats) in gathered.items():
        group.members = subs[0] if len(subs) == 1 else membership.several(subs, chats)
    return True


def _load_rows(index: SubscriptionIndex, rows: list[tuple[int, int, str]]) -> None:
    """Load rows one by one: any order of ids, repeated ids, queries that no longer parse."""
    by_text: dict[str, _Group] = {}  # each distinct text is compiled once
    for sub_id, chat_id, text in rows:
        group = by_text.get(text)
        if group is None:
            try:
                root = parse_stored(text).root
            except UserInputError:
                continue
            prog = compile_query(root)
            group = by_text[text] = index._find(root, prog) or index._new_group(root, prog)
        if sub_id in index:  # a repeated id replaces; its old group may go, so forget the texts
            index.remove(sub_id)
            by_text.clear()
            index.add(sub_id, chat_id, text)
        else:
            index._attach(sub_id, chat_id, group)
