"""Escaping, budgets and splitting: the rules every message follows. Pure."""

from __future__ import annotations

import html
from collections.abc import Sequence
from urllib.parse import urlsplit

MAX_MESSAGE = 4096


def esc(text: str) -> str:
    """Escape plain text for Telegram HTML."""
    return html.escape(text, quote=True)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Cut plain text to at most `limit` characters, at a word boundary where possible."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def safe_link(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) link without credentials, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return url


def split_message(lines: Sequence[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join lines into as few messages as fit within `limit` (UTF-16 units), on line boundaries."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        n = utf16_len(line) + 1
        if current and size + n > limit:
            messages.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += n
    if current:
        messages.append("\n".join(current))
    return messages


def N_(message: str) -> str:
    """Marks a source string for the catalogs; it is translated where it is shown."""
    return message
