"""Running a compiled program against a document, as its query tree would. Pure.

`matched_labels(compile_query(q.root), doc) == q.matched_terms(doc)` for every query and
document: tests/test_matcher_props.py holds the two equal. `proves` and `proven_labels` name
the index's one shortcut, a query its lookup key alone decides.
"""

from __future__ import annotations

import functools
from typing import cast

from bot.matching.compiler import (
    AND,
    NOT,
    OR,
    SEPARATOR,
    Prog,
    canonical_label,
    is_leaf,
    is_word,
    reference,
    unpack,
)
from bot.matching.document import Document


@functools.lru_cache(maxsize=1 << 16)
def label_of(ref: str) -> str:
    """The label of a plain leaf as the user reads it; cached, for matching repeats them."""
    return canonical_label(ref)


def _has(ref: str, doc: Document) -> bool:
    """The term occurs: Term.test on a reference."""
    if is_word(ref):
        return ref in doc.words
    # A search in the text, remembered: at thousands of matches an article tests the same
    # phrases and CJK terms for many queries.
    seen = doc.seen
    found = seen.get(ref)
    if found is None:
        found = seen[ref] = ref in doc.joined if ref[0] == SEPARATOR else ref[1:] in doc.title_joined
    return found


def _test(prog: Prog, doc: Document) -> bool:
    """The program matches: Query.matches."""
    if is_leaf(prog):
        return _has(reference(prog), doc)
    head = prog[0]
    if head == AND:
        return all(_test(c, doc) for c in prog[1:])
    if head == OR:
        return any(_test(c, doc) for c in prog[1:])
    return not _test(prog[1], doc)


def _gather(prog: Prog, doc: Document, out: list[str]) -> bool:
    """Whether the program matches; labels of the positive terms that made it match go to out
    (as the tree's `collect`)."""
    if type(prog) is str:
        if _has(prog, doc):
            out.append(prog if is_word(prog) else label_of(prog))
            return True
        return False
    head = prog[0]
    if head in (AND, OR):
        every = head == AND
        mark = len(out)
        hit = False
        words = doc.words
        for child in prog[1:]:
            # A word, the commonest child, is tested in place rather than by a call: at a
            # million subscriptions an article verifies about a hundred queries.
            if type(child) is str and is_word(child):
                found = child in words
                if found:
                    out.append(child)
            else:
                found = _gather(child, doc, out)
            if found:
                hit = True  # in an OR, every true branch contributes its terms
            elif every:
                del out[mark:]
                return False
        return hit
    if head == NOT:
        child = prog[1]
        if type(child) is str and is_word(child):
            return child not in doc.words
        return not _test(child, doc)
    if _has(cast(str, head), doc):  # (reference, label)
        out.append(cast(str, prog[1]))
        return True
    return False


def matched_labels(prog: Prog, doc: Document) -> tuple[str, ...]:
    """Labels of the positive terms that made the document match; empty when it does not."""
    out: list[str] = []
    return tuple(dict.fromkeys(out)) if _gather(prog, doc, out) else ()


def proves(prog: Prog) -> bool:
    """Whether a query's lookup key alone decides it: one term of one to three exact tokens.

    The index files such a term under its token, pair or triple, and finds it from the
    article's own tokens, pairs and triples (in the title for a title: term), so being found
    is occurring. It is the fast path of the index: most queries are one word or one short
    phrase, and at a million subscriptions an article finds hundreds of them, each of which
    would otherwise be tested again (bench/ab_match.py shows what it saves).
    tests/test_matcher_props.py holds it equal to the tree.
    """
    if not is_leaf(prog):
        return False
    tokens, prefix, _ = unpack(reference(prog))
    return not prefix and len(tokens) <= 3


def proven_labels(prog: Prog) -> tuple[str]:
    """The labels of a query that `proves` says its key decides, once found: its one label."""
    if type(prog) is str:
        return (prog if is_word(prog) else label_of(prog),)
    return (cast(str, prog[1]),)


def counts(prog: Prog) -> bool:
    """Whether a query is an OR of terms that `proves` says their keys decide: then how many of
    its keys an article has found says how many of its terms occur, and the count decides it."""
    return not is_leaf(prog) and prog[0] == OR and all(map(proves, prog[1:]))


def counted_labels(prog: Prog, found: int, doc: Document) -> tuple[str, ...]:
    """The labels of an OR that `counts`, whose keys the article has found `found` times: all
    of them when every term was found, else those of the terms that occur, tested in order
    only until `found` have.

    The index's fast path for `a OR b`, the commonest query after one term and half of the
    candidates that are not proven at a million subscriptions: it saves testing the terms at
    all when every key was found, and the rest of the OR once the found terms are
    (bench/ab_match.py, p50 at 1M). tests/test_matcher_props.py holds it equal to
    matched_labels.
    """
    children = prog[1:]
    if found == len(children):
        return tuple(dict.fromkeys([proven_labels(child)[0] for child in children]))  # title:x OR x
    labels: list[str] = []
    words = doc.words
    for child in children:
        if type(child) is str:
            if child in words:  # a word, tested in place
                labels.append(child)
            elif not is_word(child) and _has(child, doc):
                labels.append(label_of(child))
            else:
                continue
        elif _has(cast(str, child[0]), doc):  # (reference, label)
            labels.append(cast(str, child[1]))
        else:
            continue
        found -= 1
        if not found:
            break
    return tuple(dict.fromkeys(labels))
