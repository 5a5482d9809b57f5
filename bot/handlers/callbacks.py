"""Button presses: each is verified, checked against the presser's rights, and answered by an edit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum, auto

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot import db, render
from bot.buttons import Action, Press, list_keyboard
from bot.domain import FeedState
from bot.handlers.common import is_bot_admin, may_manage_chat, now, tr_for
from bot.handlers.reading import search_page
from bot.handlers.user import parse_user_query
from bot.services import BotContext

logger = logging.getLogger(__name__)


class Who(Enum):
    """Who may press a button."""

    ANYONE = auto()
    CHAT_MANAGER = auto()  # anyone in a private chat; a group's administrators
    BOT_ADMIN = auto()


@dataclass(frozen=True, slots=True)
class Edit:
    """What a press does to its message: new text (None keeps it), a keyboard, a short answer."""

    text: str | None = None
    markup: InlineKeyboardMarkup | None = None
    note: str = ""


Act = Callable[[Update, BotContext, Press, int], Awaitable[Edit | None]]  # None: the button is stale


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
    who, act = BUTTONS[press.action]
    if not await _may_press(update, context, who):
        await query.answer(tr("Only administrators can do that here."))
        return
    edit = await act(update, context, press, chat.id) or Edit(note=tr("This button is no longer valid."))
    try:
        if edit.text is not None:
            await query.edit_message_text(
                edit.text, parse_mode="HTML", reply_markup=edit.markup, disable_web_page_preview=True
            )
        elif edit.markup is not None:
            await query.edit_message_reply_markup(edit.markup if edit.markup.inline_keyboard else None)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
    # Answered last, once the message shows the result.
    await query.answer(edit.note)


async def _may_press(update: Update, context: BotContext, who: Who) -> bool:
    if who is Who.BOT_ADMIN:
        return is_bot_admin(update, context)
    if who is Who.CHAT_MANAGER:
        return await may_manage_chat(update, context)
    return True


async def _cancel(update: Update, context: BotContext, press: Press, chat_id: int) -> Edit:
    tr = tr_for(update, context)
    return Edit(tr("Cancelled."))


async def _unsubscribe_all(update: Update, context: BotContext, press: Press, chat_id: int) -> Edit:
    tr = tr_for(update, context)
    removed = await context.services.subscriptions.unsubscribe(chat_id, now=now())
    return Edit(render.unsubscribed(tr, [(s.id, s.query) for s in removed], "all"), note=tr("Done."))


async def _unsubscribe(update: Update, context: BotContext, press: Press, chat_id: int) -> Edit | None:
    """From an alert: the row of the pressed button goes."""
    tr = tr_for(update, context)
    removed = await context.services.subscriptions.unsubscribe(chat_id, sub_id=press.int_arg(), now=now())
    if not removed:
        return None
    note = tr("Unsubscribed from “{query}”.", query=render.clip(removed[0].query, 60))
    return Edit(markup=_without_row_of(update, press), note=note)


async def _remove(update: Update, context: BotContext, press: Press, chat_id: int) -> Edit | None:
    """From /list: the list is shown again without it."""
    tr = tr_for(update, context)
    services = context.services
    if not await services.subscriptions.unsubscribe(chat_id, sub_id=press.int_arg(), now=now()):
        return None
    async with services.store.read() as session:
        subs = await db.list_subscriptions(session, chat_id)
    rows = [(s.id, s.query, s.muted) for s in subs]
    keyboard = list_keyboard(services.signer, tr, [(s.id, s.query) for s in subs])
    return Edit(render.subscription_list(tr, rows, paused=False)[0], keyboard, tr("Removed."))


async def _mute(update: Update, context: BotContext, press: Press, chat_id: int) -> Edit | None:
    """Mute or unmute; the button turns into its opposite."""
    tr = tr_for(update, context)
    services = context.services
    muted = press.action is Action.MUTE
    sub = await services.subscriptions.set_muted(chat_id, press.int_arg(), muted, now=now())
    if sub is None:
        return None
    note = (
        tr("Muted “{query}”. /list shows it.", query=render.clip(sub.query, 60)) if muted else tr("Unmuted.")
    )
    label = render.clip(sub.query, 20)
    swap = InlineKeyboardButton(
        (tr("Unmute «{term}»", term=label) if muted else tr("Mute «{term}»", term=label))[:64],
        callback_data=services.signer.data(Action.UNMUTE if muted else Action.MUTE, sub.id),
    )
    return Edit(markup=_with_button_swapped(update, press, swap), note=note)


async def _remove_feed(update: Update, context: BotContext, press: Press, chat_id: int) -> Edit | None:
    tr = tr_for(update, context)
    async with context.services.store.write() as session:
        feed = await db.get_feed(session, press.int_arg())
        if feed is None or feed.state == FeedState.REMOVED:
            return None
        await db.remove_feed(session, feed.id)
    name = render.esc(render.clip(feed.display_name, 100))
    return Edit(tr("🗑 Removed feed #{id} <b>{name}</b>.", id=feed.id, name=name), note=tr("Done."))


async def _page(update: Update, context: BotContext, press: Press, chat_id: int) -> Edit:
    tr = tr_for(update, context)
    key, page_no = press.args[0], int(press.args[1])
    found = context.services.searches.get(key, chat_id)
    if found is None or page_no >= len(found[1]):
        return Edit(note=tr("This search has expired; please search again."))
    text, cursors = found
    body, keyboard = await search_page(context, tr, key, parse_user_query(text, tr), text, cursors, page_no)
    return Edit(body, keyboard)


BUTTONS: dict[Action, tuple[Who, Act]] = {
    Action.MUTE: (Who.CHAT_MANAGER, _mute),
    Action.UNMUTE: (Who.CHAT_MANAGER, _mute),
    Action.UNSUBSCRIBE: (Who.CHAT_MANAGER, _unsubscribe),
    Action.REMOVE: (Who.CHAT_MANAGER, _remove),
    Action.UNSUBSCRIBE_ALL: (Who.CHAT_MANAGER, _unsubscribe_all),
    Action.REMOVE_FEED: (Who.BOT_ADMIN, _remove_feed),
    Action.CANCEL: (Who.CHAT_MANAGER, _cancel),
    Action.PAGE: (Who.ANYONE, _page),
}


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
