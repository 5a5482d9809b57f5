"""What every handler needs: the reply language, replies, chat rows, and who may do what."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.domain import UserInputError
from bot.i18n import Translator, pick_language, translator
from bot.services import GROUP_ADMIN_TTL, BotContext
from bot.subscriptions import ChatRef

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
ANONYMOUS_ADMIN_BOT = 1087968824
log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


def chat_id_of(update: Update) -> int:
    chat = update.effective_chat
    if chat is None:
        raise UserInputError("no chat")
    return chat.id


def tr_for(update: Update, context: BotContext) -> Translator:
    """The chat's chosen language, else the sender's Telegram language."""
    chat = update.effective_chat
    chosen = context.services.languages.get(chat.id) if chat else None
    if chosen:
        return translator(chosen)
    user = update.effective_user
    return translator(pick_language(user.language_code if user else None))


async def reply(
    update: Update, texts: Sequence[str], markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Send HTML replies; the keyboard goes on the last one."""
    message = update.effective_message
    if message is None:
        return None
    sent = None
    for i, text in enumerate(texts):
        last = i == len(texts) - 1
        sent = await message.reply_html(
            text, disable_web_page_preview=True, reply_markup=markup if last else None
        )
    return sent


def is_bot_admin(update: Update, context: BotContext) -> bool:
    """A configured admin speaking as themselves (not a bot, not an anonymous group admin)."""
    user = update.effective_user
    message = update.effective_message
    if user is None or user.is_bot or user.id == ANONYMOUS_ADMIN_BOT:
        return False
    if message is not None and message.sender_chat is not None:
        return False
    return user.id in context.services.settings.telegram.admins


async def may_manage_chat(update: Update, context: BotContext) -> bool:
    """Anyone in a private chat; in a group, its administrators (asked from Telegram, cached)."""
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type not in GROUP_TYPES:
        return True
    message = update.effective_message
    if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # an anonymous administrator of this very group
    user = update.effective_user
    if user is None:
        return False
    cached = context.services.group_admins.get(chat.id)
    if cached is None or time.monotonic() - cached[0] > GROUP_ADMIN_TTL:
        try:
            admins = await context.bot.get_chat_administrators(chat.id)
        except TelegramError:
            return False
        cached = (time.monotonic(), frozenset(m.user.id for m in admins))
        context.services.group_admins[chat.id] = cached
    return user.id in cached[1]


def chat_managers_only(handler: Handler) -> Handler:
    """In groups, only administrators change the chat's subscriptions."""

    @wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        if not await may_manage_chat(update, context):
            tr = tr_for(update, context)
            await reply(update, [tr("⛔ In a group, only its administrators can change its alerts.")])
            return
        await handler(update, context)

    return guarded


def chat_ref(update: Update, context: BotContext) -> ChatRef:
    """The chat of an update, as the subscription service registers it."""
    chat = update.effective_chat
    if chat is None:
        raise UserInputError("no chat")
    return ChatRef(chat.id, chat.type, tr_for(update, context).lang)


def args_text(context: BotContext) -> str:
    return " ".join(context.args or []).strip()
