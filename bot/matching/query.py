"""The query tree: terms under AND, OR and NOT, which decides whether a document matches. Pure."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from bot.domain import UserInputError
from bot.matching.document import Document
from bot.matching.normalization import display, is_unspaced


class QueryError(UserInputError):
    """A query the parser refuses: `code` names the problem, `position` is 1-based."""

    def __init__(self, code: str, position: int, message: str, **params: Any) -> None:
        super().__init__(f"{message} at position {position}")
        self.code = code
        self.position = position
        self.params = params


class Term:
    """A run of consecutive tokens; the last may be a prefix; optionally in the title only."""

    __slots__ = ("label", "needle", "plain", "prefix", "single", "title", "tokens")

    def __init__(self, label: str, tokens: tuple[str, ...], *, prefix: bool = False, title: bool = False):
        self.label = label  # as the user wrote it, for "matched: ..."
        self.tokens = tokens
        self.prefix = prefix
        self.title = title
        # One exact token is a set lookup; anything else a search in the joined token text.
        self.single = len(tokens) == 1 and not prefix
        self.needle = "\x01" + "\x01".join(tokens) + ("" if prefix else "\x01")
        # Whether the label says no more than the tokens (then the index need not keep it).
        canonical = tokens[0] if len(tokens) == 1 else display(tokens)
        self.plain = label == (canonical + "*" if prefix else canonical)

    @property
    def key(self) -> tuple[bool, tuple[str, ...], bool]:
        """What the term means, without its label."""
        return (self.title, self.tokens, self.prefix)

    @property
    def canon(self) -> str:
        """Canonical text; parsing it gives the same term."""
        body = display(self.tokens) + ("*" if self.prefix else "")
        if " " in body:
            body = f'"{body}"'
        return ("title:" if self.title else "") + body

    def test(self, doc: Document) -> bool:
        """The term occurs in the document (in its title for title: terms)."""
        if self.single:
            return self.tokens[0] in (doc.title_words if self.title else doc.words)
        return self.needle in (doc.title_joined if self.title else doc.joined)

    def starts(self, tokens: Sequence[str]) -> list[int]:
        """Where in a list of tokens the term begins, by the rule of `test`: the needle found
        in the tokens' joined text."""
        joined = "\x01" + "\x01".join(tokens) + "\x01"
        begins = list(itertools.accumulate((len(t) + 1 for t in tokens), initial=1))
        out: list[int] = []
        at = joined.find(self.needle)
        while at >= 0:
            out.append(bisect.bisect_left(begins, at + 1))
            at = joined.find(self.needle, at + 1)
        return out

    def collect(self, doc: Document, out: list[Term]) -> bool:
        if self.test(doc):
            out.append(self)
            return True
        return False

    def __repr__(self) -> str:
        return f"Term({self.canon!r})"


class AllOf:
    """Every child matches."""

    __slots__ = ("children",)

    def __init__(self, children: tuple[Node, ...]) -> None:
        self.children = children

    def test(self, doc: Document) -> bool:
        return all(c.test(doc) for c in self.children)

    def collect(self, doc: Document, out: list[Term]) -> bool:
        mark = len(out)
        for c in self.children:
            if not c.collect(doc, out):
                del out[mark:]
                return False
        return True


class AnyOf:
    """At least one child matches."""

    __slots__ = ("children",)

    def __init__(self, children: tuple[Node, ...]) -> None:
        self.children = children

    def test(self, doc: Document) -> bool:
        return any(c.test(doc) for c in self.children)

    def collect(self, doc: Document, out: list[Term]) -> bool:
        hit = False
        for c in self.children:
            hit = c.collect(doc, out) or hit  # every true branch contributes its terms
        return hit


class Not:
    """The child does not match."""

    __slots__ = ("child",)

    def __init__(self, child: Node) -> None:
        self.child = child

    def test(self, doc: Document) -> bool:
        return not self.child.test(doc)

    def collect(self, doc: Document, out: list[Term]) -> bool:
        return not self.child.test(doc)


Node = Term | AllOf | AnyOf | Not


def canon(node: Node) -> str:
    """Canonical text of a node: AND and OR children sorted, so order does not matter."""
    if isinstance(node, Term):
        return node.canon
    if isinstance(node, Not):
        inner = canon(node.child)
        return "-" + (f"({inner})" if isinstance(node.child, AllOf | AnyOf) else inner)
    if isinstance(node, AllOf):
        parts = sorted({f"({canon(c)})" if isinstance(c, AnyOf) else canon(c) for c in node.children})
        return " ".join(parts)
    return " OR ".join(sorted({canon(c) for c in node.children}))


def leaves(node: Node, *, positive: bool = True) -> Iterator[tuple[Term, bool]]:
    """Every term with whether it is positive (not under an odd number of NOTs)."""
    if isinstance(node, Term):
        yield node, positive
    elif isinstance(node, Not):
        yield from leaves(node.child, positive=not positive)
    else:
        for c in node.children:
            yield from leaves(c, positive=positive)


def anchors(node: Node) -> list[Term] | None:
    """Terms of which at least one must occur in any match; None when no such set exists.

    The presearcher idea: a conjunction needs only its most selective child's anchors, a
    disjunction needs all of its children's, a negation gives none.
    """
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return None
    if isinstance(node, AnyOf):
        found: list[Term] = []
        for c in node.children:
            sub = anchors(c)
            if sub is None:
                return None
            found += sub
        return found
    options = [a for a in map(anchors, node.children) if a is not None]
    return max(options, key=_selectivity) if options else None


def weight(term: Term) -> float:
    """Guessed rarity of a term in news text: longer runs and title-only terms are rarer."""
    w = float(sum(len(t) for t in term.tokens) + 4 * (len(term.tokens) - 1))
    if term.prefix:
        w -= 3
    if term.title:
        w += 6
    return w


def _selectivity(terms: list[Term]) -> tuple[float, int]:
    return (min(weight(t) for t in terms), -len(terms))


class Query:
    """A parsed query: a tree of terms under AND, OR and NOT."""

    __slots__ = ("root", "text")

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        self.root = root

    @property
    def norm(self) -> str:
        """Canonical text: equal for queries that mean the same (case, accents, spacing, AND order)."""
        return canon(self.root)

    @property
    def terms(self) -> tuple[str, ...]:
        """Labels of the positive terms, in the order written."""
        return tuple(dict.fromkeys(t.label for t, pos in leaves(self.root) if pos))

    def matches(self, doc: Document) -> bool:
        """The document matches the query."""
        return self.root.test(doc)

    def matched_terms(self, doc: Document) -> tuple[str, ...]:
        """Labels of the positive terms that made the document match; empty when it does not."""
        out: list[Term] = []
        if not self.root.collect(doc, out):
            return ()
        return tuple(dict.fromkeys(t.label for t in out))

    def required_needle(self, min_len: int = 3) -> str | None:
        """A normalized piece of text (≥ `min_len` characters) in every match, to narrow a search."""
        required: list[Term] = []
        root = self.root
        for node in root.children if isinstance(root, AllOf) else (root,):
            if isinstance(node, Term):
                required.append(node)
        pieces: list[str] = []
        for term in required:
            run = ""
            for tok in term.tokens:
                if len(tok) == 1 and is_unspaced(tok):
                    run += tok
                    continue
                pieces += [run, tok]
                run = ""
            pieces.append(run)
        best = max(pieces, key=len, default="")
        return best if len(best) >= min_len else None

    def __repr__(self) -> str:
        return f"Query({self.norm!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and self.norm == other.norm

    def __hash__(self) -> int:
        return hash(self.norm)
