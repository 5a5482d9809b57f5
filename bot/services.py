"""What the handlers and jobs share, built once in app.py and handed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot import db
from bot.config import Settings
from bot.delivery import Outbox
from bot.matcher import SubscriptionIndex
from bot.poller import Poller


@dataclass(slots=True)
class Services:
    settings: Settings
    store: db.Store
    index: SubscriptionIndex = field(default_factory=SubscriptionIndex)
    poller: Poller | None = None  # set in post_init, once the loop runs
    outbox: Outbox | None = None

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
