"""Commands for the configured admins: /addfeed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from telegram import Update

from bot import render
from bot.domain import UserInputError
from bot.handlers.user import _reply, is_admin
from bot.services import BotContext

logger = logging.getLogger(__name__)

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def admin_only(handler: Handler) -> Handler:
    """Refuse before any side effect unless the sender is a configured admin."""

    @wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        if not is_admin(update, context):
            user = update.effective_user
            logger.info("admin command refused user_id=%s", user.id if user else None)
            await _reply(update, ["⛔ This command is for the bot's admins."])
            return
        await handler(update, context)

    return guarded


@admin_only
async def addfeed(update: Update, context: BotContext) -> None:
    """/addfeed URL [NAME]: fetch the URL once, then add it as a feed."""
    args = context.args or []
    if not args:
        raise UserInputError("Usage: /addfeed URL [NAME]")
    url, name = args[0], " ".join(args[1:]).strip()[:200] or None
    feed, created, items = await context.services.require_poller().add_feed(url, name)
    await _reply(update, [render.feed_added(feed, created, items)])
