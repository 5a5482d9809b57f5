"""The query parser: the user's text to one query tree, or a QueryError naming the problem. Pure."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from bot.matching.normalization import is_unspaced, normalize, tokenize
from bot.matching.query import AllOf, AnyOf, Node, Not, Query, QueryError, Term, anchors, canon

MAX_QUERY_CHARS = 200


MAX_TERMS = 10


MAX_DEPTH = 3


MAX_NORM_CHARS = 500


MIN_PREFIX = 3


FIELDS = {"title": "title", "标题": "title"}


# Operator look-alikes that phone keyboards and CJK input methods produce. One character to
# one, so positions in errors stay those of the user's text.
_LOOKALIKES = str.maketrans(
    {
        "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "「": '"', "」": '"',
        "『": '"', "』": '"', "＂": '"', "（": "(", "）": ")", "｜": "|", "－": "-", "−": "-",
        "：": ":",
    }
)  # fmt: skip


_LEXEME = re.compile(r'\s*(?:([()|"])|([^\s()|"]+))')


_FIELD = re.compile(r"([^\W\d_]{2,12}):(.*)", re.DOTALL)


_SIMPLE_WORD = re.compile(r"[A-Za-z]+")


_KEYWORDS = frozenset({"OR", "AND", "NOT"})


# One word with no operator, field or prefix in it, or one plain phrase.
_OPERATORS = '\\s()|"*:“”„‟«»「」『』＂（）｜：'


_ONE_WORD = re.compile(f"([^{_OPERATORS}\\-－−][^{_OPERATORS}]*)")


_ONE_PHRASE = re.compile(r'"([^"*]*)"')


class _Lex:
    __slots__ = ("kind", "pos", "text")

    def __init__(self, kind: str, text: str, pos: int) -> None:
        self.kind = kind  # "(", ")", "or", "and", "neg", "field", "word", "phrase"
        self.text = text
        self.pos = pos  # 1-based


def _lex(text: str) -> list[_Lex]:
    src = text.translate(_LOOKALIKES)
    out: list[_Lex] = []
    i, n = 0, len(src)
    while i < n:
        m = _LEXEME.match(src, i)
        if m is None:  # only trailing whitespace is left
            break
        if m.group(1):
            ch, start = m.group(1), m.start(1)
            if ch == '"':
                end = src.find('"', start + 1)
                if end < 0:
                    raise QueryError("unclosed_quote", start + 1, "unclosed quote")
                out.append(_Lex("phrase", text[start + 1 : end], start + 1))
                i = end + 1
                continue
            out.append(_Lex("or" if ch == "|" else ch, ch, start + 1))
            i = m.end()
            continue
        word, start = m.group(2), m.start(2)
        i = m.end()
        while word.startswith("-"):
            out.append(_Lex("neg", "-", start + 1))
            word, start = word[1:], start + 1
        if not word:
            continue
        if word in _KEYWORDS:
            out.append(_Lex("neg" if word == "NOT" else word.lower(), word, start + 1))
            continue
        f = _FIELD.fullmatch(word)
        if f is not None:
            name, rest = f.group(1).lower(), f.group(2)
            nxt = src[i : i + 1]
            if name in FIELDS and (rest or nxt in ('"', "(")):
                out.append(_Lex("field", FIELDS[name], start + 1))
                if rest:
                    out.append(
                        _Lex("word", text[start + len(f.group(1)) + 1 : i], start + len(f.group(1)) + 2)
                    )
                continue
            if name in FIELDS:
                raise QueryError(
                    "dangling_operator", start + 1, f"{word} needs a term right after it", operator=word
                )
            if rest and f.group(1).isascii():
                raise QueryError("unknown_field", start + 1, f'unknown field "{f.group(1)}:"', field=name)
        out.append(_Lex("word", text[start:i], start + 1))
    return out


_TERM_CACHE: dict[str, Term | None] = {}


TERM_CACHE_SIZE = 50_000  # about 20 MB at most; a bulk load clears it when done


_term_cache_size = [TERM_CACHE_SIZE]


def clear_term_cache(size: int = TERM_CACHE_SIZE) -> None:
    """Forget cached terms, and keep at most `size` from now on: a bulk load, which makes a
    million terms of which half repeat, keeps more while it runs and clears them when done."""
    _TERM_CACHE.clear()
    _term_cache_size[0] = size


def make_term(raw: str, *, title: bool = False, pos: int = 1) -> Term | None:
    """A term from one word or phrase as typed (`word*` is a prefix); None when it has no tokens."""
    term = _TERM_CACHE.get(raw)
    if term is None and raw not in _TERM_CACHE:
        label = " ".join(raw.split())
        body = label.rstrip("*").rstrip()
        prefix = body != label
        if body.isascii() and _SIMPLE_WORD.fullmatch(body):
            tokens: tuple[str, ...] = (sys.intern(body.lower()),)
        else:
            tokens = tuple(sys.intern(t) for t in tokenize(normalize(body)))
        if prefix and tokens and is_unspaced(tokens[-1]):
            prefix = False  # CJK terms already match as substrings
        term = Term(sys.intern(label), tokens, prefix=prefix) if tokens else None
        if len(_TERM_CACHE) >= _term_cache_size[0]:
            _TERM_CACHE.clear()  # bounded: user input must not grow memory without end
        _TERM_CACHE[raw] = term
    if term is None:
        return None
    if term.prefix and len(term.tokens[-1]) < MIN_PREFIX:
        raise QueryError(
            "prefix_too_short", pos, f"a prefix needs at least {MIN_PREFIX} characters", minimum=MIN_PREFIX
        )
    # Terms are immutable, so one object serves every query that spells the term this way.
    return term if not title else Term(term.label, term.tokens, prefix=term.prefix, title=True)


class _Parser:
    __slots__ = ("i", "lex", "terms", "top")

    def __init__(self, lex: list[_Lex]) -> None:
        self.lex = lex
        self.i = 0
        self.terms = 0
        self.top: list[tuple[Node, int]] = []  # top-level alternatives and where they start

    def peek(self) -> _Lex | None:
        return self.lex[self.i] if self.i < len(self.lex) else None

    def _ends_operand(self) -> bool:
        nxt = self.peek()
        return nxt is None or nxt.kind in (")", "or", "and")

    def parse_or(self, depth: int) -> Node | None:
        alts = [self._alternative(depth)]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.i += 1
            if self._ends_operand():
                raise QueryError("dangling_operator", tok.pos, "OR needs a term on each side", operator="OR")
            alts.append(self._alternative(depth))
        kept = [a for a in alts if a is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else AnyOf(tuple(kept))

    def _alternative(self, depth: int) -> Node | None:
        start = self.peek()
        node = self.parse_and(depth)
        if depth == 0 and node is not None and start is not None:
            self.top.append((node, start.pos))
        return node

    def parse_and(self, depth: int) -> Node | None:
        first = self.peek()
        if first is not None and first.kind in ("or", "and"):
            op = first.text.upper()
            raise QueryError("dangling_operator", first.pos, f"{op} needs a term on each side", operator=op)
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind not in (")", "or"):
            if tok.kind == "and":
                self.i += 1
                if self._ends_operand():
                    raise QueryError(
                        "dangling_operator", tok.pos, "AND needs a term on each side", operator="AND"
                    )
                continue
            node = self.parse_unary(depth)
            if node is not None:
                items.append(node)
        if not items:
            return None
        return items[0] if len(items) == 1 else AllOf(tuple(items))

    def parse_unary(self, depth: int) -> Node | None:
        tok = self.lex[self.i]
        if tok.kind == "neg":
            self.i += 1
            if self._ends_operand():
                raise QueryError(
                    "dangling_operator", tok.pos, "a minus sign needs a term after it", operator="-"
                )
            inner = self.parse_unary(depth)
            if inner is None:
                return None
            return inner.child if isinstance(inner, Not) else Not(inner)
        return self.parse_primary(depth, title=False)

    def parse_primary(self, depth: int, *, title: bool) -> Node | None:
        tok = self.lex[self.i]
        self.i += 1
        if tok.kind == "field":
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("word", "phrase", "("):
                raise QueryError(
                    "dangling_operator", tok.pos, "title: needs a term after it", operator="title:"
                )
            return self.parse_primary(depth, title=True)
        if tok.kind == ")":
            raise QueryError("unbalanced_paren", tok.pos, "closing parenthesis without an opening one")
        if tok.kind == "(":
            if depth >= MAX_DEPTH:
                raise QueryError(
                    "too_deep", tok.pos, f"parentheses nested deeper than {MAX_DEPTH}", limit=MAX_DEPTH
                )
            nxt = self.peek()
            if nxt is not None and nxt.kind == ")":
                raise QueryError("empty", tok.pos, "empty parentheses")
            node = self.parse_or(depth + 1)
            close = self.peek()
            if close is None or close.kind != ")":
                raise QueryError("unbalanced_paren", tok.pos, "parenthesis not closed")
            self.i += 1
            return _with_title(node, tok.pos) if title and node is not None else node
        # A word or a phrase; in a phrase `*` is a prefix only at its very end.
        raw = tok.text
        term = make_term(raw, title=title, pos=tok.pos)
        if term is None:
            return None
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError("too_many_terms", tok.pos, f"more than {MAX_TERMS} terms", limit=MAX_TERMS)
        return term


def _with_title(node: Node, pos: int) -> Node:
    """title:( ... ) puts every term of the group in the title."""
    if isinstance(node, Term):
        return Term(node.label, node.tokens, prefix=node.prefix, title=True)
    if isinstance(node, Not):
        return Not(_with_title(node.child, pos))
    kids = tuple(_with_title(c, pos) for c in node.children)
    return AllOf(kids) if isinstance(node, AllOf) else AnyOf(kids)


def _simplify(node: Node) -> Node:
    """Flatten nested AND/OR, drop duplicate children (by meaning), unwrap single children."""
    if isinstance(node, Term):
        return node
    if isinstance(node, Not):
        inner = _simplify(node.child)
        return inner.child if isinstance(inner, Not) else Not(inner)
    kind = type(node)
    kids: dict[object, Node] = {}
    for c in node.children:
        s = _simplify(c)
        for k in s.children if type(s) is kind and isinstance(s, AllOf | AnyOf) else (s,):
            kids.setdefault(k.key if isinstance(k, Term) else canon(k), k)
    if len(kids) == 1:
        return next(iter(kids.values()))
    return kind(tuple(kids.values()))


def parse_query(text: str) -> Query:
    """Parse a query; raises QueryError (a UserInputError) naming the problem and its position."""
    return parse_with(text, _parse_general)


def parse_with(text: str, general: Callable[[str], Query]) -> Query:
    """parse_query, with `general` parsing the texts that are not one term."""
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    if not stripped:
        raise QueryError("empty", 1, "empty query")
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(
            "too_long", lead + MAX_QUERY_CHARS + 1, f"query longer than {MAX_QUERY_CHARS} characters",
            limit=MAX_QUERY_CHARS,
        )  # fmt: skip
    term = _one_term(stripped, lead)
    if term is not None:
        return _checked(Query(stripped, term), stripped, lead)
    return general(text)


def _one_term(stripped: str, lead: int) -> Term | None:
    """The term of a query that is one word or one plain phrase; None for any other query.

    A fast path: most queries are one word, and this is the parser's own term rule
    (make_term) without the lexer and the tree building around it: about 3x faster per word
    at start-up, where a million subscriptions parse a third of a million distinct texts
    (bench/match.py, build). tests/test_matcher_props.py holds it equal to the general parser.
    """
    simple = _ONE_WORD.fullmatch(stripped) or _ONE_PHRASE.fullmatch(stripped)
    if simple is None or stripped in _KEYWORDS:
        return None
    return make_term(simple.group(1), pos=lead + simple.start(1) + 1)


def _parse_general(text: str) -> Query:
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    lex = _lex(text)
    parser = _Parser(lex)
    root = parser.parse_or(0)
    if parser.i < len(lex):  # only a stray ")" stops the top level early
        raise QueryError("unbalanced_paren", lex[parser.i].pos, "closing parenthesis without an opening one")
    if root is None:
        raise QueryError("empty", lead + 1, "no word to look for")
    root = _simplify(root)
    _check_anchored(root, parser.top)
    return _checked(Query(stripped, root), stripped, lead)


def _checked(query: Query, stripped: str, lead: int) -> Query:
    # ASCII text of at most 200 characters and 10 terms cannot normalize past 500 characters.
    if not stripped.isascii() and len(query.norm) > MAX_NORM_CHARS:
        raise QueryError("too_long", lead + 1, "query too long once normalized", limit=MAX_NORM_CHARS)
    return query


def _check_anchored(root: Node, alternatives: list[tuple[Node, int]]) -> None:
    if anchors(root) is not None:
        return
    # Name the first top-level alternative that has nothing to look for.
    for alt, pos in alternatives:
        if anchors(_simplify(alt)) is None:
            raise QueryError("only_negative", pos, "nothing to look for, only exclusions")
    raise QueryError("only_negative", alternatives[0][1] if alternatives else 1, "nothing to look for")
