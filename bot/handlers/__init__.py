"""Thin chat adapters; `register` lists every handler."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.handlers import admin, callbacks, errors
from bot.handlers.commands import COMMANDS
from bot.handlers.common import now, tr_for
from bot.services import BotContext

logger = logging.getLogger(__name__)


async def flood_guard(update: Update, context: BotContext) -> None:
    """Before every handler: a chat sending too many updates is told once to slow down, then ignored."""
    chat = update.effective_chat
    if chat is None:
        return
    verdict = context.services.flood.check(chat.id)
    if verdict == "ok":
        return
    if verdict == "warn" and update.effective_message is not None:
        logger.info("chat flooding chat_id=%s", chat.id)
        tr = tr_for(update, context)
        await update.effective_message.reply_text(tr("🐢 Too many commands. Please slow down."))
    raise ApplicationHandlerStop


async def chat_migrated(update: Update, context: BotContext) -> None:
    """A group became a supergroup: its subscriptions move to the new chat id."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    await context.services.subscriptions.migrate(message.chat_id, message.migrate_to_chat_id, now=now())
    logger.info("chat migrated old=%s new=%s", message.chat_id, message.migrate_to_chat_id)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler and the error handler to the application."""
    app.add_handler(TypeHandler(Update, flood_guard), group=-1)
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chat_migrated))
    # Only new messages: an edited "/subscribe a" must not run again as "/subscribe b".
    only_new = filters.UpdateType.MESSAGE
    for command in COMMANDS:
        app.add_handler(
            CommandHandler(command.name, command.handler, filters=only_new, block=command.blocking)
        )
    # Commands in a document's caption are not seen by CommandHandler.
    opml_upload = filters.Document.ALL & filters.CaptionRegex(r"^/import(@\w+)?(\s|$)") & only_new
    app.add_handler(MessageHandler(opml_upload, admin.import_))
    app.add_handler(CallbackQueryHandler(callbacks.on_button))
    app.add_error_handler(errors.on_error, block=False)
