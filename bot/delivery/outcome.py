"""A send's outcome as a value, and the error map: what each answer of Telegram means for the row.

The map is the one place that decides; the outbox only records the outcome and carries out the
consequence (close the gate, move or deactivate the chat, stop the bot).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.domain import DeliveryStatus

logger = logging.getLogger(__name__)

# Lowercased pieces of BadRequest texts that mean the chat cannot receive: treated as Forbidden.
GONE_CHAT_ERRORS = (
    "chat not found",
    "have no rights",
    "not enough rights",
    "need administrator rights",
    "topic_closed",
    "user is deactivated",
)

MAX_BUG_ATTEMPTS = 5  # an exception of our own is retried this often, then the row fails


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one send, as it is recorded on its row."""

    status: DeliveryStatus
    error: str | None = None
    retry_at: datetime | None = None
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class CloseGate:
    """Telegram asked for a pause (429): hold every send this long."""

    seconds: float


@dataclass(frozen=True, slots=True)
class MoveChat:
    """The group became a supergroup: its subscriptions and queue move to the new id."""

    new_chat_id: int


@dataclass(frozen=True, slots=True)
class DeactivateChat:
    """The chat cannot receive (blocked, kicked, gone): mark it inactive, drop its queue."""

    reason: str


@dataclass(frozen=True, slots=True)
class StopBot:
    """The token was refused: nothing more can be sent."""


Consequence = CloseGate | MoveChat | DeactivateChat | StopBot


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome to record, and what else must happen first."""

    outcome: Outcome
    then: Consequence | None = None


def sent(message_id: int) -> Verdict:
    return Verdict(Outcome(DeliveryStatus.SENT, message_id=message_id))


def retry_after_seconds(exc: RetryAfter) -> float:
    wait = exc.retry_after
    return float(wait.total_seconds()) if isinstance(wait, timedelta) else float(wait)


def verdict_of(
    exc: Exception, *, delivery_id: int, chat_id: int, attempts: int, now: datetime, backoff_at: datetime
) -> Verdict:
    """The error map: a failed send's outcome; `backoff_at` is when a transient failure retries."""
    pending = DeliveryStatus.PENDING
    # The order matters: BadRequest and TimedOut are NetworkError subclasses.
    if isinstance(exc, RetryAfter):
        wait = retry_after_seconds(exc)
        logger.warning("telegram flood wait chat_id=%s retry_after=%.1fs", chat_id, wait)
        return Verdict(
            Outcome(pending, "429 retry after", now + timedelta(seconds=wait + 0.5)), CloseGate(wait + 0.5)
        )
    if isinstance(exc, ChatMigrated):
        logger.info("chat migrated old=%s new=%s", chat_id, exc.new_chat_id)
        return Verdict(Outcome(pending, "chat migrated", now), MoveChat(int(exc.new_chat_id)))
    if isinstance(exc, Forbidden):
        return Verdict(Outcome(DeliveryStatus.DROPPED, str(exc)), DeactivateChat(str(exc)))
    if isinstance(exc, InvalidToken):
        logger.critical("the bot token was refused by Telegram; stopping")
        return Verdict(Outcome(pending, "invalid token", now), StopBot())
    if isinstance(exc, BadRequest):
        if any(s in exc.message.lower() for s in GONE_CHAT_ERRORS):
            return Verdict(Outcome(DeliveryStatus.DROPPED, exc.message), DeactivateChat(exc.message))
        logger.error("alert refused delivery_id=%s error=%s", delivery_id, exc.message)
        return Verdict(Outcome(DeliveryStatus.FAILED, exc.message))
    if isinstance(exc, TimedOut):
        logger.warning("send timed out, possible duplicate delivery_id=%s", delivery_id)
        return Verdict(Outcome(pending, f"timed out: {exc}", backoff_at))
    if isinstance(exc, NetworkError):
        return Verdict(Outcome(pending, f"network: {exc}", backoff_at))
    # Our bug: retry a few times, then give up on this row rather than loop on it.
    logger.error("send crashed delivery_id=%s", delivery_id, exc_info=exc)
    status = DeliveryStatus.FAILED if attempts >= MAX_BUG_ATTEMPTS else pending
    return Verdict(Outcome(status, f"internal: {type(exc).__name__}", backoff_at))
