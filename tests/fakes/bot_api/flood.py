"""Flood control: Telegram's rate limits, the 429 windows they open, and failures a test injects."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from tests.fakes.bot_api.params import _ApiError


class FloodControl:
    """FakeBotApi's rate limits and injected failures; the state is in its __init__."""

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        times: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error (queued in order)."""
        self._failures.setdefault(method.lower(), deque()).append([status, description, parameters, times])

    def _injected_failure(self, method: str, values: dict[str, Any]) -> None:
        queue = self._failures.get(method.lower())
        if not queue:
            return
        failure = queue[0]
        status, description, parameters, _ = failure
        failure[3] -= 1
        if failure[3] <= 0:
            queue.popleft()
        if parameters and parameters.get("retry_after"):  # the client was told about a window
            until = time.monotonic() + parameters["retry_after"]
            try:
                self._flood_chat_until[int(values["chat_id"])] = until
            except (KeyError, TypeError, ValueError):
                self._flood_global_until = until
        raise _ApiError(status, description, parameters)

    def _check_flood_window(self, chat_id: int) -> None:
        now = time.monotonic()
        until = max(self._flood_global_until, self._flood_chat_until.get(chat_id, 0.0))
        if now < until:
            # A request that arrives right after a 429 was already on the wire when the client
            # heard of the window; only later ones are the client's fault.
            opened = max(self._flood_global_opened, self._flood_chat_opened.get(chat_id, 0.0))
            if now - opened > self.violation_grace:
                self.violations += 1
            wait = max(1, math.ceil(until - now))
            raise _ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def _consume_rate(self, chat_id: int) -> None:
        """Count one send against the flood limits, or answer 429 and open a window."""
        if not self.rate_limits:
            return
        now = time.monotonic()
        windows: list[tuple[deque[float], float, int, int | None]] = [
            (self._sent_global, 1.0, self.global_per_second, None)
        ]
        windows.append((self._sent_chat.setdefault(chat_id, deque()), 1.0, self.per_chat_per_second, chat_id))
        if chat_id < 0:
            minute = self._sent_group_minute.setdefault(chat_id, deque())
            windows.append((minute, 60.0, self.group_per_minute, chat_id))
        for stamps, span, limit, scope in windows:
            while stamps and stamps[0] <= now - span:
                stamps.popleft()
            if len(stamps) >= limit:
                until = now + self.retry_after
                if scope is None:
                    self._flood_global_until = until
                    self._flood_global_opened = now
                else:
                    self._flood_chat_until[scope] = until
                    self._flood_chat_opened[scope] = now
                raise _ApiError(
                    429,
                    f"Too Many Requests: retry after {self.retry_after}",
                    {"retry_after": self.retry_after},
                )
        for stamps, *_ in windows:
            stamps.append(now)
