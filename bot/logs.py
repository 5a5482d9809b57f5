"""Logging set-up: key=value lines, with the bot token and URLs' secrets redacted everywhere."""

from __future__ import annotations

import logging
import re
from typing import TextIO

from bot.urls import redact_text

_TOKEN_PATTERN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{10,}")


class RedactTokens(logging.Filter):
    """Formats the record first (httpx passes URL objects) and removes bot tokens and URLs'
    credentials and query values from it, whatever its level: at DEBUG, PTB dumps updates
    (an /addfeed URL) and SQLAlchemy logs statement parameters (a stored feed URL)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return redact_text(_TOKEN_PATTERN.sub("<token>", text))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, and keep only the text.
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def setup_logging(
    level: int = logging.INFO, stream: TextIO | None = None, secrets: list[str] | None = None
) -> None:
    """Root handler with redaction; chatty libraries turned down."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and PTB's URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
