"""A request's parameters: typed access, the errors Telegram answers, the checks methods share."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.bot_api.html import HtmlParseError, _normalize_url, _trim, parse_html, utf16_len
from tests.fakes.bot_api.records import SentMessage, _Upload

MAX_CALLBACK_DATA = 64
BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip
_JSON_PARAMS = {
    "reply_markup", "allowed_updates", "link_preview_options", "commands", "scope",
    "reply_parameters", "entities", "caption_entities",
}  # fmt: skip


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def _bad(detail: str, parameters: dict[str, Any] | None = None) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}", parameters)


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


class ParamChecks:
    """FakeBotApi's checks of the parameters several methods share; the state is in its __init__."""

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

    def _commands_key(self, p: _Params) -> str:
        scope = p.json("scope", "BotCommandScope JSON object")
        if scope is not None and (not isinstance(scope, dict) or "type" not in scope):
            raise _bad("can't parse BotCommandScope JSON object")
        key = "default" if not scope or scope == {"type": "default"} else json.dumps(scope, sort_keys=True)
        language = p.text("language_code")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return f"{key}|{language}" if language else key
