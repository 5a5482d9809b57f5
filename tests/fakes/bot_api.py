"""A local stand-in for Telegram's Bot API server, strict enough to test the real PTB client.

Start a :class:`FakeBotApi`, point ``telegram.Bot``/``ApplicationBuilder`` at
``base_url=f"{fake.root}/bot"`` and drive it through the control surface
(``add_message``, ``block_chat``, ``fail_next``, ...). Everything the bot sends is
recorded in ``sent``/``edits``/``rejected``/``calls``.

Faithful to Telegram (the parts our bot relies on):

* Wire format: ``POST|GET /bot<token>/<method>`` (method name case-insensitive) with
  query, form-urlencoded, multipart or JSON parameters; nested values (reply_markup,
  allowed_updates, ...) may arrive as JSON strings. Replies are ``{"ok": true, "result": ...}``
  or ``{"ok": false, "error_code": N, "description": ..., "parameters": ...}``, so PTB maps them
  to ``BadRequest``/``Forbidden``/``InvalidToken``/``Conflict``/``ChatMigrated``/``RetryAfter``/
  ``NetworkError``. A wrong token gets 401 "Unauthorized" (404 "Not Found" if it is not even
  shaped like a token), an unknown method 404 "Not Found". 502/504 replies are nginx HTML
  pages, as Telegram's front end sends them.
* HTML parse mode follows TDLib's parser (td/telegram/MessageEntity.cpp): the same tag set,
  attribute syntax (quoted or name-token values, entity-decoded), nesting rules, error texts
  with UTF-8 byte offsets, entity offsets/lengths in UTF-16 code units, ``<pre><code
  class="language-x">`` merging, text trimmed of surrounding whitespace, empty entities dropped,
  bare-host link URLs normalized with a trailing "/".
* Unknown attributes and attributes without a value are ignored, as by TDLib; the newest
  ``<tg-time>`` tag is not supported (Telegram returns the same error as for unknown tags).
* Limits: 4096 UTF-16 units per text, 1024 per caption, 1-64 bytes callback_data, 200 chars of
  answerCallbackQuery text; "message text is empty" after parsing/trimming; "message is not
  modified" on identical edits; only inline keyboards are echoed back in a Message.
* getUpdates: ``offset`` confirms (forgets) older updates, negative offset keeps the last N,
  ``limit`` 1-100, long poll for ``timeout`` seconds woken by new updates, ``allowed_updates``
  persists between calls (default excludes chat_member/message_reaction[_count]), and a new
  getUpdates terminates the pending (older) one, which gets 409 "Conflict: terminated by other
  getUpdates request; ..." while the new one proceeds.
* Flood control (``rate_limits=True``): sliding windows per chat, per group per minute and
  global; 429 "Too Many Requests: retry after N" with ``parameters.retry_after``.

Deliberate deviations:

* Stricter than Telegram on ``&``: Telegram passes a bare ``&`` or an unknown entity such as
  ``&nbsp;`` through literally, although its docs say they must be escaped. Here they are
  rejected ("Character entity expected" / "Unknown entity") so unescaped feed text is caught.
  Set ``FakeBotApi.strict_ampersands = False`` to get TDLib's lenient behaviour.
* Only HTML parse mode: any other parse_mode (even MarkdownV2) gets 400 "unsupported parse_mode".
* Chats need no prior contact: any positive id is a private chat, any negative id a group
  (a supergroup when <= -10**12); ``set_missing_chat`` makes one unknown.
* A 429 always says ``retry_after`` seconds (Telegram computes it); callback queries never
  expire by time, only by being answered.
* Auto-detected entities (urls, mentions, ...) are not added to sent messages, except the
  bot_command entity of incoming messages built by ``add_message``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

__all__ = ["Call", "FakeBotApi", "HtmlParseError", "Rejection", "SentMessage", "parse_html", "utf16_len"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same"
    " as a current content and reply markup of the message"
)
UPDATE_TYPES = (
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
    "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query",
    "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
    "my_chat_member", "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
)  # fmt: skip
DEFAULT_ALLOWED = frozenset(UPDATE_TYPES) - {"chat_member", "message_reaction", "message_reaction_count"}
BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@/<>])")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
_CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
_NGINX_PAGE = (
    "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- records


@dataclass
class SentMessage:
    """A message the fake accepted (sendMessage/sendDocument), as the recipient sees it."""

    chat_id: int
    message_id: int
    text: str  # after HTML parsing and trimming; the caption for documents
    raw_text: str  # exactly as sent
    parse_mode: str | None
    entities: list[dict[str, Any]]  # formatting entities, offsets/lengths in UTF-16 units
    reply_markup: dict[str, Any] | None
    link_preview_options: dict[str, Any] | None
    disable_web_page_preview: bool | None
    date: int
    method: str = "sendMessage"
    filename: str | None = None  # sendDocument only
    file_bytes: bytes | None = None
    mime_type: str | None = None
    file_id: str | None = None
    edit_date: int | None = None

    @property
    def links(self) -> list[str]:
        """URLs of the text_link entities, in order."""
        return [e["url"] for e in self.entities if e["type"] == "text_link"]

    @property
    def bold(self) -> list[str]:
        """The substrings covered by bold entities, in order."""
        return [
            utf16_slice(self.text, e["offset"], e["length"]) for e in self.entities if e["type"] == "bold"
        ]


@dataclass
class Call:
    """One request as received (accepted or not); params are JSON-decoded where nested."""

    method: str
    params: dict[str, Any]
    time: float  # time.monotonic()


@dataclass
class Rejection:
    """A refused request and the error Telegram would have answered."""

    method: str
    status: int
    description: str
    params: dict[str, Any]
    parameters: dict[str, Any] | None = None


class HtmlParseError(ValueError):
    """Raised by :func:`parse_html`; the message is the detail after "can't parse entities: "."""


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def _bad(detail: str, parameters: dict[str, Any] | None = None) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}", parameters)


# --------------------------------------------------------------------------- HTML entities

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


# --------------------------------------------------------------------------- request params

_JSON_PARAMS = {
    "reply_markup", "allowed_updates", "link_preview_options", "commands", "scope",
    "reply_parameters", "entities", "caption_entities",
}  # fmt: skip


@dataclass
class _Upload:
    filename: str
    data: bytes
    mime_type: str


class _Params:
    """Typed access to a request's parameters; Telegram treats "" like a missing value."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, _Upload]) -> None:
        self.values, self.uploads = values, uploads

    def get(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value is None or value == "" else value

    def text(self, name: str) -> str | None:
        value = self.get(name)
        return None if value is None else str(value)

    def int(self, name: str, missing: str | None = None, invalid: str | None = None) -> int | None:
        value = self.get(name)
        if value is None:
            if missing:
                raise _bad(missing)
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(invalid or missing or f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        return self.get(name) in (True, 1, "true", "True", "1")

    def json(self, name: str, what: str) -> Any:
        value = self.get(name)
        if isinstance(value, str):  # it was not valid JSON
            raise _bad(f"can't parse {what}")
        return value


# --------------------------------------------------------------------------- the fake server

_Handler = Callable[[_Params], Awaitable[Any]]


class FakeBotApi:
    """Fake Telegram Bot API server (see the module docstring for what is faithful).

    Control surface: ``add_message``, ``add_callback_query``, ``add_update``, ``block_chat``,
    ``unblock_chat``, ``set_missing_chat``, ``migrate_chat``, ``fail_next``,
    ``set_chat_administrators``. Records: ``sent``, ``edits``, ``rejected``, ``calls``,
    ``commands`` (key: JSON of the scope or "default", plus ``"|<language_code>"`` when one was
    given), ``callback_answers``, ``violations``. Waiting: ``wait_for_sent``, ``wait_for_call``,
    ``wait_until_idle_polling`` (event driven, no sleeps).
    """

    strict_ampersands: bool = True  # False = TDLib's leniency for bare "&"/unknown entities

    def __init__(
        self,
        token: str = "123456:TEST-token_abc",
        *,
        bot_id: int = 123456,
        username: str = "newsbot_test_bot",
        rate_limits: bool = False,
        global_per_second: int = 30,
        per_chat_per_second: int = 1,
        group_per_minute: int = 20,
        retry_after: int = 1,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.rate_limits = rate_limits
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self.group_per_minute = group_per_minute
        self.retry_after = retry_after
        self.root = ""
        self.sent: list[SentMessage] = []
        self.edits: list[dict[str, Any]] = []
        self.rejected: list[Rejection] = []
        self.calls: list[Call] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.violations = 0
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self._closing = False
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._allowed = DEFAULT_ALLOWED
        self._poll_generation = 0
        self._chats: dict[int, dict[str, Any]] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], SentMessage] = {}  # bot messages, current state
        self._incoming: set[tuple[int, int]] = set()
        self._files: dict[str, _Upload] = {}
        self._blocked: set[int] = set()
        self._missing: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._admins: dict[int, list[int]] = {}
        self._failures: dict[str, deque[list[Any]]] = {}
        self._queries: dict[str, dict[str, Any]] = {}
        self._query_ids = itertools.count(4_200_000_000_000_000_001)
        self._sent_global: deque[float] = deque()
        self._sent_chat: dict[int, deque[float]] = {}
        self._sent_group_minute: dict[int, deque[float]] = {}
        self._flood_global_until = 0.0
        self._flood_chat_until: dict[int, float] = {}
        self._flood_global_opened = 0.0
        self._flood_chat_opened: dict[int, float] = {}
        self.violation_grace = 0.05  # seconds: requests already in flight when a 429 went out
        self._handlers: dict[str, tuple[str, _Handler]] = {
            name.lower(): (name, getattr(self, f"_api_{name.lower()}"))
            for name in (
                "getMe", "getUpdates", "deleteWebhook", "getWebhookInfo", "setMyCommands",
                "deleteMyCommands", "getMyCommands", "sendMessage", "editMessageText",
                "editMessageReplyMarkup", "answerCallbackQuery", "sendDocument", "getChat",
                "getChatMember", "getChatAdministrators", "getFile", "close", "logOut",
            )
        }  # fmt: skip

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port; ``root`` becomes ``http://127.0.0.1:PORT``."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.*}", self._download)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        # handler_cancellation: a long poll the client gave up on ends silently, as for Telegram
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.root = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._closing = True
        self._bump()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ control surface

    def add_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
        first_name: str = "Test",
        username: str | None = None,
        sender_chat_id: int | None = None,
        is_bot: bool = False,
        edited: bool = False,
        migrate_to_chat_id: int | None = None,
        document: dict[str, Any] | None = None,
        file_bytes: bytes | None = None,
    ) -> int:
        """Queue an incoming message update and return its update_id.

        ``document`` (file_name, mime_type) attaches a file whose content ``file_bytes`` the bot
        can fetch with getFile and a download from ``{root}/file/bot{token}/{file_path}``.

        ``user_id`` defaults to ``chat_id`` in private chats (1001 elsewhere). Text starting with
        a command gets a bot_command entity. ``edited`` files it under edited_message;
        ``migrate_to_chat_id`` makes it the service message of a group upgrade (and migrates
        the chat); ``document`` makes ``text`` its caption. Channels get a channel_post.
        """
        chat_type = self._check_chat_type(chat_id, chat_type)
        chat = self._register_chat(chat_id, chat_type, first_name=first_name, username=username)
        message_id = next(self._message_counter(chat_id))
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": chat}
        if chat_type == "channel":
            message["sender_chat"] = chat
        else:
            uid = user_id if user_id is not None else (chat_id if chat_type == "private" else 1001)
            message["from"] = {
                "id": uid,
                "is_bot": is_bot,
                "first_name": first_name,
                "language_code": language_code,
            }
            if username:
                message["from"]["username"] = username
        if sender_chat_id is not None:
            anonymous_admin = sender_chat_id == chat_id
            message["from"] = dict(_ANONYMOUS_ADMIN if anonymous_admin else _CHANNEL_BOT)
            message["sender_chat"] = self._register_chat(
                sender_chat_id, None if anonymous_admin else "channel"
            )
        if edited:
            message["edit_date"] = message["date"]
        key = "text"
        if document is not None:
            data = file_bytes or b""
            message["document"] = {
                "file_id": f"doc{message_id}",
                "file_unique_id": f"u{message_id}",
                "file_size": len(data),
                **document,
            }
            self._files[f"doc{message_id}"] = _Upload(
                str(document.get("file_name", "file")), data, str(document.get("mime_type", ""))
            )
            key = "caption"
        if migrate_to_chat_id is not None:
            message["migrate_to_chat_id"] = migrate_to_chat_id
        elif text:
            message[key] = text
            if m := _BOT_COMMAND.match(text):
                message[f"{key}_entities" if key == "caption" else "entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(m[0])}
                ]
        self._incoming.add((chat_id, message_id))
        if chat_type == "channel":
            kind = "edited_channel_post" if edited else "channel_post"
        else:
            kind = "edited_message" if edited else "message"
        update_id = self.add_update({kind: message})
        if migrate_to_chat_id is not None:
            self.migrate_chat(chat_id, migrate_to_chat_id)
            new_chat = self._register_chat(migrate_to_chat_id, "supergroup")
            service = {
                **message,
                "chat": new_chat,
                "message_id": next(self._message_counter(migrate_to_chat_id)),
            }
            del service["migrate_to_chat_id"]
            self.add_update({"message": {**service, "migrate_from_chat_id": chat_id}})
        return update_id

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        """A message the bot sent, as it stands now (after any edits)."""
        return self._messages[(chat_id, message_id)]

    def add_callback_query(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
    ) -> int:
        """Queue a press of an inline button on the bot's message (chat_id, message_id)."""
        sent = self._messages.get((chat_id, message_id))
        if sent is None:
            raise ValueError(f"the bot sent no message {message_id} to chat {chat_id}")
        self._register_chat(chat_id, self._check_chat_type(chat_id, chat_type))
        uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
        query_id = str(next(self._query_ids))
        self._queries[query_id] = {"chat_id": chat_id, "answered": False}
        query = {
            "id": query_id,
            "from": {"id": uid, "is_bot": False, "first_name": "Test", "language_code": language_code},
            "message": self._message_json(sent),
            "chat_instance": str(abs(chat_id) * 7919 + 13),
            "data": data,
        }
        return self.add_update({"callback_query": query})

    def add_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (its update_id is assigned here) and return the update_id."""
        update_id = next(self._update_ids)
        self._updates.append({**update, "update_id": update_id})
        self._bump()
        return update_id

    def block_chat(self, chat_id: int) -> None:
        """Sends/edits to the chat now get 403 (blocked by the user / kicked from the group)."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Undo :meth:`block_chat`."""
        self._blocked.discard(chat_id)

    def set_missing_chat(self, chat_id: int) -> None:
        """Every method addressing the chat now gets 400 "Bad Request: chat not found"."""
        self._missing.add(chat_id)

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """The group was upgraded: requests for ``old_id`` get 400 with migrate_to_chat_id."""
        self._migrated[old_id] = new_id
        self._register_chat(new_id, "supergroup")

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        times: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error (queued in order)."""
        self._failures.setdefault(method.lower(), deque()).append([status, description, parameters, times])

    def set_chat_administrators(self, chat_id: int, user_ids: list[int]) -> None:
        """Administrators for getChatAdministrators/getChatMember; the first is the creator."""
        self._admins[chat_id] = list(user_ids)

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Accepted messages to one chat, in order."""
        return [m for m in self.sent if m.chat_id == chat_id]

    # ------------------------------------------------------------------ waiting

    async def wait_for_sent(
        self, count: int, *, chat_id: int | None = None, timeout: float = 10.0
    ) -> list[SentMessage]:
        """Wait until ``count`` messages (to ``chat_id``, if given) were accepted; return all such."""

        def matching() -> list[SentMessage]:
            return list(self.sent) if chat_id is None else self.messages_to(chat_id)

        if not await self._wait(lambda: len(matching()) >= count, timeout):
            where = "" if chat_id is None else f" to chat {chat_id}"
            shown = [(m.chat_id, m.text[:80]) for m in self.sent]
            refused = [(r.method, r.params.get("chat_id"), r.description) for r in self.rejected]
            raise AssertionError(
                f"expected {count} sent message(s){where} within {timeout}s, got {len(matching())}."
                f" Sent: {shown}. Rejected: {refused}"
            )
        return matching()

    async def wait_for_call(self, method: str, *, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until ``method`` was called ``count`` times (accepted or not); return those calls."""

        def matching() -> list[Call]:
            return [c for c in self.calls if c.method.lower() == method.lower()]

        if not await self._wait(lambda: len(matching()) >= count, timeout):
            raise AssertionError(
                f"expected {count} {method} call(s) within {timeout}s, got {len(matching())};"
                f" calls: {[c.method for c in self.calls]}"
            )
        return matching()

    async def wait_until_idle_polling(self, timeout: float = 10.0) -> None:
        """Wait until getUpdates has confirmed (offset passed) every queued update.

        The handlers of the last updates may still be running when this returns.
        """
        if not await self._wait(lambda: not self._updates, timeout):
            raise AssertionError(
                f"{len(self._updates)} update(s) still unconfirmed after {timeout}s: "
                f"{[u['update_id'] for u in self._updates]}"
            )

    def _bump(self) -> None:
        """Wake every waiter; they re-check their condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return predicate()
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    # ------------------------------------------------------------------ HTTP plumbing

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._error_response(404, "Not Found")

    async def _handle(self, request: web.Request) -> web.Response:
        values, uploads = await self._read_params(request)
        name = request.match_info["method"]
        canonical, handler = self._handlers.get(name.lower(), (name, None))
        self.calls.append(Call(canonical, values, time.monotonic()))
        try:
            token = request.match_info["token"]
            if token != self.token:
                raise (
                    _ApiError(401, "Unauthorized")
                    if _TOKEN_SHAPE.fullmatch(token)
                    else _ApiError(404, "Not Found")
                )
            if handler is None:
                raise _ApiError(404, "Not Found")
            self._injected_failure(canonical, values)
            result = await handler(_Params(values, uploads))
        except _ApiError as err:
            abandoned = err.status == 409 and (request.transport is None or request.transport.is_closing())
            if not abandoned:  # a long poll its client already gave up on is nobody's error
                self.rejected.append(
                    Rejection(canonical, err.status, err.description, values, err.parameters)
                )
            self._bump()
            return self._error_response(err.status, err.description, err.parameters)
        self._bump()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error_response(
        status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> web.Response:
        if status in (502, 504):  # these come from Telegram's nginx, not from the Bot API
            title = f"{status} {'Bad Gateway' if status == 502 else 'Gateway Time-out'}"
            return web.Response(status=status, text=_NGINX_PAGE.format(title=title), content_type="text/html")
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, _Upload]]:
        values: dict[str, Any] = dict(request.query)
        uploads: dict[str, _Upload] = {}
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = None
            values.update(body if isinstance(body, dict) else {})
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    uploads[key] = _Upload(value.filename, data, value.content_type)
                    values[key] = f"<file {value.filename!r}, {len(data)} bytes>"
                else:
                    values[key] = value
        for key in _JSON_PARAMS & values.keys():
            if isinstance(values[key], str) and values[key]:
                with contextlib.suppress(ValueError):  # else _Params.json reports it
                    values[key] = json.loads(values[key])
        return values, uploads

    def _injected_failure(self, method: str, values: dict[str, Any]) -> None:
        queue = self._failures.get(method.lower())
        if not queue:
            return
        failure = queue[0]
        status, description, parameters, _ = failure
        failure[3] -= 1
        if failure[3] <= 0:
            queue.popleft()
        if parameters and parameters.get("retry_after"):  # the client was told about a window
            until = time.monotonic() + parameters["retry_after"]
            try:
                self._flood_chat_until[int(values["chat_id"])] = until
            except (KeyError, TypeError, ValueError):
                self._flood_global_until = until
        raise _ApiError(status, description, parameters)

    # ------------------------------------------------------------------ chats and messages

    def _register_chat(
        self,
        chat_id: int,
        chat_type: str | None = None,
        *,
        first_name: str = "Test",
        username: str | None = None,
    ) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is None or (chat_type and chat["type"] != chat_type):
            if chat_type is None:
                chat_type = "private" if chat_id > 0 else ("supergroup" if chat_id <= -(10**12) else "group")
            if chat_type == "private":
                chat = {"id": chat_id, "type": "private", "first_name": first_name}
                if username:
                    chat["username"] = username
            else:
                chat = {"id": chat_id, "type": chat_type, "title": f"{chat_type.title()} {chat_id}"}
            self._chats[chat_id] = chat
        return chat

    @staticmethod
    def _check_chat_type(chat_id: int, chat_type: str) -> str:
        """Group ids are negative: the default "private" for a negative id means group/supergroup."""
        if chat_id < 0 and chat_type == "private":
            return "supergroup" if chat_id <= -(10**12) else "group"
        if chat_id > 0 and chat_type != "private":
            raise ValueError(f"{chat_type} chats have negative ids, got {chat_id}")
        return chat_type

    def _message_counter(self, chat_id: int) -> itertools.count[int]:
        return self._message_ids.setdefault(chat_id, itertools.count(1))

    def _chat_id(self, p: _Params, *, flood: bool = False, blocked: bool = False) -> int:
        """The addressed chat, after Telegram's checks (empty, flood window, not found, migrated, blocked)."""
        raw = p.get("chat_id")
        if raw is None:
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None  # e.g. "@channel" usernames: we have none
        if flood:
            self._check_flood_window(chat_id)
        if chat_id in self._missing or chat_id == 0:
            raise _bad("chat not found")
        if chat_id in self._migrated:
            raise _bad(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        if blocked and chat_id in self._blocked:
            if chat_id > 0:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            kind = self._register_chat(chat_id)["type"]
            raise _ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        self._register_chat(chat_id)
        return chat_id

    def _formatted(
        self, p: _Params, name: str, limit: int, *, required: bool
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """(raw, visible text, entities) of ``text``/``caption`` after parse_mode and checks."""
        raw = p.text(name) or ""
        parse_mode = (p.text("parse_mode") or "").lower()
        entities: list[dict[str, Any]] = []
        if parse_mode == "html":
            try:
                visible, entities = parse_html(raw, strict_ampersands=self.strict_ampersands)
            except HtmlParseError as err:
                raise _bad(f"can't parse entities: {err}") from None
        elif parse_mode:
            raise _bad("unsupported parse_mode")
        else:
            visible = raw
            explicit = p.json(
                "entities" if name == "text" else "caption_entities", "message entities JSON object"
            )
            entities = [dict(e) for e in explicit or [] if isinstance(e, dict)]
        visible, entities = _trim(visible, entities)
        what = "message text" if name == "text" else "message caption"
        if required and not visible:
            raise _bad(f"{what} is empty")
        if utf16_len(visible) > limit:
            raise _bad(f"{'message' if name == 'text' else what} is too long")
        return raw, visible, entities

    def _reply_markup(self, p: _Params) -> dict[str, Any] | None:
        markup = p.json("reply_markup", "reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
                raise _bad("can't parse reply keyboard markup JSON object")
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
            if not any(action in button for action in BUTTON_ACTIONS):
                raise _bad(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if "callback_data" in button and not (
                isinstance(data, str) and 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
            ):
                raise _bad("BUTTON_DATA_INVALID")
            if "url" in button and _normalize_url(str(button["url"])) is None:
                raise _bad("BUTTON_URL_INVALID")
        return markup

    def _check_reply_target(self, p: _Params, chat_id: int) -> None:
        reply = p.json("reply_parameters", "reply parameters JSON object") or {}
        target = reply.get("message_id") if isinstance(reply, dict) else None
        target = target or p.int("reply_to_message_id")
        allow = reply.get("allow_sending_without_reply") if isinstance(reply, dict) else None
        known = (chat_id, int(target or 0)) in self._messages.keys() | self._incoming
        if target and not known and not (allow or p.flag("allow_sending_without_reply")):
            raise _bad("message to be replied not found")

    def _check_flood_window(self, chat_id: int) -> None:
        now = time.monotonic()
        until = max(self._flood_global_until, self._flood_chat_until.get(chat_id, 0.0))
        if now < until:
            # A request that arrives right after a 429 was already on the wire when the client
            # heard of the window; only later ones are the client's fault.
            opened = max(self._flood_global_opened, self._flood_chat_opened.get(chat_id, 0.0))
            if now - opened > self.violation_grace:
                self.violations += 1
            wait = max(1, math.ceil(until - now))
            raise _ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def _consume_rate(self, chat_id: int) -> None:
        """Count one send against the flood limits, or answer 429 and open a window."""
        if not self.rate_limits:
            return
        now = time.monotonic()
        windows: list[tuple[deque[float], float, int, int | None]] = [
            (self._sent_global, 1.0, self.global_per_second, None)
        ]
        windows.append((self._sent_chat.setdefault(chat_id, deque()), 1.0, self.per_chat_per_second, chat_id))
        if chat_id < 0:
            minute = self._sent_group_minute.setdefault(chat_id, deque())
            windows.append((minute, 60.0, self.group_per_minute, chat_id))
        for stamps, span, limit, scope in windows:
            while stamps and stamps[0] <= now - span:
                stamps.popleft()
            if len(stamps) >= limit:
                until = now + self.retry_after
                if scope is None:
                    self._flood_global_until = until
                    self._flood_global_opened = now
                else:
                    self._flood_chat_until[scope] = until
                    self._flood_chat_opened[scope] = now
                raise _ApiError(
                    429,
                    f"Too Many Requests: retry after {self.retry_after}",
                    {"retry_after": self.retry_after},
                )
        for stamps, *_ in windows:
            stamps.append(now)

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Newsbot Test", "username": self.username}

    def _message_json(self, m: SentMessage) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": m.message_id,
            "from": self._bot_user(),
            "chat": self._register_chat(m.chat_id),
            "date": m.date,
        }
        if m.edit_date is not None:
            message["edit_date"] = m.edit_date
        if m.method == "sendDocument":
            message["document"] = {
                "file_id": m.file_id,
                "file_unique_id": f"AgADAAI{(m.file_id or '')[-5:]}",
                "file_name": m.filename,
                "mime_type": m.mime_type,
                "file_size": len(m.file_bytes or b""),
            }
            if m.text:
                message["caption"] = m.text
            if m.entities:
                message["caption_entities"] = m.entities
        else:
            message["text"] = m.text
            if m.entities:
                message["entities"] = m.entities
            if m.link_preview_options:
                message["link_preview_options"] = m.link_preview_options
        if m.reply_markup and "inline_keyboard" in m.reply_markup:
            message["reply_markup"] = {"inline_keyboard": m.reply_markup["inline_keyboard"]}
        return message

    def _accept(self, message: SentMessage) -> dict[str, Any]:
        self.sent.append(message)
        self._messages[(message.chat_id, message.message_id)] = message
        return self._message_json(message)

    def _message_to_edit(self, p: _Params, chat_id: int) -> SentMessage:
        if p.get("inline_message_id") is not None:
            raise _bad("MESSAGE_ID_INVALID")  # the bot has no inline mode
        message_id = p.int("message_id", "message identifier is not specified", "message to edit not found")
        assert message_id is not None
        if (chat_id, message_id) in self._incoming:
            raise _bad("message can't be edited")
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise _bad("message to edit not found")
        return message

    # ------------------------------------------------------------------ Bot API methods

    async def _api_getfile(self, p: _Params) -> Any:
        file_id = p.text("file_id") or ""
        upload = self._files.get(file_id)
        if upload is None:
            raise _bad("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id[-6:]}",
            "file_size": len(upload.data),
            "file_path": f"documents/{file_id}",
        }

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """The file download endpoint ({root}/file/bot{token}/{file_path})."""
        upload = self._files.get(request.match_info["path"].rsplit("/", 1)[-1])
        if request.match_info["token"] != self.token or upload is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=upload.data, content_type="application/octet-stream")

    async def _api_getme(self, p: _Params) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_getupdates(self, p: _Params) -> Any:
        offset = p.int("offset") or 0
        limit = p.int("limit") or 100
        limit = limit if 1 <= limit <= 100 else 100
        timeout = max(p.int("timeout") or 0, 0)
        allowed = p.json("allowed_updates", "allowed updates JSON array")
        if isinstance(allowed, list):
            self._allowed = frozenset(allowed) if allowed else DEFAULT_ALLOWED
        self._poll_generation += 1
        generation = self._poll_generation
        self._bump()  # terminates a pending poll
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

        def deliverable() -> list[dict[str, Any]]:
            self._updates = [u for u in self._updates if self._allowed & u.keys()]
            return self._updates[:limit]

        def answer_now() -> bool:
            return bool(deliverable()) or generation != self._poll_generation

        await self._wait(answer_now, timeout)
        if generation != self._poll_generation:
            raise _ApiError(409, CONFLICT)
        return deliverable()

    async def _api_deletewebhook(self, p: _Params) -> Any:
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_getwebhookinfo(self, p: _Params) -> Any:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _commands_key(self, p: _Params) -> str:
        scope = p.json("scope", "BotCommandScope JSON object")
        if scope is not None and (not isinstance(scope, dict) or "type" not in scope):
            raise _bad("can't parse BotCommandScope JSON object")
        key = "default" if not scope or scope == {"type": "default"} else json.dumps(scope, sort_keys=True)
        language = p.text("language_code")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return f"{key}|{language}" if language else key

    async def _api_setmycommands(self, p: _Params) -> Any:
        commands = p.json("commands", "commands JSON object")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name, description = str(command.get("command", "")), str(command.get("description", "")).strip()
            if not _COMMAND_NAME.fullmatch(name.removeprefix("/")):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name.removeprefix("/"), "description": description})
        key = self._commands_key(p)
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    async def _api_deletemycommands(self, p: _Params) -> Any:
        self.commands.pop(self._commands_key(p), None)
        return True

    async def _api_getmycommands(self, p: _Params) -> Any:
        return self.commands.get(self._commands_key(p), [])

    async def _api_sendmessage(self, p: _Params) -> Any:
        chat_id = self._chat_id(p, flood=True, blocked=True)
        raw, text, entities = self._formatted(p, "text", MAX_TEXT, required=True)
        markup = self._reply_markup(p)
        preview = p.json("link_preview_options", "link preview options JSON object")
        self._check_reply_target(p, chat_id)
        self._consume_rate(chat_id)
        message = SentMessage(
            chat_id=chat_id,
            message_id=next(self._message_counter(chat_id)),
            text=text,
            raw_text=raw,
            parse_mode=p.text("parse_mode"),
            entities=entities,
            reply_markup=markup,
            link_preview_options=preview,
            disable_web_page_preview=None
            if p.get("disable_web_page_preview") is None
            else p.flag("disable_web_page_preview"),
            date=int(time.time()),
        )
        return self._accept(message)

    async def _api_senddocument(self, p: _Params) -> Any:
        chat_id = self._chat_id(p, flood=True, blocked=True)
        document = p.get("document")
        if document is None and "document" not in p.uploads:
            raise _bad("there is no document in the request")
        upload = p.uploads.get("document")
        if upload is None and isinstance(document, str):
            if document.startswith("attach://"):
                upload = p.uploads.get(document.removeprefix("attach://"))
            else:
                upload = self._files.get(document)
        if upload is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if not upload.data:
            raise _bad("file must be non-empty")
        raw, caption, entities = self._formatted(p, "caption", MAX_CAPTION, required=False)
        markup = self._reply_markup(p)
        self._check_reply_target(p, chat_id)
        self._consume_rate(chat_id)
        file_id = f"BQACAgIAAxkBAAI{len(self._files):05d}"
        self._files[file_id] = upload
        message = SentMessage(
            chat_id=chat_id,
            message_id=next(self._message_counter(chat_id)),
            text=caption,
            raw_text=raw,
            parse_mode=p.text("parse_mode"),
            entities=entities,
            reply_markup=markup,
            link_preview_options=None,
            disable_web_page_preview=None,
            date=int(time.time()),
            method="sendDocument",
            filename=upload.filename,
            file_bytes=upload.data,
            mime_type=upload.mime_type,
            file_id=file_id,
        )
        return self._accept(message)

    async def _api_editmessagetext(self, p: _Params) -> Any:
        chat_id = self._chat_id(p, flood=True, blocked=True)
        current = self._message_to_edit(p, chat_id)
        if current.method != "sendMessage":
            raise _bad("there is no text in the message to edit")
        raw, text, entities = self._formatted(p, "text", MAX_TEXT, required=True)
        markup = self._reply_markup(p)
        if (text, entities, markup) == (current.text, current.entities, current.reply_markup):
            raise _bad(NOT_MODIFIED)
        self._consume_rate(chat_id)
        preview = p.json("link_preview_options", "link preview options JSON object")
        edited = replace(
            current,
            text=text,
            raw_text=raw,
            parse_mode=p.text("parse_mode"),
            entities=entities,
            reply_markup=markup,
            link_preview_options=preview,
            edit_date=int(time.time()),
        )
        self._messages[(chat_id, current.message_id)] = edited
        self.edits.append({"method": "editMessageText", **p.values})
        return self._message_json(edited)

    async def _api_editmessagereplymarkup(self, p: _Params) -> Any:
        chat_id = self._chat_id(p, blocked=True)
        current = self._message_to_edit(p, chat_id)
        markup = self._reply_markup(p)
        if markup == current.reply_markup or (not markup and not current.reply_markup):
            raise _bad(NOT_MODIFIED)
        edited = replace(current, reply_markup=markup, edit_date=int(time.time()))
        self._messages[(chat_id, current.message_id)] = edited
        self.edits.append({"method": "editMessageReplyMarkup", **p.values})
        return self._message_json(edited)

    async def _api_answercallbackquery(self, p: _Params) -> Any:
        query = self._queries.get(p.text("callback_query_id") or "")
        if query is None or query["answered"]:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if utf16_len(p.text("text") or "") > MAX_CALLBACK_ANSWER:
            raise _bad("MESSAGE_TOO_LONG")
        query["answered"] = True
        self.callback_answers.append(dict(p.values))
        return True

    async def _api_getchat(self, p: _Params) -> Any:
        chat = self._register_chat(self._chat_id(p))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        user = {"id": user_id, "is_bot": user_id == self.bot_id, "first_name": f"User {user_id}"}
        admins = self._admins.get(chat_id, [])
        if admins and user_id == admins[0]:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in admins:
            rights = (
                "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
                "can_post_stories", "can_edit_stories", "can_delete_stories", "can_pin_messages",
            )  # fmt: skip
            return {"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": False,
                    **dict.fromkeys(rights, True)}  # fmt: skip
        return {"status": "member", "user": user}

    async def _api_getchatmember(self, p: _Params) -> Any:
        chat_id = self._chat_id(p)
        user_id = p.int("user_id", "invalid user_id specified", "invalid user_id specified")
        assert user_id is not None
        return self._member(chat_id, user_id)

    async def _api_getchatadministrators(self, p: _Params) -> Any:
        chat_id = self._chat_id(p)
        if chat_id > 0:
            raise _bad("there are no administrators in the private chat")
        return [self._member(chat_id, user_id) for user_id in self._admins.get(chat_id, [])]

    async def _api_close(self, p: _Params) -> Any:
        return True

    async def _api_logout(self, p: _Params) -> Any:
        return True
