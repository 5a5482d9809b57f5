"""The query language: normalization, tokens, the parser, and documents to match against. Pure.

Text is compared as a stream of tokens. Latin (and other spaced scripts) give one token per
run of letters or of digits, so `covid-19`, `covid 19` and `COVID19` are the same two tokens
and `nato` never matches inside `natopolis`. CJK, Thai and similar unspaced scripts give one
token per character, so a Chinese term matches as a substring. Every term is then a run of
consecutive tokens, which makes words, phrases, mixed terms and CJK one rule.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from bot.domain import UserInputError
from bot.text import BOILERPLATE

__all__ = [
    "TOKEN",
    "AllOf",
    "AnyOf",
    "Document",
    "Node",
    "Not",
    "Query",
    "QueryError",
    "Term",
    "anchors",
    "clean_for_matching",
    "clear_term_cache",
    "display",
    "is_unspaced",
    "leaves",
    "make_term",
    "normalize",
    "parse_query",
    "tokenize",
    "words_of",
]

MAX_QUERY_CHARS = 200
MAX_TERMS = 10
MAX_DEPTH = 3
MAX_NORM_CHARS = 500
MIN_PREFIX = 3
FIELDS = {"title": "title", "标题": "title"}

# Unspaced scripts, one token per character: Hangul Jamo, Thai, Lao, Myanmar, Khmer, CJK marks,
# Kana, Hangul compatibility Jamo, Han (with extensions and compatibility ideographs), Hangul.
UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3005-\u3007\u3040-\u30ff\u3130-\u318f"
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
    "\U00020000-\U0003134f"
)
_UNSPACED = re.compile(f"[{UNSPACED}]")
# Diacritics folded away after NFD: Latin, Greek and Cyrillic accents, Hebrew points, Arabic
# vowel signs. Marks of other scripts (Devanagari vowel signs, Japanese dakuten) carry meaning.
_FOLDED_MARKS = re.compile(
    "[\u0300-\u036f\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u1ab0-\u1aff\u1dc0-\u1dff"
    "\u20d0-\u20ff\ufe20-\ufe2f]+"
)
# Invisible characters that would split a word in two: zero-width space and joiners, soft
# hyphen, bidi marks and embeddings, word joiner, variation selectors, BOM.
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufe00-\ufe0f\ufeff]+"
)
# Letters with no decomposition to fold through.
_LETTERS = {"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ŧ": "t", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
_LETTERS.update({"ð": "d", "ŀ": "l", "ƒ": "f"})
_SPECIAL = re.compile("[" + "".join(_LETTERS) + "]")
_SPECIAL_TABLE = str.maketrans(_LETTERS)


def _combining_marks() -> str:
    """Marks that stay inside a word (Indic vowel signs...), as a character class body."""
    ranges: list[list[int]] = []
    for lo, hi in ((0x0300, 0x2000), (0xA600, 0xAB00)):
        for cp in range(lo, hi):
            if unicodedata.category(chr(cp))[0] == "M" and not _UNSPACED.match(chr(cp)):
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1][1] = cp
                else:
                    ranges.append([cp, cp])
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


_LETTER = f"[^\\W\\d_{UNSPACED}]"
# A word: letters, with the marks some scripts write inside words; or a run of digits.
_WORD = f"{_LETTER}+(?:[{_combining_marks()}]+{_LETTER}*)*|\\d+"
_TOKEN = re.compile(f"[{UNSPACED}]|{_WORD}")
TOKEN = _TOKEN  # the definition of a token, on normalized text
_URL = re.compile(r"(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,500}>|<!--.*?-->", re.DOTALL)
_BOILERPLATE = re.compile("|".join(f"(?:{p.pattern})" for p in BOILERPLATE), re.IGNORECASE)


def _fold(text: str) -> str:
    """The full normalization, step by step; `normalize` is this with shortcuts."""
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    text = _FOLDED_MARKS.sub("", text)
    if _SPECIAL.search(text):
        text = text.translate(_SPECIAL_TABLE)
    return unicodedata.normalize("NFC", text)


# --- fast paths; tests hold them equal to _fold + _TOKEN on random text --------------------

# Typographic separators common in English text, as UTF-8: U+2000-U+203F (dashes, quotes,
# ellipsis, spaces) except the invisible ones, and NBSP, «, · and ». Text whose only non-ASCII
# characters are these tokenizes like ASCII.
_TYPOGRAPHIC = re.compile(rb"(?:\xe2\x80[\x80-\x8a\x90-\xa9\xaf-\xbf]|\xc2[\xa0\xab\xb7\xbb])*")
_ASCII_ONLY = bytes(range(128))
_NOT_DIGITS = bytes(c for c in range(256) if not 0x30 <= c <= 0x39)
# Letters (lowercased) and digits stay, every other byte becomes a space.
_ASCII_TABLE = bytes(ord(chr(c).lower()) if c < 128 and chr(c).isalnum() else 0x20 for c in range(256))
# A digit touching a letter; starting with the digit lets sre skip ahead to digits.
_DIGITS_BY_LETTER = re.compile(rb"[0-9](?:(?<=[a-z][0-9])|(?=[a-z]))")
_DIGIT_RUN = re.compile(rb"[0-9]+")
# Latin letters (U+00C0-U+024F) whose full folding is plain ASCII letters: é -> e, ß -> ss, Ø -> o.
_LATIN_FOLD = {
    ch: folded
    for ch, folded in ((chr(cp), _fold(chr(cp))) for cp in range(0xC0, 0x250))
    if folded.isascii() and folded.isalpha()
}
_LATIN = re.compile("[" + "".join(_LATIN_FOLD) + "]")
_LATIN_OR_TYPOGRAPHIC = re.compile(
    rb"(?:[\xc3-\xc9][\x80-\xbf]|\xe2\x80[\x80-\x8a\x90-\xa9\xaf-\xbf]|\xc2[\xa0\xab\xb7\xbb])*"
)
# Full-width punctuation that keeps Chinese text from being NFKC already, with its NFKC form:
# replacing just these is much cheaper than normalizing the whole text, and gives the same.
_FULLWIDTH = {ch: unicodedata.normalize("NFKC", ch) for ch in "，：；！？（）～．％＋＝＆＃＠"}


def _ascii_words(text: str) -> list[str] | None:
    """Tokens of text that is ASCII apart from typographic separators and accented Latin letters.

    None for any other text. Both kinds fold character by character, with nothing around them
    to combine with, so this equals the general path.
    """
    raw = text.encode()
    if len(raw) != len(text):
        rest = raw.translate(None, _ASCII_ONLY)
        if not _TYPOGRAPHIC.fullmatch(rest):
            if not _LATIN_OR_TYPOGRAPHIC.fullmatch(rest):
                return None
            raw = _LATIN.sub(lambda m: _LATIN_FOLD[m.group()], text).encode()
            if not _TYPOGRAPHIC.fullmatch(raw.translate(None, _ASCII_ONLY)):
                return None  # a Latin letter that does not fold to ASCII
    raw = raw.translate(_ASCII_TABLE)
    if raw.translate(None, _NOT_DIGITS) and _DIGITS_BY_LETTER.search(raw):
        raw = _DIGIT_RUN.sub(rb" \g<0> ", raw)
    return raw.decode("ascii").split()


def normalize(text: str) -> str:
    """Compatibility-normalized (NFKC), case-folded, accents folded, invisible characters dropped."""
    if text.isascii():
        return text.lower()
    text = _INVISIBLE.sub("", text)
    if not unicodedata.is_normalized("NFKC", text):
        for ch, nfkc in _FULLWIDTH.items():
            if ch in text:
                text = text.replace(ch, nfkc)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    if not unicodedata.is_normalized("NFD", text):
        text = unicodedata.normalize("NFD", text)
    text = _FOLDED_MARKS.sub("", text)
    if _SPECIAL.search(text):
        text = text.translate(_SPECIAL_TABLE)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def tokenize(text: str) -> list[str]:
    """The tokens of already normalized text."""
    fast = _ascii_words(text)
    if fast is not None:
        return fast
    return _TOKEN.findall(text)


def words_of(text: str) -> list[str]:
    """The tokens of raw text: tokenize(normalize(text)), faster."""
    fast = _ascii_words(text)
    return fast if fast is not None else tokenize(normalize(text))


def is_unspaced(token: str) -> bool:
    """A token of a script written without spaces (one character)."""
    return bool(_UNSPACED.match(token))


def display(tokens: Sequence[str]) -> str:
    """Tokens as text: spaces between words, none between CJK characters."""
    out: list[str] = []
    prev_unspaced = False
    for i, tok in enumerate(tokens):
        unspaced = len(tok) == 1 and is_unspaced(tok)
        if i and not (unspaced and prev_unspaced):
            out.append(" ")
        out.append(tok)
        prev_unspaced = unspaced
    return "".join(out)


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


# --- the parser --------------------------------------------------------------------------

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
# One item of a flat query (no parentheses, fields or prefixes): [-]word, [-]"phrase", OR, |.
_FLAT_ITEM = re.compile(
    f'\\s*(?:(OR|\\|)|(-?)(?:"([^"*]*)"|([^{_OPERATORS}\\-－−][^{_OPERATORS}]*)))(?=\\s|$)'
)


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


def clear_term_cache() -> None:
    """Forget cached terms (after a bulk load)."""
    _TERM_CACHE.clear()


def make_term(raw: str, *, title: bool = False, pos: int = 1) -> Term | None:
    """A term from one word or phrase as typed (`word*` is a prefix); None when it has no tokens."""
    if raw in _TERM_CACHE:
        term = _TERM_CACHE[raw]
    else:
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
        if len(_TERM_CACHE) >= TERM_CACHE_SIZE:
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
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    if not stripped:
        raise QueryError("empty", 1, "empty query")
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(
            "too_long", lead + MAX_QUERY_CHARS + 1, f"query longer than {MAX_QUERY_CHARS} characters",
            limit=MAX_QUERY_CHARS,
        )  # fmt: skip
    simple = _ONE_WORD.fullmatch(stripped) or _ONE_PHRASE.fullmatch(stripped)
    if simple is not None and stripped not in _KEYWORDS:
        # Most queries are one word or one phrase: the same result without the parser.
        term = make_term(simple.group(1), pos=lead + simple.start(1) + 1)
        if term is not None:
            return _checked(Query(stripped, term), stripped, lead)
    flat = _parse_flat(stripped, lead)
    if flat is not None:
        return _checked(Query(stripped, flat), stripped, lead)
    return _parse_general(text)


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


def _parse_flat(text: str, lead: int) -> Node | None:
    """The tree of a flat query, as the general parser builds it; None for anything else.

    Flat queries (OR lists, exclusions, phrases) are most of what people write; anything
    unusual, errors included, is left to the general parser.
    """
    alts: list[list[Node]] = []
    items: list[Node] = []
    terms = 0
    at, end = 0, len(text)
    while at < end:
        m = _FLAT_ITEM.match(text, at)
        if m is None:
            return None
        at = m.end()
        op, neg, phrase, word = m.groups()
        if op is not None:
            if not items:
                return None
            alts.append(items)
            items = []
            continue
        if word in _KEYWORDS:
            return None
        term = make_term(
            phrase if phrase is not None else word, pos=lead + m.start(3 if word is None else 4) + 1
        )
        if term is None:
            continue
        terms += 1
        if terms > MAX_TERMS:
            return None
        items.append(Not(term) if neg else term)
    if not items:
        return None
    alts.append(items)
    # What _simplify does to such a tree, directly: repeated terms and alternatives go.
    nodes: list[Node] = []
    seen: set[object] = set()
    for alt in alts:
        kept: dict[object, Node] = {}
        for item in alt:
            kept.setdefault(item.key if isinstance(item, Term) else ("-", item.child.key), item)  # type: ignore[union-attr]
        if not any(isinstance(item, Term) for item in kept.values()):
            return None  # nothing to look for: the general parser names the problem
        key = frozenset(kept) if len(kept) > 1 else next(iter(kept))
        if key not in seen:
            seen.add(key)
            nodes.append(next(iter(kept.values())) if len(kept) == 1 else AllOf(tuple(kept.values())))
    return nodes[0] if len(nodes) == 1 else AnyOf(tuple(nodes))


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


# --- documents ---------------------------------------------------------------------------


def clean_for_matching(text: str) -> str:
    """Text without markup left by a feed, URLs and publisher boilerplate lines."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "://" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "\n" in text:
        text = "\n".join(line for line in text.split("\n") if not _BOILERPLATE.fullmatch(line.strip()))
    elif _BOILERPLATE.fullmatch(text.strip()):
        text = ""
    return text


class Document:
    """An article's text as tokens, computed once and matched against every query."""

    __slots__ = ("joined", "seen", "title_joined", "title_len", "title_words", "tokens", "words")

    # The tokens joined by "\x01", with one before and after: a run of tokens is a substring.
    # Made on first use (most articles match nothing that needs them), then plain attributes.
    joined: str
    title_joined: str
    seen: dict[str, bool]  # for the index: searches in the joined text, remembered

    def __init__(self, title_tokens: list[str], body_tokens: list[str]) -> None:
        # "\x00" between fields keeps a phrase from spanning the title and the body.
        self.tokens = [*title_tokens, "\x00", *body_tokens]
        self.title_len = len(title_tokens)
        self.words = set(self.tokens)
        self.title_words = set(title_tokens)

    if not TYPE_CHECKING:  # typed as the attributes above

        def __getattr__(self, name: str) -> Any:
            if name == "joined":
                self.joined = "\x01" + "\x01".join(self.tokens) + "\x01"
                return self.joined
            if name == "title_joined":
                self.title_joined = "\x01" + "\x01".join(self.tokens[: self.title_len]) + "\x01"
                return self.title_joined
            if name == "seen":
                self.seen = {}
                return self.seen
            raise AttributeError(name)

    @classmethod
    def of(cls, title: str, *rest: str) -> Document:
        """A document from its title and then its body parts (summary, content)."""
        body: list[str] = []
        for part in rest:
            if part:
                if body:
                    body.append("\x00")
                body += words_of(clean_for_matching(part))
        return cls(words_of(clean_for_matching(title)) if title else [], body)

    def pairs(self) -> set[tuple[str, str]]:
        """Distinct pairs of consecutive tokens."""
        return set(itertools.pairwise(self.tokens))

    def triples(self) -> set[tuple[str, str, str]]:
        """Distinct runs of three consecutive tokens."""
        toks = self.tokens
        return set(zip(toks, toks[1:], toks[2:], strict=False))

    def title_triples(self) -> set[tuple[str, str, str]]:
        """Distinct runs of three consecutive title tokens."""
        toks = self.tokens[: self.title_len]
        return set(zip(toks, toks[1:], toks[2:], strict=False))

    def title_pairs(self) -> set[tuple[str, str]]:
        """Distinct pairs of consecutive title tokens."""
        return set(itertools.pairwise(self.tokens[: self.title_len]))
