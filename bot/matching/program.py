"""Running a compiled program against a document: anchors, tests and matched labels. Pure."""

from __future__ import annotations

import functools
import re
from typing import cast

from bot.matching.compiler import _OPS, Prog
from bot.matching.document import Document
from bot.matching.normalization import UNSPACED, display

_UNSPACED_RUN = re.compile(f"[{UNSPACED}]+")


def _unpack(ref: str) -> tuple[list[str], bool, bool]:
    """(tokens, prefix, title) of a reference."""
    title = ref[0] == "\x02"
    if title:
        ref = ref[1:]
    if ref[0] != "\x01":
        return [ref], False, False
    return ref.strip("\x01").split("\x01"), not ref.endswith("\x01"), title


def _weight(ref: str) -> float:
    """Guessed rarity, as in bot.matching.query.weight: longer runs and title-only terms are rarer."""
    if ref[0] > "\x02":
        return len(ref)  # a plain word
    tokens, prefix, title = _unpack(ref)
    return sum(map(len, tokens)) + 4 * (len(tokens) - 1) - 3 * prefix + 6 * title


def _anchors(prog: Prog) -> list[str] | None:
    """References of which one occurs in every match; None when there is no such set."""
    if type(prog) is str:
        return [prog]
    head = prog[0]
    if head == "-":
        return None
    if head == "|":
        found: list[str] = []
        for child in prog[1:]:
            sub = _anchors(child)
            if sub is None:
                return None
            found += sub
        return found
    if head == "&":
        options = [a for a in map(_anchors, prog[1:]) if a is not None]
        if len(options) < 2:  # no choice to make: `a -b`, the commonest
            return options[0] if options else None
        return max(options, key=lambda refs: (min(map(_weight, refs)), -len(refs)))
    return [cast(str, head)]  # (reference, label)


def _label(ref: str) -> str:
    """A multi-token or title reference as the user reads it."""
    text = ref.replace("\x01", "").lstrip("\x02")
    if ref[-1] == "\x01" and _UNSPACED_RUN.fullmatch(text):
        return text  # CJK: the characters, as written
    return _spelled(ref)


@functools.lru_cache(maxsize=1 << 16)
def _spelled(ref: str) -> str:
    """_label, the general way; cached, for matching repeats them."""
    tokens, prefix, _ = _unpack(ref)
    return display(tokens) + ("*" if prefix else "")


def _direct(prog: Prog) -> bool:
    """Whether a query's lookup key alone proves it: one term of one to three exact tokens."""
    if isinstance(prog, str):
        ref = prog
    elif prog[0] in _OPS:
        return False
    else:
        ref = cast(str, prog[0])
    if ref[0] > "\x02":
        return True
    needle = ref[1:] if ref[0] == "\x02" else ref
    return needle[-1] == "\x01" and needle.count("\x01") <= 4


def _kind(prog: Prog) -> int:
    """_Group.direct of a query. (An OR that repeats a term, which the parser never gives, is
    found fewer times than it has terms, and _some then tests it as far as it takes.)"""
    head = prog[0]
    if head == "|":
        return len(prog) - 1 if all(map(_direct, prog[1:])) else 0
    if head == "&" or head == "-":
        return 0
    return 1 if _direct(prog) else 0


def _labels(prog: Prog) -> tuple[str]:
    """The label of a direct query."""
    if type(prog) is str:
        return (prog,) if prog[0] > "\x02" else (_label(prog),)
    return (cast(str, prog[1]),)


def _has(ref: str, doc: Document) -> bool:
    first = ref[0]
    if first > "\x02":
        return ref in doc.words
    # A search in the text, remembered: at thousands of matches an article tests the same
    # phrases and CJK terms for many queries.
    seen = doc.seen
    found = seen.get(ref)
    if found is None:
        found = seen[ref] = ref in doc.joined if first == "\x01" else ref[1:] in doc.title_joined
    return found


def _test(prog: Prog, doc: Document) -> bool:
    if type(prog) is str:
        return _has(prog, doc)
    head = prog[0]
    if head == "&":
        return all(_test(c, doc) for c in prog[1:])
    if head == "|":
        return any(_test(c, doc) for c in prog[1:])
    if head == "-":
        return not _test(prog[1], doc)
    return _has(cast(str, head), doc)


def _gather(prog: Prog, doc: Document, out: list[str]) -> bool:
    """Whether the program matches; labels of the positive terms that made it match go to out."""
    if type(prog) is str:
        if _has(prog, doc):
            out.append(_label(prog) if prog[0] <= "\x02" else prog)
            return True
        return False
    head = prog[0]
    if head == "&" or head == "|":
        # Terms, the commonest children, are tested in place rather than by a call.
        every = head == "&"
        mark = len(out)
        hit = False
        for child in prog[1:]:
            if type(child) is str:
                if child[0] > "\x02":
                    found = child in doc.words
                    label = child
                else:
                    found = _has(child, doc)
                    label = _label(child) if found else ""
                if found:
                    out.append(label)
            else:
                found = _gather(child, doc, out)
            if found:
                hit = True  # in an OR, every true branch contributes its terms
            elif every:
                del out[mark:]
                return False
        return hit
    if head == "-":
        child = prog[1]
        if type(child) is str and child[0] > "\x02":
            return child not in doc.words
        return not _test(child, doc)
    if _has(cast(str, head), doc):
        out.append(cast(str, prog[1]))
        return True
    return False


def _some(prog: Prog, times: int, doc: Document) -> tuple[str, ...]:
    """The labels of an OR of direct terms of which `times` were found, tested in order until
    that many are: `a OR b` found once costs one test (a set lookup when `a` is a word)."""
    out: list[str] = []
    left = times
    for child in prog[1:]:
        ref = child if type(child) is str else cast(str, child[0])
        if _has(ref, doc):
            out += _labels(child)
            left -= 1
            if not left:
                break
    return tuple(dict.fromkeys(out))  # title:x OR x has one label twice


def matched_labels(prog: Prog, doc: Document) -> tuple[str, ...]:
    """Labels of the positive terms that made the document match; empty when it does not."""
    out: list[str] = []
    return tuple(dict.fromkeys(out)) if _gather(prog, doc, out) else ()
