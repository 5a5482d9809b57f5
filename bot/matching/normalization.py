"""Normalization and tokens: how text is compared. Pure.

Text is compared as a stream of tokens. Latin (and other spaced scripts) give one token per
run of letters or of digits, so `covid-19`, `covid 19` and `COVID19` are the same two tokens
and `nato` never matches inside `natopolis`. CJK, Thai and similar unspaced scripts give one
token per character, so a Chinese term matches as a substring. Every term is then a run of
consecutive tokens, which makes words, phrases, mixed terms and CJK one rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

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


def _fold(text: str) -> str:
    """The full normalization, step by step; `normalize` is this with shortcuts."""
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    text = _FOLDED_MARKS.sub("", text)
    if _SPECIAL.search(text):
        text = text.translate(_SPECIAL_TABLE)
    return unicodedata.normalize("NFC", text)


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
    spaced = " ".join(tokens)
    if spaced.isascii():  # no ASCII character is of an unspaced script: the commonest case
        return spaced
    out: list[str] = []
    prev_unspaced = False
    for i, tok in enumerate(tokens):
        unspaced = len(tok) == 1 and is_unspaced(tok)
        if i and not (unspaced and prev_unspaced):
            out.append(" ")
        out.append(tok)
        prev_unspaced = unspaced
    return "".join(out)
