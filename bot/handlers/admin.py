"""Commands for the configured admins: /addfeed, /removefeed, /stats, /export, /import; /feeds for all."""

from __future__ import annotations

import logging
from functools import wraps

from telegram import Update

from bot import catalog, db, render
from bot.buttons import Action, confirm_keyboard
from bot.domain import UserInputError
from bot.handlers.common import Handler, args_text, is_bot_admin, now, reply, tr_for
from bot.opml import MAX_OPML_BYTES
from bot.services import BotContext

logger = logging.getLogger(__name__)


def admin_only(handler: Handler) -> Handler:
    """Refuse before any side effect unless the sender is a configured admin."""

    @wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        if not is_bot_admin(update, context):
            user = update.effective_user
            logger.info("admin command refused user_id=%s", user.id if user else None)
            tr = tr_for(update, context)
            await reply(update, [tr("⛔ This command is for the bot's admins.")])
            return
        await handler(update, context)

    return guarded


@admin_only
async def addfeed(update: Update, context: BotContext) -> None:
    """Fetch the URL once, then add it as a feed; its current items are not alerted."""
    tr = tr_for(update, context)
    args = context.args or []
    if not args:
        raise UserInputError(tr("Usage: /addfeed URL [NAME]"))
    url, name = args[0], " ".join(args[1:]).strip()[:200] or None
    feed, created, items = await context.services.require_poller().add_feed(url, name)
    await reply(update, [render.feed_added(tr, feed, created, items)])


@admin_only
async def removefeed(update: Update, context: BotContext) -> None:
    """Ask to confirm removing a feed given by id or URL."""
    tr = tr_for(update, context)
    ref = args_text(context)
    if not ref:
        raise UserInputError(tr("Usage: /removefeed ID or /removefeed URL (see /feeds)"))
    async with context.services.store.read() as session:
        feed = await db.feed_by_id_or_url(session, ref)
    if feed is None:
        raise UserInputError(
            tr("No feed matches “{ref}”. See /feeds.", ref=render.esc(render.clip(ref, 100)))
        )
    keyboard = confirm_keyboard(context.services.signer, tr, Action.REMOVE_FEED, feed.id)
    await reply(
        update,
        [
            tr(
                "Remove feed #{id} <b>{name}</b>? Its alerts stop.",
                id=feed.id,
                name=render.esc(render.clip(feed.display_name, 100)),
            )
        ],
        keyboard,
    )


async def feeds(update: Update, context: BotContext) -> None:
    """The feed sources; admins also see each feed's health."""
    tr = tr_for(update, context)
    async with context.services.store.read() as session:
        rows = await db.list_feeds(session)
    await reply(update, render.feed_list(tr, rows, admin=is_bot_admin(update, context), now=now()))


@admin_only
async def stats(update: Update, context: BotContext) -> None:
    """Counts of chats, subscriptions, feeds, articles and alerts."""
    tr = tr_for(update, context)
    async with context.services.store.read() as session:
        numbers = await db.stats(session, now())
    await reply(update, [render.stats_text(tr, numbers)])


@admin_only
async def export(update: Update, context: BotContext) -> None:
    """Send the feed list as an OPML file, URLs whole: it is the admins' backup."""
    data = await catalog.export_opml(context.services.store, whole=True)
    message = update.effective_message
    assert message is not None
    tr = tr_for(update, context)
    await message.reply_document(data, filename="newsbot-feeds.opml", caption=tr("The feed list as OPML."))


@admin_only
async def import_(update: Update, context: BotContext) -> None:
    """Add the feeds of an OPML file sent with the caption /import (or replied to with /import)."""
    tr = tr_for(update, context)
    message = update.effective_message
    assert message is not None
    document = message.document or (message.reply_to_message.document if message.reply_to_message else None)
    if document is None:
        raise UserInputError(tr("Usage: send an OPML file with the caption /import"))
    if (document.file_size or 0) > MAX_OPML_BYTES:
        raise UserInputError(tr("That file is too large for a feed list."))
    file = await document.get_file()
    data = bytes(await file.download_as_bytearray())
    report = await catalog.import_opml(
        context.services.store,
        data,
        allow_private=context.services.settings.polling.allow_private_addresses,
        now=now(),
    )
    await reply(update, render.split_message(render.import_report(tr, report)))
