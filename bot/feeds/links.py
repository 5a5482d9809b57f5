"""Article links: absolute http(s) URLs to show, and the link as written for identity."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

_URL_SAFE = "/%:@!$&'()*+,;=-._~?#"


CONTROL = re.compile(r"[\x00-\x20\x7f]+")


def absolute_link(value: Any, base: str) -> str | None:
    """Absolute http(s) link resolved against base, or None (javascript:, data:, garbage)."""
    raw = CONTROL.sub("", value) if isinstance(value, str) else ""
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
