"""An article's clean text as tokens, made once and matched against every query. Pure."""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, Any

from bot.matching.normalization import words_of
from bot.text import BOILERPLATE

_URL = re.compile(r"(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)


_TAG = re.compile(r"</?[A-Za-z][^<>]{0,500}>|<!--.*?-->", re.DOTALL)


_BOILERPLATE = re.compile("|".join(f"(?:{p.pattern})" for p in BOILERPLATE), re.IGNORECASE)


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
