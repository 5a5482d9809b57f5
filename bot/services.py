"""What the handlers and jobs share, built once in app.py and handed down."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot import db
from bot.buttons import Signer
from bot.config import Settings
from bot.delivery import Outbox
from bot.poller import Poller
from bot.subscriptions import Subscriptions

GROUP_ADMIN_TTL = 300.0  # seconds a group's administrator list is trusted
FLOOD_WINDOW = 10.0
FLOOD_LIMIT = 30


class FloodGuard:
    """Per-chat sliding window of commands; beyond the limit a chat is told to slow down once."""

    def __init__(self, limit: int = FLOOD_LIMIT, window: float = FLOOD_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self.seen: dict[int, deque[float]] = {}
        self.warned: dict[int, float] = {}

    def check(self, chat_id: int, now: float | None = None) -> str:
        """'ok', 'warn' (first update over the limit) or 'drop'."""
        now = time.monotonic() if now is None else now
        stamps = self.seen.setdefault(chat_id, deque())
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if len(stamps) >= self.limit:
            if now - self.warned.get(chat_id, -1e9) > self.window:
                self.warned[chat_id] = now
                return "warn"
            return "drop"
        stamps.append(now)
        if len(self.seen) > 10_000:  # forget quiet chats
            self.seen = {k: v for k, v in self.seen.items() if v and v[-1] > now - self.window}
        return "ok"


class SearchSessions:
    """Recent /search queries behind the paging buttons (their data holds only a short key)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.items: OrderedDict[str, tuple[int, str, list[int]]] = OrderedDict()

    def new(self, chat_id: int, query: str) -> str:
        key = secrets.token_hex(4)  # letters and digits only, as callback data arguments must be
        self.items[key] = (chat_id, query, [0])
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return key

    def get(self, key: str, chat_id: int) -> tuple[str, list[int]] | None:
        item = self.items.get(key)
        if item is None or item[0] != chat_id:
            return None
        self.items.move_to_end(key)
        return item[1], item[2]


@dataclass(slots=True)
class Services:
    settings: Settings
    store: db.Store
    subscriptions: Subscriptions
    poller: Poller | None = None  # set at start, once the loop runs
    outbox: Outbox | None = None
    signer: Signer = field(default_factory=lambda: Signer(secrets.token_hex(16)))
    flood: FloodGuard = field(default_factory=FloodGuard)
    searches: SearchSessions = field(default_factory=SearchSessions)
    languages: dict[int, str] = field(default_factory=dict)  # chat id → chosen language
    group_admins: dict[int, tuple[float, frozenset[int]]] = field(default_factory=dict)

    def require_poller(self) -> Poller:
        if self.poller is None:
            raise RuntimeError("the poller is not running yet")
        return self.poller


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context with our services on it."""

    @property
    def services(self) -> Services:
        services: Services = self.application.bot_data["services"]
        return services
