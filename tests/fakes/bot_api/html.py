"""Telegram's HTML parse mode as TDLib parses it, and text lengths in UTF-16 code units."""

from __future__ import annotations

import re
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
_SPACES = " \t\r\n\v\0"  # td::is_space; "\0" also stands for the end of the text
_TRIM = " \t\r\n"
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAGS = {
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
    "tg-emoji", "span", "pre", "code", "blockquote",
}  # fmt: skip
_SIMPLE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_PRIORITY = {  # TDLib's MessageEntity::get_type_priority, which orders entities sharing a span
    "blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "text_link": 49,
    "text_mention": 49, "bold": 90, "italic": 91, "underline": 92, "strikethrough": 93,
    "spoiler": 94, "custom_emoji": 99,
}  # fmt: skip


class HtmlParseError(ValueError):
    """Raised by :func:`parse_html`; the message is the detail after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The substring of ``text`` at a UTF-16 offset/length (as in a MessageEntity)."""
    raw = text.encode("utf-16-le", "surrogatepass")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le", "surrogatepass")


def _decode_entity(text: str, pos: int) -> tuple[str | None, int]:
    """TDLib's decode_html_entity: (character, position after it) or (None, pos)."""
    end, n, code = pos + 1, len(text), 0
    if end < n and text[end] == "#":
        end += 1
        digits, base = "0123456789", 10
        if end < n and text[end] == "x":
            digits, base = "0123456789abcdefABCDEF", 16
            end += 1
        while end < n and text[end] in digits and code < 0x110000:
            code = code * base + int(text[end], 16)
            end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None, pos
        char = chr(code)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        if (named := _NAMED_ENTITIES.get(text[pos + 1 : end])) is None:
            return None, pos
        char = named
    return char, end + 1 if end < n and text[end] == ";" else end


def _normalize_url(url: str) -> str | None:
    """Roughly TDLib's check_url: the URL Telegram stores for a text_link, or None."""
    if not url or any(c.isspace() for c in url):
        return None
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.lower().startswith("tg:"):
            return url
        scheme, rest = "http", url
    scheme = scheme.lower()
    if scheme not in {"http", "https", "ftp", "tg", "ton", "tonsite"}:
        return None
    if scheme == "tg":
        return f"tg://{rest}"
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    host, path = rest[:cut].lower(), rest[cut:]
    if not host or host.startswith(".") or not re.fullmatch(r"[\w.~%:@\[\]-]+", host):
        return None
    return f"{scheme}://{host}{path if path.startswith('/') else '/' + path}"


def parse_html(text: str, *, strict_ampersands: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-HTML into (plain text, entities) exactly like TDLib, or raise HtmlParseError.

    Entity offsets/lengths are UTF-16 code units; errors quote UTF-8 byte offsets. The text is
    not trimmed here (see :func:`_trim`). With ``strict_ampersands`` an ``&`` that does not
    start a supported entity is an error instead of a literal ``&``.
    """
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    def byte_offset(k: int) -> int:
        return len(text[:k].encode("utf-8", "surrogatepass"))

    def entity(pos: int) -> tuple[str | None, int]:
        char, end = _decode_entity(text, pos)
        if char is None and strict_ampersands:
            name_end = pos + 1
            while name_end < n and text[name_end].isascii() and text[name_end].isalnum():
                name_end += 1
            if name_end > pos + 1:
                name_end += text.startswith(";", name_end)
                raise HtmlParseError(
                    f'Unknown entity "{text[pos:name_end]}" at byte offset {byte_offset(pos)}'
                )
            raise HtmlParseError(f"Character entity expected at byte offset {byte_offset(pos)}")
        return char, end

    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, index into out
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            char, end = entity(i)
            if char is not None:
                out.append(char)
                u16 += 1 + (ord(char) > 0xFFFF)
                i = end
                continue
        if c != "<":
            out.append(c)
            u16 += 1 + (ord(c) > 0xFFFF)
            i += 1
            continue
        begin = i
        i += 1
        if at(i) != "/":  # a start tag
            while at(i) not in _SPACES and at(i) != ">":
                i += 1
            if i >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _TAGS:
                raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}')
            argument = ""
            while at(i) != ">":
                while i < n and at(i) in _SPACES:
                    i += 1
                if at(i) == ">":
                    break
                name_begin = i
                while at(i) not in _SPACES and at(i) not in "=>":
                    i += 1
                name = text[name_begin:i]
                if not name:
                    raise HtmlParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                while i < n and at(i) in _SPACES:
                    i += 1
                if at(i) != "=":  # an attribute without a value
                    if tag == "blockquote" and name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while i < n and at(i) in _SPACES:
                    i += 1
                if i >= n:
                    raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
                if at(i) not in "'\"":  # a name token: letters, digits, periods, hyphens
                    token_begin = i
                    while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if at(i) not in _SPACES and at(i) != ">":
                        raise HtmlParseError(
                            f"Unexpected end of name token at byte offset {byte_offset(token_begin)}"
                        )
                else:  # a quoted string, entity-decoded
                    quote, chars = text[i], []
                    i += 1
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            char, end = entity(i)
                            if char is not None:
                                chars.append(char)
                                i = end
                                continue
                        chars.append(text[i])
                        i += 1
                    if i < n:
                        i += 1  # the closing quote
                    value = "".join(chars)
                if i >= n:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
                if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[9:]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[3:]
                elif tag == "blockquote" and name == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
                )
            stack.append((tag, argument, u16, len(out)))
            i += 1
            continue
        # an end tag
        if not stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        while at(i) not in _SPACES and at(i) != ">":
            i += 1
        end_name = text[begin + 2 : i]
        while i < n and at(i) in _SPACES:
            i += 1
        if at(i) != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        i += 1
        tag, argument, start, out_index = stack.pop()
        if end_name and end_name != tag:  # TDLib compares the end tag case-sensitively
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {byte_offset(begin)},"
                f' expected "</{tag}>", found "</{end_name}>"'
            )
        if u16 > start:
            _close_entity(entities, tag, argument, start, u16 - start, "".join(out[out_index:]))
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    result = "".join(out)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in result):
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities,"
            " check for unmatched surrogate code units"
        )
    for ent in entities:  # a language survives only on pre
        if ent["type"] == "code":
            ent.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)))
    return result, entities


def _close_entity(
    entities: list[dict[str, Any]], tag: str, argument: str, offset: int, length: int, inner: str
) -> None:
    ent: dict[str, Any] = {"offset": offset, "length": length}
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if tag in _SIMPLE:
        ent["type"] = _SIMPLE[tag]
    elif tag == "blockquote":
        ent["type"] = "expandable_blockquote" if argument else "blockquote"
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        ent.update(type="custom_emoji", custom_emoji_id=argument)
    elif tag == "a":
        url = argument or inner
        if m := re.fullmatch(r"tg://user\?id=(\d+)", url):
            user = {"id": int(m[1]), "is_bot": False, "first_name": f"User {m[1]}"}
            ent.update(type="text_mention", user=user)
        elif (normalized := _normalize_url(url)) is not None:
            ent.update(type="text_link", url=normalized)
        else:
            return  # TDLib silently drops links it cannot use
    elif tag == "pre":
        if last and same_span and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
            return
        ent["type"] = "pre"
    else:  # code
        if last and same_span and last["type"] == "pre" and argument:
            last["language"] = argument
            return
        ent.update(type="code", language=argument) if argument else ent.update(type="code")
    entities.append(ent)


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like TDLib's fix_formatted_text and clip the entities to match.

    Leading whitespace goes only up to the first entity; trailing whitespace always goes.
    """
    first_entity = min((e["offset"] for e in entities), default=utf16_len(text))
    head = utf16_slice(text, 0, first_entity)
    left = utf16_len(head) - utf16_len(head.lstrip(_TRIM))
    result = utf16_slice(text, left, utf16_len(text)).rstrip(_TRIM)
    total, clipped = utf16_len(result), []
    for ent in entities:
        start = max(ent["offset"] - left, 0)
        end = min(ent["offset"] + ent["length"] - left, total)
        if end > start:
            clipped.append({**ent, "offset": start, "length": end - start})
    return result, clipped
