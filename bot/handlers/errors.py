"""One error handler: a UserInputError becomes a reply; anything else is logged once."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Conflict

from bot.domain import NewsbotError
from bot.handlers.common import tr_for
from bot.render import esc
from bot.services import BotContext

logger = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Answer expected failures in the chat; log the rest without leaking them to users."""
    error = context.error
    if isinstance(error, Conflict):
        logger.error("another process is polling this bot token: %s", error)
        return
    if isinstance(error, NewsbotError) and isinstance(update, Update) and update.effective_message:
        await update.effective_message.reply_html(f"⚠️ {esc(str(error))}")
        return
    logger.error("unhandled error in update handler", exc_info=error)
    if isinstance(update, Update) and update.effective_message and not update.callback_query:
        tr = tr_for(update, context)
        await update.effective_message.reply_text(tr("Sorry, something went wrong. Please try again later."))
