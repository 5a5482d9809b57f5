"""Chats, their members and administrators, and the bot's messages in them."""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakes.bot_api.params import _bad, _Params
from tests.fakes.bot_api.records import SentMessage


class Chats:
    """FakeBotApi's chats and the bot's messages; the state is in its __init__."""

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        """A message the bot sent, as it stands now (after any edits)."""
        return self._messages[(chat_id, message_id)]

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

    def set_chat_administrators(self, chat_id: int, user_ids: list[int]) -> None:
        """Administrators for getChatAdministrators/getChatMember; the first is the creator."""
        self._admins[chat_id] = list(user_ids)

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Accepted messages to one chat, in order."""
        return [m for m in self.sent if m.chat_id == chat_id]

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
