"""Button presses: each is verified, checked against the presser's rights, and answered by an edit."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot import db, render
from bot.buttons import Press, list_keyboard
from bot.domain import FeedState
from bot.handlers.common import is_bot_admin, may_manage_chat, now, tr_for
from bot.handlers.reading import search_page
from bot.handlers.user import parse_user_query
from bot.services import BotContext

logger = logging.getLogger(__name__)


async def on_button(update: Update, context: BotContext) -> None:
    """Route a press; stale or forged buttons get a polite answer and change nothing."""
    query = update.callback_query
    if query is None:
        return
    tr = tr_for(update, context)
    press = context.services.signer.verify(query.data)
    message = query.message
    chat = update.effective_chat
    if press is None or chat is None or message is None:
        logger.info("button refused data=%r", (query.data or "")[:64])
        await query.answer(tr("This button is no longer valid."), show_alert=False)
        return
    if press.action in {"rf"}:
        allowed = is_bot_admin(update, context)
    elif press.action == "p":
        allowed = True
    else:
        allowed = await may_manage_chat(update, context)
    if not allowed:
        await query.answer(tr("Only administrators can do that here."))
        return
    text, markup, note = await _act(update, context, press, chat.id)
    try:
        if text is not None:
            await query.edit_message_text(
                text, parse_mode="HTML", reply_markup=markup, disable_web_page_preview=True
            )
        elif markup is not None:
            await query.edit_message_reply_markup(markup if markup.inline_keyboard else None)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
    # Answered last, once the message shows the result.
    await query.answer(note)


async def _act(
    update: Update, context: BotContext, press: Press, chat_id: int
) -> tuple[str | None, InlineKeyboardMarkup | None, str]:
    """Do what the press asks; return (new text or None to keep it, keyboard, short answer)."""
    tr = tr_for(update, context)
    services = context.services
    stale = (None, None, tr("This button is no longer valid."))
    if press.action == "x":
        return tr("Cancelled."), None, ""
    if press.action == "ua":
        removed = await services.subscriptions.unsubscribe(chat_id, now=now())
        return render.unsubscribed(tr, [(s.id, s.query) for s in removed], "all"), None, tr("Done.")
    if press.action in {"u", "r"}:
        [*removed] = await services.subscriptions.unsubscribe(chat_id, sub_id=press.int_arg(), now=now())
        if not removed:
            return stale
        if press.action == "r":
            async with services.store.read() as session:
                subs = await db.list_subscriptions(session, chat_id)
            rows = [(s.id, s.query, s.muted) for s in subs]
            keyboard = list_keyboard(services.signer, tr, [(s.id, s.query) for s in subs])
            return render.subscription_list(tr, rows, paused=False)[0], keyboard, tr("Removed.")
        note = tr("Unsubscribed from “{query}”.", query=render.clip(removed[0].query, 60))
        return None, _without_row_of(update, press), note
    if press.action in {"m", "um"}:
        muted = press.action == "m"
        sub = await services.subscriptions.set_muted(chat_id, press.int_arg(), muted, now=now())
        if sub is None:
            return stale
        note = (
            tr("Muted “{query}”. /list shows it.", query=render.clip(sub.query, 60))
            if muted
            else tr("Unmuted.")
        )
        label = render.clip(sub.query, 20)
        swap = InlineKeyboardButton(
            (tr("Unmute «{term}»", term=label) if muted else tr("Mute «{term}»", term=label))[:64],
            callback_data=services.signer.data("um" if muted else "m", sub.id),
        )
        return None, _with_button_swapped(update, press, swap), note
    if press.action == "rf":
        async with services.store.write() as session:
            feed = await db.get_feed(session, press.int_arg())
            if feed is None or feed.state == FeedState.REMOVED:
                return stale
            await db.remove_feed(session, feed.id)
        return (
            tr(
                "🗑 Removed feed #{id} <b>{name}</b>.",
                id=feed.id,
                name=render.esc(render.clip(feed.display_name, 100)),
            ),
            None,
            tr("Done."),
        )
    if press.action == "p":
        key, page_no = press.args[0], int(press.args[1])
        found = services.searches.get(key, chat_id)
        if found is None or page_no >= len(found[1]):
            return None, None, tr("This search has expired; please search again.")
        text, cursors = found
        body, keyboard = await search_page(
            context, tr, key, parse_user_query(text, tr), text, cursors, page_no
        )  # type: ignore[arg-type]
        return body, keyboard, ""
    return stale


def _pressed(update: Update, press: Press) -> str:
    return update.callback_query.data if update.callback_query and update.callback_query.data else ""


def _keyboard(update: Update) -> list[list[InlineKeyboardButton]]:
    message = update.effective_message
    markup = message.reply_markup if message is not None else None
    return [list(row) for row in markup.inline_keyboard] if markup else []


def _with_button_swapped(update: Update, press: Press, new: InlineKeyboardButton) -> InlineKeyboardMarkup:
    """The message's keyboard with the pressed button replaced."""
    data = _pressed(update, press)
    rows = [[new if b.callback_data == data else b for b in row] for row in _keyboard(update)]
    return InlineKeyboardMarkup(rows)


def _without_row_of(update: Update, press: Press) -> InlineKeyboardMarkup:
    """The message's keyboard without the row of the pressed button."""
    data = _pressed(update, press)
    return InlineKeyboardMarkup(
        [row for row in _keyboard(update) if all(b.callback_data != data for b in row)]
    )
