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

Modules: ``server`` (the state, routing and wire format, waiting), ``updates`` (the update
queue and getUpdates), ``chats`` (chats, members and the bot's messages), ``methods`` (sending,
editing, commands, files), ``params`` (the parameter checks the methods share), ``flood``
(rate limits, 429 windows, injected failures), ``html`` (TDLib's HTML parser and UTF-16
lengths), ``records`` (what the fake records).
"""

from __future__ import annotations

from tests.fakes.bot_api.html import HtmlParseError, parse_html, utf16_len
from tests.fakes.bot_api.records import Call, Rejection, SentMessage
from tests.fakes.bot_api.server import FakeBotApi

__all__ = ["Call", "FakeBotApi", "HtmlParseError", "Rejection", "SentMessage", "parse_html", "utf16_len"]
