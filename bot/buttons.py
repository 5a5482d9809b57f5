"""Inline buttons: signed callback data that fits Telegram's 64 bytes and is checked on return."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator

MAX_DATA = 64


class Action(StrEnum):
    """What a button does; the value is the short code its callback data carries."""

    MUTE = "m"  # a subscription: sub id
    UNMUTE = "um"  # sub id
    UNSUBSCRIBE = "u"  # from an alert: sub id
    REMOVE = "r"  # from /list: sub id
    UNSUBSCRIBE_ALL = "ua"  # confirm /unsubscribe all
    REMOVE_FEED = "rf"  # confirm /removefeed: feed id
    CANCEL = "x"  # a confirmation
    PAGE = "p"  # of a search: search key, page number

    @property
    def arity(self) -> int:
        """How many arguments its callback data carries."""
        return ARITY[self]


ARITY = {
    Action.MUTE: 1,
    Action.UNMUTE: 1,
    Action.UNSUBSCRIBE: 1,
    Action.REMOVE: 1,
    Action.UNSUBSCRIBE_ALL: 0,
    Action.REMOVE_FEED: 1,
    Action.CANCEL: 0,
    Action.PAGE: 2,
}
_BY_CODE = {a.value: a for a in Action}


@dataclass(frozen=True, slots=True)
class Press:
    """A verified button press."""

    action: Action
    args: tuple[str, ...]

    def int_arg(self, i: int = 0) -> int:
        return int(self.args[i])


class Signer:
    """Signs callback data with a key derived from the bot token, so forged data is refused."""

    def __init__(self, secret: str) -> None:
        self.key = hashlib.sha256(b"newsbot-buttons:" + secret.encode()).digest()

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self.key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:6]).decode()

    def data(self, action: Action, *args: object) -> str:
        """Callback data for an action; raises if it would not fit in 64 bytes."""
        payload = ":".join([action, *map(str, args)])
        data = f"{payload}:{self._mac(payload)}"
        if len(data.encode()) > MAX_DATA:
            raise ValueError("callback data too long")
        return data

    def verify(self, data: str | None) -> Press | None:
        """The press a callback carries, or None when it is malformed or not ours."""
        if not data or len(data.encode()) > MAX_DATA:
            return None
        payload, _, mac = data.rpartition(":")
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        code, *args = payload.split(":")
        action = _BY_CODE.get(code)
        if action is None or action.arity != len(args) or not all(a.isascii() and a.isalnum() for a in args):
            return None
        return Press(action, tuple(args))


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text[:64], callback_data=data)


def alert_keyboard(
    signer: Signer, tr: Translator, subs: list[tuple[int, str]]
) -> InlineKeyboardMarkup | None:
    """'Mute «term»' and 'Unsubscribe' for the subscriptions that matched (at most two)."""
    rows = []
    for sub_id, label in subs[:2]:
        short = label if len(label) <= 20 else label[:19] + "…"
        rows.append(
            [
                button(tr("Mute «{term}»", term=short), signer.data(Action.MUTE, sub_id)),
                button(tr("Unsubscribe"), signer.data(Action.UNSUBSCRIBE, sub_id)),
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


def list_keyboard(signer: Signer, tr: Translator, subs: list[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    """One 'remove #id' button per subscription, three to a row."""
    buttons = [
        button(tr("✖ #{id}", id=sub_id), signer.data(Action.REMOVE, sub_id)) for sub_id, _ in subs[:99]
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return InlineKeyboardMarkup(rows) if rows else None


def confirm_keyboard(signer: Signer, tr: Translator, action: Action, *args: object) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                button(tr("Yes, remove"), signer.data(action, *args)),
                button(tr("Cancel"), signer.data(Action.CANCEL)),
            ]
        ]
    )


def pager_keyboard(
    signer: Signer, tr: Translator, key: str, newer: int | None, older: int | None
) -> InlineKeyboardMarkup | None:
    """'« Newer' / 'Older »' buttons; a cursor is the id the page starts below (0 = newest)."""
    row = []
    if newer is not None:
        row.append(button(tr("« Newer"), signer.data(Action.PAGE, key, newer)))
    if older is not None:
        row.append(button(tr("Older »"), signer.data(Action.PAGE, key, older)))
    return InlineKeyboardMarkup([row]) if row else None
