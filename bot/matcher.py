"""Query parsing and the subscription index. Pure: no I/O, no clock.

The seam is `parse_query`, `build_index` and `match(articles, index) -> alerts`. For now a
query is a list of terms that must all appear (a `"quoted phrase"` is one term) and
`-term` excludes; Latin terms match whole words, case- and accent-insensitively, CJK
terms match as substrings.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.domain import Alert, StoredArticle, UserInputError

MAX_QUERY_CHARS = 200
MAX_TERMS = 10

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]")
_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e")
)


def normalize(text: str) -> str:
    """NFKC, case-folded, diacritics removed, zero-width characters dropped."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


def _is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True, slots=True)
class Term:
    """One searchable unit: a word sequence (Latin) or a substring (CJK)."""

    label: str  # as shown to the user
    words: tuple[str, ...]  # normalized words; empty for a CJK term
    substring: str = ""  # normalized, for CJK terms

    def found_in(self, doc: Document) -> bool:
        if self.substring:
            return self.substring in doc.text
        return doc.has_sequence(self.words)


@dataclass(frozen=True, slots=True)
class Query:
    include: tuple[Term, ...]
    exclude: tuple[Term, ...] = ()

    @property
    def norm(self) -> str:
        """A canonical text: two queries with the same meaning compare equal."""
        inc = sorted(t.substring or " ".join(t.words) for t in self.include)
        exc = sorted("-" + (t.substring or " ".join(t.words)) for t in self.exclude)
        return " ".join(f'"{x}"' if " " in x else x for x in inc + exc)

    def matches(self, doc: Document) -> bool:
        return all(t.found_in(doc) for t in self.include) and not any(t.found_in(doc) for t in self.exclude)


def _make_term(raw: str) -> Term | None:
    norm = normalize(raw)
    if _is_cjk(norm):
        compact = "".join(_WORD.findall(norm))
        return Term(label=raw.strip(), words=(), substring=compact) if compact else None
    words = tuple(_WORD.findall(norm))
    return Term(label=raw.strip(), words=words) if words else None


_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')


def parse_query(text: str) -> Query:
    """Parse a subscription query; raises UserInputError with the reason."""
    text = text.strip()
    if not text:
        raise UserInputError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise UserInputError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if text.count('"') % 2:
        raise UserInputError(f"unclosed quote at position {text.rfind(chr(34)) + 1}")
    include: list[Term] = []
    exclude: list[Term] = []
    for m in _TOKEN.finditer(text):
        negative, phrase, bare = m.group(1), m.group(2), m.group(3)
        raw = phrase if phrase is not None else bare
        if phrase is None and raw.startswith("-") and len(raw) > 1:
            negative, raw = "-", raw[1:]
        term = _make_term(raw)
        if term is None:
            continue
        (exclude if negative else include).append(term)
    if len(include) + len(exclude) > MAX_TERMS:
        raise UserInputError(f"the query has more than {MAX_TERMS} terms")
    if not include:
        raise UserInputError("the query needs at least one word to look for")
    return Query(include=tuple(include), exclude=tuple(exclude))


@dataclass(slots=True)
class Document:
    """An article's text, normalized once for every subscription."""

    text: str
    words: list[str]
    positions: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, *parts: str) -> Document:
        text = normalize("\n".join(p for p in parts if p))
        words = _WORD.findall(text)
        positions: dict[str, list[int]] = defaultdict(list)
        for i, w in enumerate(words):
            positions[w].append(i)
        return cls(text=text, words=words, positions=positions)

    def has_sequence(self, seq: Sequence[str]) -> bool:
        first = self.positions.get(seq[0])
        if not first:
            return False
        n = len(seq)
        return any(self.words[i : i + n] == list(seq) for i in first)


@dataclass(slots=True)
class _Entry:
    sub_id: int
    chat_id: int
    query: Query


@dataclass(slots=True)
class SubscriptionIndex:
    """Subscriptions keyed by one required anchor: a word, or a CJK substring."""

    by_word: dict[str, dict[int, _Entry]] = field(default_factory=lambda: defaultdict(dict))
    by_cjk: dict[int, _Entry] = field(default_factory=dict)
    anchors: dict[int, str | None] = field(default_factory=dict)

    def add(self, sub_id: int, chat_id: int, query: str | Query) -> None:
        """Add (or replace) one subscription."""
        q = parse_query(query) if isinstance(query, str) else query
        self.remove(sub_id)
        entry = _Entry(sub_id, chat_id, q)
        latin = [t for t in q.include if t.words]
        if latin:
            # The rarest-looking word is the best filter; length is a cheap stand-in.
            anchor = max((t.words[0] for t in latin), key=len)
            self.by_word[anchor][sub_id] = entry
            self.anchors[sub_id] = anchor
        else:
            self.by_cjk[sub_id] = entry
            self.anchors[sub_id] = None

    def remove(self, sub_id: int) -> None:
        """Remove one subscription if present."""
        if sub_id not in self.anchors:
            return
        anchor = self.anchors.pop(sub_id)
        if anchor is None:
            self.by_cjk.pop(sub_id, None)
        else:
            bucket = self.by_word.get(anchor, {})
            bucket.pop(sub_id, None)
            if not bucket:
                self.by_word.pop(anchor, None)

    def __len__(self) -> int:
        return len(self.anchors)

    def candidates(self, doc: Document) -> Iterable[_Entry]:
        for word in doc.positions:
            bucket = self.by_word.get(word)
            if bucket:
                yield from bucket.values()
        yield from self.by_cjk.values()


def build_index(subscriptions: Iterable[tuple[int, int, str]]) -> SubscriptionIndex:
    """An index over (subscription id, chat id, query) rows; bad stored queries are skipped."""
    index = SubscriptionIndex()
    for sub_id, chat_id, query in subscriptions:
        try:
            index.add(sub_id, chat_id, query)
        except UserInputError:
            continue
    return index


def match(articles: Iterable[StoredArticle], index: SubscriptionIndex) -> list[Alert]:
    """One alert per (chat, article), listing every term that matched for that chat."""
    alerts: list[Alert] = []
    for article in articles:
        doc = Document.of(article.title, article.summary, article.content)
        per_chat: dict[int, list[str]] = {}
        for entry in index.candidates(doc):
            if entry.query.matches(doc):
                terms = per_chat.setdefault(entry.chat_id, [])
                for t in entry.query.include:
                    if t.label not in terms:
                        terms.append(t.label)
        for chat_id, terms in per_chat.items():
            alerts.append(Alert(chat_id=chat_id, article_id=article.id, terms=tuple(terms)))
    return alerts
