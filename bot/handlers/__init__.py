"""Thin chat adapters; `register` lists every handler."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CommandHandler, filters

from bot.handlers import admin, errors, user

USER_COMMANDS = {
    "start": user.start,
    "help": user.help_,
    "subscribe": user.subscribe,
    "unsubscribe": user.unsubscribe,
    "list": user.list_,
    "latest": user.latest,
    "feeds": user.feeds,
    "pause": user.pause,
    "resume": user.resume,
}
ADMIN_COMMANDS = {
    "addfeed": admin.addfeed,
}


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every command handler and the error handler to the application."""
    # Only new messages: an edited "/subscribe a" must not run again as "/subscribe b".
    only_new = filters.UpdateType.MESSAGE
    for name, callback in {**USER_COMMANDS, **ADMIN_COMMANDS}.items():
        # A slow /addfeed fetch runs beside other updates; the rest keep each chat's order.
        app.add_handler(CommandHandler(name, callback, filters=only_new, block=name != "addfeed"))
    app.add_error_handler(errors.on_error, block=False)
