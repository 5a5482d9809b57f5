"""The Bot API methods that send, edit and answer, keep the command menu, describe the bot and files."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from tests.fakes.bot_api.html import MAX_CAPTION, MAX_TEXT, utf16_len
from tests.fakes.bot_api.params import _bad, _Params
from tests.fakes.bot_api.records import SentMessage

MAX_CALLBACK_ANSWER = 200
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same"
    " as a current content and reply markup of the message"
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


class BotMethods:
    """FakeBotApi's methods for messages, callbacks, commands and files; the state is in its __init__."""

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

    async def _api_getme(self, p: _Params) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

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

    async def _api_close(self, p: _Params) -> Any:
        return True

    async def _api_logout(self, p: _Params) -> Any:
        return True
