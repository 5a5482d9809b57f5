"""Commands for everyone: /start, /help, /subscribe, /unsubscribe, /list, /feeds, /latest, /pause, /resume."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot import db, render
from bot.domain import UserInputError
from bot.matcher import parse_query
from bot.services import BotContext

MAX_LATEST = 20


def now() -> datetime:
    return datetime.now(UTC)


def is_admin(update: Update, context: BotContext) -> bool:
    """A configured admin speaking as themselves (not a bot, not an anonymous group admin)."""
    user = update.effective_user
    message = update.effective_message
    if user is None or user.is_bot or (message is not None and message.sender_chat is not None):
        return False
    return user.id in context.services.settings.telegram.admins


async def _reply(update: Update, texts: list[str]) -> None:
    message = update.effective_message
    assert message is not None
    for text in texts:
        await message.reply_html(text, disable_web_page_preview=True)


async def _reindex_chat(context: BotContext, session: AsyncSession, chat_id: int, active: bool) -> None:
    """Put a chat's subscriptions in the live index, or take them out."""
    index = context.services.index
    for sub in await db.list_subscriptions(session, chat_id):
        if active:
            index.add(sub.id, chat_id, sub.query)
        else:
            index.remove(sub.id)


async def start(update: Update, context: BotContext) -> None:
    """/start: register the chat (or wake it after a block) and show the help."""
    chat = update.effective_chat
    assert chat is not None
    user = update.effective_user
    async with context.services.store.write() as session:
        row = await db.upsert_chat(session, chat.id, chat.type, user.language_code if user else None, now())
        await _reindex_chat(context, session, chat.id, active=not row.paused)
    await _reply(update, [render.help_text(is_admin(update, context), welcome=True)])


async def help_(update: Update, context: BotContext) -> None:
    """/help: the command list and the query syntax."""
    await _reply(update, [render.help_text(is_admin(update, context))])


async def _ensure_chat(context: BotContext, session: AsyncSession, update: Update) -> db.Chat:
    chat = update.effective_chat
    assert chat is not None
    row = await db.get_chat(session, chat.id)
    if row is None:
        user = update.effective_user
        row = await db.upsert_chat(session, chat.id, chat.type, user.language_code if user else None, now())
    return row


async def subscribe(update: Update, context: BotContext) -> None:
    """/subscribe QUERY: add a keyword subscription for this chat."""
    text = " ".join(context.args or [])
    if not text.strip():
        raise UserInputError(
            'Usage: /subscribe QUERY — for example /subscribe nato or /subscribe "climate change"'
        )
    query = parse_query(text)
    limit = context.services.settings.limits.subscriptions_per_chat
    async with context.services.store.write() as session:
        chat = await _ensure_chat(context, session, update)
        if await db.count_subscriptions(session, chat.id) >= limit:
            raise UserInputError(f"This chat already has {limit} subscriptions, the most allowed.")
        sub, created = await db.add_subscription(session, chat.id, text.strip(), query.norm, now())
        if created and chat.active and not chat.paused:
            context.services.index.add(sub.id, chat.id, query)
    await _reply(update, [render.subscribed(sub.id, sub.query, created)])


async def unsubscribe(update: Update, context: BotContext) -> None:
    """/unsubscribe ID | QUERY | all: remove subscriptions of this chat."""
    text = " ".join(context.args or []).strip()
    if not text:
        raise UserInputError(
            "Usage: /unsubscribe ID, /unsubscribe QUERY or /unsubscribe all (see /list for ids)"
        )
    chat = update.effective_chat
    assert chat is not None
    async with context.services.store.write() as session:
        if text.lower() == "all":
            removed = await db.remove_subscriptions(session, chat.id)
        elif text.lstrip("#").isdigit() and len(text) < 12:
            removed = await db.remove_subscriptions(session, chat.id, sub_id=int(text.lstrip("#")))
        else:
            removed = await db.remove_subscriptions(session, chat.id, query_norm=parse_query(text).norm)
        for sub in removed:
            context.services.index.remove(sub.id)
    await _reply(update, [render.unsubscribed([(s.id, s.query) for s in removed], text)])


async def list_(update: Update, context: BotContext) -> None:
    """/list: this chat's subscriptions with their ids."""
    chat = update.effective_chat
    assert chat is not None
    async with context.services.store.read() as session:
        subs = await db.list_subscriptions(session, chat.id)
        row = await db.get_chat(session, chat.id)
    paused = bool(row and row.paused)
    await _reply(update, render.subscription_list([(s.id, s.query) for s in subs], paused=paused))


async def feeds(update: Update, context: BotContext) -> None:
    """/feeds: the feed sources; admins also see their health."""
    async with context.services.store.read() as session:
        rows = await db.list_feeds(session)
    await _reply(update, render.feed_list(rows, admin=is_admin(update, context)))


async def latest(update: Update, context: BotContext) -> None:
    """/latest [N]: the newest stored headlines."""
    args = context.args or []
    limit = 5
    if args:
        if not args[0].lstrip("-").isdigit():
            raise UserInputError(f"Usage: /latest [N] — N is a number from 1 to {MAX_LATEST}")
        limit = max(1, min(MAX_LATEST, int(args[0]))) if len(args[0]) < 6 else MAX_LATEST
    async with context.services.store.read() as session:
        rows = await db.latest_articles(session, limit)
    await _reply(update, render.headlines(rows, now()))


async def pause(update: Update, context: BotContext) -> None:
    """/pause: stop alerts for this chat."""
    await _set_paused(update, context, True)


async def resume(update: Update, context: BotContext) -> None:
    """/resume: restart alerts for this chat (nothing missed meanwhile is replayed)."""
    await _set_paused(update, context, False)


async def _set_paused(update: Update, context: BotContext, paused: bool) -> None:
    async with context.services.store.write() as session:
        chat = await _ensure_chat(context, session, update)
        await db.set_chat_paused(session, chat.id, paused)
        await _reindex_chat(context, session, chat.id, active=not paused and chat.active)
    await _reply(update, [render.paused_text(paused)])
