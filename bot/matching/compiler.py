"""Query trees compiled to the index's compact programs: the one place programs are made. Pure.

A program (Prog) is a query tree in strings and tuples, because memory is what limits a
million subscriptions: a plain one-word query is just the word, the same string object as its
key in the index. tests/test_matcher_props.py holds a program's verdict (bot.matching.program)
equal to its tree's `matched_terms` on random English and Chinese queries and texts.

- A leaf is a term's reference, or (reference, label) when the user's spelling differs from
  the canonical one.
- An operator is (AND, p, ...), (OR, p, ...) or (NOT, p).
- A reference is a word (one exact token, anywhere), a needle (the term's tokens as they sit
  in the document's joined token text: Term.needle), or a title needle (a needle after
  TITLE, searched in the title only). The named checks below tell them apart.
"""

from __future__ import annotations

from typing import TypeAlias, cast

from bot.matching.normalization import display
from bot.matching.query import AllOf, AnyOf, Node, Not, Term

Prog: TypeAlias = "str | tuple[Prog, ...]"


AND, OR, NOT = "&", "|", "-"


OPERATORS = (AND, OR, NOT)


SEPARATOR = "\x01"  # between tokens in the joined text, as in Term.needle


TITLE = "\x02"  # before a title needle; sorts below every token's first character


def is_word(ref: str) -> bool:
    """The reference is one exact token (a set lookup), not a needle."""
    return ref[0] > TITLE


def is_title(ref: str) -> bool:
    """The reference is searched in the title only."""
    return ref[0] == TITLE


def is_leaf(prog: Prog) -> bool:
    """The program is one term, not an operator."""
    return type(prog) is str or prog[0] not in OPERATORS


def reference(leaf: Prog) -> str:
    """The reference of a leaf."""
    return leaf if type(leaf) is str else cast(str, leaf[0])


def ref_of(term: Term) -> str:
    """A term's reference."""
    if term.title:
        return TITLE + term.needle
    return term.tokens[0] if term.single else term.needle


def unpack(ref: str) -> tuple[tuple[str, ...], bool, bool]:
    """(tokens, prefix, title) of a reference."""
    if is_word(ref):
        return (ref,), False, False
    title = is_title(ref)
    needle = ref[1:] if title else ref
    return tuple(needle.strip(SEPARATOR).split(SEPARATOR)), not needle.endswith(SEPARATOR), title


def canonical_label(ref: str) -> str:
    """The label of a term written the canonical way: its tokens, spaced as displayed."""
    if is_word(ref):
        return ref
    tokens, prefix, _ = unpack(ref)
    return (tokens[0] if len(tokens) == 1 else display(tokens)) + ("*" if prefix else "")


def compile_query(node: Node) -> Prog:
    """A query tree as a compact program."""
    if isinstance(node, Term):
        ref = ref_of(node)
        return ref if node.plain else (ref, node.label)
    if isinstance(node, Not):
        return (NOT, compile_query(node.child))
    return (AND if isinstance(node, AllOf) else OR, *(compile_query(c) for c in node.children))


def tree_of(prog: Prog) -> Node:
    """The query tree a program was compiled from: compile_query(tree_of(p)) == p."""
    if is_leaf(prog):
        ref = reference(prog)
        tokens, prefix, title = unpack(ref)
        label = prog[1] if type(prog) is tuple else canonical_label(ref)
        return Term(cast(str, label), tokens, prefix=prefix, title=title)
    head, *children = cast(tuple[str, ...], prog)
    if head == NOT:
        return Not(tree_of(children[0]))
    nodes = tuple(map(tree_of, children))
    return AllOf(nodes) if head == AND else AnyOf(nodes)
