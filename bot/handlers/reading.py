"""Reader commands: /latest [N] [QUERY] and /search QUERY with paging buttons."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot import render, search
from bot.buttons import pager_keyboard
from bot.domain import UserInputError
from bot.handlers.common import args_text, chat_id_of, now, reply, tr_for
from bot.handlers.user import parse_user_query
from bot.i18n import Translator
from bot.matching import Query
from bot.services import BotContext

DEFAULT_LATEST = 5
MAX_LATEST = 20
PAGE_SIZE = 5


def parse_latest_args(args: list[str], tr: Translator) -> tuple[int, str]:
    """N (clamped to 1..20) and the optional query after it."""
    if args and args[0].lstrip("+-").isdigit():
        raw = args[0]
        number = int(raw) if len(raw) < 7 else (MAX_LATEST if not raw.startswith("-") else 0)
        if number < 1:
            raise UserInputError(
                tr("Usage: /latest [N] [QUERY] — N is a number from 1 to {max}", max=MAX_LATEST)
            )
        return min(number, MAX_LATEST), " ".join(args[1:]).strip()
    return DEFAULT_LATEST, " ".join(args).strip()


async def latest(update: Update, context: BotContext) -> None:
    """The newest stored headlines, optionally filtered by a query."""
    tr = tr_for(update, context)
    limit, text = parse_latest_args(list(context.args or []), tr)
    query = parse_user_query(text, tr) if text else None
    page = await search.find(context.services.store, query, limit=limit)
    title = tr("<b>Latest headlines</b>")
    await reply(update, render.split_message([render.headlines(tr, page.items, now(), title=title)]))


async def search_(update: Update, context: BotContext) -> None:
    """Stored articles matching QUERY, newest first, five to a page."""
    tr = tr_for(update, context)
    text = args_text(context)
    if not text:
        raise UserInputError(tr("Usage: /search QUERY — for example /search nato -summit"))
    query = parse_user_query(text, tr)
    chat_id = chat_id_of(update)
    key = context.services.searches.new(chat_id, text)
    session = context.services.searches.get(key, chat_id)
    assert session is not None
    body, keyboard = await search_page(context, tr, key, query, text, session[1], 0)
    await reply(update, [body], keyboard)


async def search_page(
    context: BotContext, tr: Translator, key: str, query: Query, text: str, cursors: list[int], page_no: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of results and its pager; `cursors[i]` is where page i starts (0 = newest)."""
    start = cursors[page_no]
    page = await search.find(context.services.store, query, limit=PAGE_SIZE, before=start or None)
    if page.older is not None and len(cursors) == page_no + 1:
        cursors.append(page.older)
    title = tr(
        "<b>Results for</b> {query} — page {n}", query=render.esc(render.clip(text, 100)), n=page_no + 1
    )
    body = render.headlines(tr, page.items, now(), title=title)
    older = page_no + 1 if page.older is not None else None
    newer = page_no - 1 if page_no > 0 else None
    return body, pager_keyboard(context.services.signer, tr, key, newer, older)
