"""The update queue: what a test adds (messages, button presses), and getUpdates that drains it."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.fakes.bot_api.html import utf16_len
from tests.fakes.bot_api.params import _ApiError, _Params
from tests.fakes.bot_api.records import _Upload

CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
UPDATE_TYPES = (
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
    "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query",
    "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
    "my_chat_member", "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
)  # fmt: skip
DEFAULT_ALLOWED = frozenset(UPDATE_TYPES) - {"chat_member", "message_reaction", "message_reaction_count"}
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@/<>])")
_ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
_CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}


class UpdateQueue:
    """FakeBotApi's incoming updates and getUpdates; the state is in its __init__."""

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
