"""Plain-text cleaning of feed strings: strip markup, drop invisible characters, summarize."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

__all__ = ["BOILERPLATE", "clean_text", "clean_title", "is_clearly_html", "summarize", "title_fingerprint"]

# Contents of these elements are never readable text.
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title", "svg", "math"})
# Tags that separate blocks of text; without a break their words would run together.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})

# C0 controls except "\n", DEL, C1 controls, zero-width space, BOM and bidi embedding/isolate
# controls: invisible, and able to reorder or hide the text around them in a chat message.
# Zero-width (non-)joiners stay: Persian words and emoji families are spelled with them.
_DROP = dict.fromkeys(
    [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)]
    + list(range(0x7F, 0xA0))
    + [0x200B, 0xFEFF]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
)
# Line and paragraph separators and CR become plain newlines; tabs become spaces.
_DROP.update({0x0D: 0x0A, 0x2028: 0x0A, 0x2029: 0x0A, 0x09: 0x20})
_SURROGATES = re.compile("[\ud800-\udfff]")

# Publisher boilerplate: a line that matches one of these in full is not part of the story.
BOILERPLATE: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\W*advertisement\W*",
        r"\W*story continues below(?: this)? advertisement\W*",
        r"\W*(?:subscribe|sign up) (?:to|for|now)\b.{0,120}",
        r"\W*sign up for .{0,80}newsletters?\b.{0,60}",
        r"\W*continue reading\b.{0,120}",
        r"\W*read (?:more|the full (?:story|article|post))\b.{0,80}",
        r"\W*the post .{1,400} appeared first on .{1,200}",
        r"\W*广告\W*",
        r"\W*(?:阅读全文|阅读原文|查看全文|点击查看原文|查看原文)\W*",
    )
)

# The same trailers at the very end of a summary, cut only where a sentence (or an ellipsis, a
# bracket) ends before them: "Lede. Read the full post", "Lede […] Continue reading →", never
# "He told me to read more". Bracketed and Chinese ones may follow a word or a space.
_TRAILER = re.compile(
    r"(?:(?<=[.!?…。！？」”\"')\]])\s*|\s+(?=[\[(【（])|^)"
    r"(?:(?:continue reading|keep reading|read (?:more|the (?:full|whole) (?:story|article|post)))\b.{0,100}"
    r"|the post .{1,200} appeared first on .{1,120}"
    r"|[\[(](?:read more|continue reading|more)[^\])]{0,40}[\])]\W*)$"
    r"|(?:(?<=[.!?…。！？」”\"')\]\s])|^)[\s【\[(（]*(?:阅读全文|阅读原文|查看全文|点击查看原文|查看原文)[\W_]*$",
    re.IGNORECASE,
)
# How much of a summary's end may hold a trailer.
_TRAILER_WINDOW = 400

# What makes a field that may be HTML clearly HTML: a character reference, a comment, a void
# element, or an element closed by its own end tag. "The <blink> tag is back" and "</example>" are text.
_HTML_MARK = re.compile(
    r"&(?:[a-z][a-z0-9]{1,31}|#[0-9]{1,7}|#x[0-9a-f]{1,6});|<!--|<!\[CDATA\[|<(?:br|hr|img|wbr)\b[^<>]*>",
    re.IGNORECASE,
)
_START_TAG = re.compile(r"<([a-z][a-z0-9-]*)\b[^<>]*>", re.IGNORECASE)
_END_TAG = re.compile(r"</([a-z][a-z0-9-]*)\s*>", re.IGNORECASE)

# Joiners take no part in telling titles apart: "می‌خواهم" and "میخواهم" are one word.
_JOINERS = dict.fromkeys([0x200C, 0x200D])

# Anything that is not a letter or digit separates words in a fingerprint.
_NON_WORD = re.compile(r"[\W_]+")
# Fingerprints with fewer letters and digits than this ("Update", "(untitled)") say nothing.
MIN_FINGERPRINT_CHARS = 10

# Input read per character of output when a limit is set: markup rarely outweighs text tenfold.
MARKUP_RATIO = 10

_SENTENCE_END = re.compile(r"[.!?…](?=\s)|[。！？]")
_SOFT_BREAK = re.compile(r"\s|[，、；：]")


class _TextExtractor(HTMLParser):
    """Collects text nodes; entities are decoded once by the parser (convert_charrefs)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)

    def unknown_decl(self, data: str) -> None:
        # A CDATA section left inside HTML is text, not a declaration to hide.
        if data.startswith("CDATA[") and not self._skip_depth:
            self.parts.append(data[6:])


def _drop_comments(s: str) -> str:
    """Remove <!-- ... --> comments; one never closed ends at the next ">" (as browsers show it:
    "sa<!-- -- x >fe" reads "safe"). Linear: once no "-->" follows, none follows later either."""
    out, i, closed = [], 0, True
    while (start := s.find("<!--", i)) >= 0:
        out.append(s[i:start])
        end = s.find("-->", start + 4) if closed else -1
        if end >= 0:
            i = end + 3
            continue
        closed = False
        gt = s.find(">", start + 4)
        i = len(s) if gt < 0 else gt + 1
    out.append(s[i:])
    return "".join(out)


def _strip_markup(s: str) -> str:
    if "<" not in s and "&" not in s:
        return s  # fast path: most titles carry no markup at all
    parser = _TextExtractor()
    parser.feed(_drop_comments(s) if "<!--" in s else s)
    parser.close()
    return "".join(parser.parts)


def _tidy(s: str) -> str:
    s = _SURROGATES.sub("\ufffd", s)
    s = unicodedata.normalize("NFC", s.translate(_DROP))
    lines = (" ".join(line.split()) for line in s.split("\n"))
    return "\n".join(line for line in lines if line)


def _bounded(s: str, limit: int | None) -> str:
    """At most MARKUP_RATIO × limit characters of input, never ending inside a tag."""
    if limit is None or len(s) <= limit * MARKUP_RATIO:
        return s
    s = s[: limit * MARKUP_RATIO]
    open_tag = s.rfind("<")
    return s[:open_tag] if open_tag > s.rfind(">") else s


def clean_text(s: str | None, *, html: bool = True, limit: int | None = None) -> str:
    """Turn a feed field (HTML unless html=False) into plain text with single line breaks,
    at most limit characters (the input is bounded too, so a 5 MB field costs no more)."""
    if not s:
        return ""
    s = _bounded(s, limit)
    text = _tidy(_strip_markup(s) if html else s)
    return text if limit is None else text[:limit].rstrip()


def clean_title(s: str | None, *, html: bool = True, limit: int | None = None) -> str:
    """Plain text on a single line."""
    return " ".join(clean_text(s, html=html, limit=limit).split())


def is_clearly_html(s: str) -> bool:
    """Whether a field that may be HTML or plain text (an RSS title) is clearly HTML."""
    if "<" not in s and "&" not in s:
        return False
    if _HTML_MARK.search(s):
        return True
    ends = {m.group(1).lower() for m in _END_TAG.finditer(s)}
    return bool(ends) and any(m.group(1).lower() in ends for m in _START_TAG.finditer(s))


def _is_boilerplate(line: str) -> bool:
    return any(p.fullmatch(line) for p in BOILERPLATE)


def _cut_point(text: str, limit: int) -> tuple[int, bool]:
    """Where to cut text to fit limit characters; the flag says an ellipsis is needed."""
    # One character past the limit lets the lookahead see the space after a final period.
    ends = [m.end() for m in _SENTENCE_END.finditer(text[: limit + 1]) if m.end() <= limit]
    # A sentence end in the last 60 % of the window keeps the summary readable.
    if ends and ends[-1] >= limit * 0.4:
        return ends[-1], False
    breaks = [m.start() for m in _SOFT_BREAK.finditer(text[:limit])]  # text before a break fits with "…"
    if breaks and breaks[-1] >= limit * 0.4:
        return breaks[-1], True
    cut = limit - 1
    while cut > 0 and unicodedata.combining(text[cut]):
        cut -= 1  # never split a letter from its accent
    return cut, True


def _without_trailer(text: str) -> str:
    """The text without a boilerplate trailer at its very end ("… Continue reading →")."""
    start = max(0, len(text) - _TRAILER_WINDOW)
    match = _TRAILER.search(text, start)
    return text[: match.start()].rstrip() if match else text


def summarize(text: str, limit: int = 300) -> str:
    """Drop boilerplate lines and cut to at most limit characters at a sentence or word boundary."""
    lines = [line for line in clean_text(text, html=False).split("\n") if not _is_boilerplate(line)]
    flat = _without_trailer(" ".join(lines))
    if len(flat) <= limit:
        return flat
    if limit < 2:
        return "…"[:limit]
    cut, ellipsis = _cut_point(flat, limit)
    head = flat[:cut].rstrip(" ,;:-–—，、；：")
    return head + "…" if ellipsis else head


def title_fingerprint(title: str | None) -> str:
    """A plain-text title reduced for near-duplicate matching: NFKC, casefolded, punctuation and
    spacing collapsed ("Breaking: Fire!" == "breaking — fire"); "" when too short to tell apart."""
    flat = unicodedata.normalize("NFKC", clean_title(title, html=False).translate(_JOINERS)).casefold()
    words = _NON_WORD.sub(" ", flat).split()
    return " ".join(words) if sum(map(len, words)) >= MIN_FINGERPRINT_CHARS else ""
