"""Subscriber commands: /subscribe, /unsubscribe, /list, /pause, /resume, /lang."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from bot import db, render, search
from bot.buttons import Action, confirm_keyboard, list_keyboard
from bot.domain import UserInputError
from bot.handlers.common import (
    args_text,
    chat_id_of,
    chat_managers_only,
    chat_ref,
    now,
    reply,
    tr_for,
)
from bot.i18n import LANGUAGES, Translator
from bot.matching import Query, parse_query
from bot.render import N_
from bot.services import BotContext
from bot.subscriptions import TooManySubscriptions

BACKTEST_DAYS = 7


def parse_user_query(text: str, tr: Translator) -> Query:
    """The matcher's parse, its error put in the user's language."""
    try:
        return parse_query(text)
    except UserInputError as exc:
        code = getattr(exc, "code", None)
        position = getattr(exc, "position", None)
        if code is not None and position is not None:
            raise UserInputError(
                tr(
                    "Query error at position {pos}: {problem}",
                    pos=position,
                    problem=tr(QUERY_PROBLEMS.get(code, str(exc))),
                )
            ) from None
        raise UserInputError(tr("Query error: {problem}", problem=str(exc))) from None


QUERY_PROBLEMS = {
    "empty": N_("the query is empty"),
    "too_long": N_("the query is longer than 200 characters"),
    "too_many_terms": N_("the query has more than 10 terms"),
    "too_deep": N_("parentheses are nested more than 3 deep"),
    "unclosed_quote": N_("a quote is not closed"),
    "unbalanced_paren": N_("parentheses do not match"),
    "only_negative": N_("the query needs at least one word to look for"),
    "prefix_too_short": N_("a prefix* needs at least 3 characters"),
    "dangling_operator": N_("OR needs a term on each side"),
    "unknown_field": N_("only title: is a known field"),
}


@chat_managers_only
async def subscribe(update: Update, context: BotContext) -> None:
    """Add a keyword subscription, with a backtest over the last week."""
    tr = tr_for(update, context)
    text = args_text(context)
    if not text:
        raise UserInputError(
            tr('Usage: /subscribe QUERY — for example /subscribe nato or /subscribe "climate change"')
        )
    query = parse_user_query(text, tr)
    limit = context.services.settings.limits.subscriptions_per_chat
    try:
        sub, created = await context.services.subscriptions.subscribe(
            chat_ref(update, context), text, query.norm, limit=limit, now=now()
        )
    except TooManySubscriptions:
        raise UserInputError(
            tr("This chat already has {n} subscriptions, the most allowed.", n=limit)
        ) from None
    since = now() - timedelta(days=BACKTEST_DAYS)
    matches = recent = None
    if created:
        matches = await search.count_matches(context.services.store, query, since=since)
        page = await search.find(context.services.store, query, limit=3, since=since)
        recent = page.items
    await reply(
        update,
        [
            render.subscribed(
                tr,
                sub.id,
                sub.query,
                created=created,
                matches_7d=matches or 0,
                recent=recent or [],
                now=now(),
            )
        ],
    )


@chat_managers_only
async def unsubscribe(update: Update, context: BotContext) -> None:
    """Remove a subscription by id or query; `all` asks first."""
    tr = tr_for(update, context)
    text = args_text(context)
    if not text:
        raise UserInputError(
            tr("Usage: /unsubscribe ID, /unsubscribe QUERY or /unsubscribe all (see /list for ids)")
        )
    chat_id = chat_id_of(update)
    if text.lower() == "all":
        keyboard = confirm_keyboard(context.services.signer, tr, Action.UNSUBSCRIBE_ALL)
        await reply(update, [tr("Remove all subscriptions of this chat?")], keyboard)
        return
    ref = text.lstrip("#")
    subscriptions = context.services.subscriptions
    if ref.isdigit() and len(ref) < 12:
        removed = await subscriptions.unsubscribe(chat_id, sub_id=int(ref), now=now())
    else:
        norm = parse_user_query(text, tr).norm
        removed = await subscriptions.unsubscribe(chat_id, query_norm=norm, now=now())
    await reply(update, [render.unsubscribed(tr, [(s.id, s.query) for s in removed], text)])


async def list_(update: Update, context: BotContext) -> None:
    """This chat's subscriptions with ids and remove buttons."""
    tr = tr_for(update, context)
    chat_id = chat_id_of(update)
    async with context.services.store.read() as session:
        subs = await db.list_subscriptions(session, chat_id)
        row = await db.get_chat(session, chat_id)
    rows = [(s.id, s.query, s.muted) for s in subs]
    keyboard = list_keyboard(context.services.signer, tr, [(s.id, s.query) for s in subs])
    await reply(update, render.subscription_list(tr, rows, paused=bool(row and row.paused)), keyboard)


@chat_managers_only
async def pause(update: Update, context: BotContext) -> None:
    """Stop alerts for this chat."""
    await _set_paused(update, context, True)


@chat_managers_only
async def resume(update: Update, context: BotContext) -> None:
    """Restart alerts for this chat; nothing missed meanwhile is replayed."""
    await _set_paused(update, context, False)


async def _set_paused(update: Update, context: BotContext, paused: bool) -> None:
    tr = tr_for(update, context)
    await context.services.subscriptions.set_paused(chat_ref(update, context), paused, now=now())
    await reply(update, [render.paused_text(tr, paused)])


@chat_managers_only
async def lang(update: Update, context: BotContext) -> None:
    """Choose the reply language: /lang en or /lang zh."""
    choice = args_text(context).lower()
    if choice not in LANGUAGES:
        tr = tr_for(update, context)
        raise UserInputError(tr("Usage: /lang en or /lang zh"))
    async with context.services.store.write() as session:
        ref = chat_ref(update, context)
        chat = await db.ensure_chat(session, ref.id, ref.type, ref.language, now())
        await db.set_chat_language(session, chat.id, choice)
    context.services.languages[chat.id] = choice
    tr = tr_for(update, context)
    await reply(update, [tr("Language set to English.")])
