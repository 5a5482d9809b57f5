"""Command line: `python -m bot --config PATH` (also `newsbot`), and `newsbot feeds ...` for admins."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from telegram.error import InvalidToken, NetworkError

from bot.config import Settings, load_settings
from bot.domain import ConfigError, NewsbotError, StartupError
from bot.lock import AlreadyRunning, LockLost
from bot.logs import setup_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot", description="Keyword news alerts on Telegram.")
    parser.add_argument("--config", type=Path, default=Path("config.toml"), help="path to config.toml")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command")
    feeds = commands.add_parser("feeds", help="manage the feed list").add_subparsers(
        dest="action", required=True
    )
    check = feeds.add_parser("check", help="fetch and parse a feed once and show what would be stored")
    check.add_argument("url")
    check.add_argument("--allow-private", action="store_true", help="allow loopback/private addresses")
    imp = feeds.add_parser("import", help="add the feeds of an OPML file")
    imp.add_argument("file", type=Path)
    feeds.add_parser("export", help="print the feed list as OPML")
    return parser


async def _with_store(settings: Settings, action: str, file: Path | None) -> int:
    from bot import catalog, db

    store = db.Store(db.make_engine(settings.database.url))
    try:
        await db.upgrade_schema(store.engine)
        if action == "export":
            sys.stdout.buffer.write(await catalog.export_opml(store))
            return 0
        assert file is not None
        report = await catalog.import_opml(
            store,
            file.read_bytes(),
            allow_private=settings.polling.allow_private_addresses,
            now=datetime.now(UTC),
        )
        for url in report.added:
            print(f"added    {url}")
        for url in report.present:
            print(f"present  {url}")
        for url, reason in report.refused:
            print(f"refused  {url}  ({reason})")
        print(
            f"{len(report.added)} added, {len(report.present)} already present, {len(report.refused)} refused"
        )
        return 0
    finally:
        await store.close()


def _feeds_command(args: argparse.Namespace) -> int:
    if args.action == "check":
        from bot.feeds.check import check_feed

        return asyncio.run(check_feed(args.url, allow_private=args.allow_private, out=sys.stdout))
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        return asyncio.run(_with_store(settings, args.action, getattr(args, "file", None)))
    except (NewsbotError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, load the config, run the bot; the exit code says how it ended."""
    args = _parser().parse_args(argv)
    if args.command == "feeds":
        return _feeds_command(args)
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
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return 1
    except LockLost:
        return 1  # its one line is already logged; a supervisor may start the bot again
    except InvalidToken:
        print("config error: telegram.token was refused by Telegram", file=sys.stderr)
        return 2
    except NetworkError as exc:
        reason = str(exc).replace(settings.token, "<token>")
        print(
            f"error: cannot reach the Telegram Bot API at {settings.telegram.api_base_url}: {reason}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
