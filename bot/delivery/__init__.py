"""The outbox's sender: pacing under Telegram's limits, sending, recording each outcome."""

from __future__ import annotations

from bot.delivery.outbox import Outbox
from bot.delivery.outcome import GONE_CHAT_ERRORS, MAX_BUG_ATTEMPTS, Outcome, verdict_of
from bot.delivery.pacing import Pacer, Pacing, TokenBucket
from bot.delivery.view import alert_view

__all__ = [
    "GONE_CHAT_ERRORS",
    "MAX_BUG_ATTEMPTS",
    "Outbox",
    "Outcome",
    "Pacer",
    "Pacing",
    "TokenBucket",
    "alert_view",
    "verdict_of",
]
