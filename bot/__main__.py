"""Command line: `python -m bot --config PATH` (also `newsbot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from telegram.error import InvalidToken

from bot.config import load_settings
from bot.domain import ConfigError
from bot.lock import AlreadyRunning
from bot.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, load the config, run the bot; the exit code says how it ended."""
    parser = argparse.ArgumentParser(prog="newsbot", description="Keyword news alerts on Telegram.")
    parser.add_argument("--config", type=Path, default=Path("config.toml"), help="path to config.toml")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    setup_logging(getattr(logging, args.log_level), secrets=[settings.token])
    from bot.app import run  # after logging is set, so start-up lines are redacted too

    try:
        asyncio.run(run(settings))
    except AlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except InvalidToken:
        print("config error: telegram.token was refused by Telegram", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
