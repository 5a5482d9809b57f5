"""Telegram's flood limits as token buckets, and the gate a 429 closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        """Seconds until a token is there (0 when one is)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


@dataclass(frozen=True, slots=True)
class Pacing:
    global_per_second: float = 25.0
    per_chat_per_second: float = 1.0
    group_per_minute: float = 18.0


class Pacer:
    """Telegram's flood limits as token buckets, plus one global RetryAfter gate."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        self.global_bucket = TokenBucket(pacing.global_per_second, max(1.0, pacing.global_per_second / 5))
        self.chats: dict[int, TokenBucket] = {}
        self.gate_until = 0.0  # monotonic time before which nothing is sent
        self._stopped = asyncio.Event()

    def _chat_bucket(self, chat_id: int) -> TokenBucket:
        bucket = self.chats.get(chat_id)
        if bucket is None:
            if len(self.chats) > 4096:  # forget idle chats; a full bucket is the same as a new one
                self.chats = {
                    k: b for k, b in self.chats.items() if b.wait_time() > 0 or b.tokens < b.capacity
                }
            if chat_id < 0:
                bucket = TokenBucket(self.pacing.group_per_minute / 60, 1.0)
            else:
                bucket = TokenBucket(self.pacing.per_chat_per_second, 1.0)
            self.chats[chat_id] = bucket
        return bucket

    async def acquire(self, chat_id: int) -> bool:
        """Wait until a message to this chat is within every limit, then spend the tokens.

        False, with nothing spent, when the pacer was stopped first.
        """
        chat = self._chat_bucket(chat_id)
        while not self._stopped.is_set():
            gate = self.gate_wait()
            wait = max(gate, chat.wait_time(), self.global_bucket.wait_time())
            if wait <= 0:
                chat.take()
                self.global_bucket.take()
                return True
            if gate > 0:
                logger.debug("held at the flood gate chat_id=%s wait=%.1fs", chat_id, gate)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=wait)
        return False

    def gate_wait(self) -> float:
        """Seconds until the RetryAfter gate opens; 0 when it is open."""
        return max(0.0, self.gate_until - time.monotonic())

    def close_gate(self, seconds: float) -> None:
        self.gate_until = max(self.gate_until, time.monotonic() + seconds)

    def stop(self) -> None:
        """End every wait at once: the sends behind them are not made."""
        self._stopped.set()
