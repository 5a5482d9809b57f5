"""Article links: absolute http(s) URLs to show, and the link as written for identity."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

_URL_SAFE = "/%:@!$&'()*+,;=-._~?#"


CONTROL = re.compile(r"[\x00-\x20\x7f]+")


# "www.example.com/news/1.html", "news.example.org/a": a host written without its scheme. A first
# segment ending in a file extension ("story.html", "index.php/x") is a relative path.
_BARE_HOST = re.compile(
    r"(?:www\.[^/?#\s]+|(?:[a-z0-9-]+\.)+(?!(?:s?html?|php\d?|aspx?|jsp|cgi|xml|rss|json|txt|pdf)\b)"
    r"[a-z]{2,24})(?=[/?#]|$)",
    re.IGNORECASE,
)


# Extensions that name the article's real address behind a tracking redirect (FeedBurner, Pheedo).
_ORIG_LINKS = ("feedburner_origlink", "pheedo_origlink")


# <link uri="at://...">https://...</link>: feedparser takes the attribute and drops the text.
_URI_ATTR_LINK = re.compile(
    rb"<link(\s[^>]*?)?\s(?:uri|url)\s*=\s*(?:\"(?!https?:)[^\"]*\"|'(?!https?:)[^']*')([^>]*)>(?=\s*https?://)",
    re.IGNORECASE,
)


def entry_links(e: Mapping[str, Any], base: str) -> tuple[str | None, str | None]:
    """(the link to show and compare, the link for the key) of a feedparser entry."""
    raw = e.get("link")
    if e.get("guidislink") and not _is_absolute_http(raw):
        raw = None  # a GUID that is not a URL ("12345", "abc123") is no link
    link = absolute_link(raw, base)
    shown = next((u for name in _ORIG_LINKS if (u := absolute_link(e.get(name), base))), None)
    return shown or link or alternate_link(e.get("links"), base), key_link(raw, link)


def keep_link_text(body: bytes) -> bytes:
    """Drop a non-http uri/url attribute from <link> elements whose text is an http(s) URL."""
    if b"uri" not in body and b"url" not in body:
        return body
    return _URI_ATTR_LINK.sub(rb"<link\1\2>", body)


def absolute_link(value: Any, base: str) -> str | None:
    """Absolute http(s) link resolved against base, or None (javascript:, data:, garbage)."""
    raw = CONTROL.sub("", value) if isinstance(value, str) else ""
    if _BARE_HOST.match(raw):
        raw = f"{'https' if base.lower().startswith('https:') else 'http'}://{raw}"
    try:
        parts = urlsplit(urljoin(base, raw)) if raw else None
        host = parts.hostname if parts else None
    except ValueError:
        return None
    if parts is None or not host or parts.scheme.lower() not in ("http", "https"):
        return None
    netloc = parts.netloc.rpartition("@")[2].lower()  # no credentials in links we show
    path, query, fragment = (quote(p, safe=_URL_SAFE) for p in parts[2:5])
    return urlunsplit((parts.scheme.lower(), netloc, path or "/", query, fragment))


def _is_absolute_http(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def key_link(raw: Any, link: str | None) -> str | None:
    """The link as identity: absolute links as resolved, relative ones as written, so that
    keys never depend on the feed's own URL (a moved feed keeps its articles)."""
    text = CONTROL.sub("", raw) if isinstance(raw, str) else ""
    if link is None or not text:
        return None
    return link if urlsplit(text).scheme else f"relative:{text}"


def alternate_link(links: Any, base: str) -> str | None:
    """The first usable rel="alternate" href, for entries whose main link is not http(s)."""
    for candidate in links if isinstance(links, list) else []:
        if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
            link = absolute_link(candidate.get("href"), base)
            if link:
                return link
    return None
