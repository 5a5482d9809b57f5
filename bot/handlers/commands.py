"""The command table: it registers the handlers and writes /help and the command menus."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import BotCommand, Update

from bot import matching, render
from bot.handlers import admin, reading, user
from bot.handlers.common import Handler, chat_ref, is_bot_admin, now, reply, tr_for
from bot.i18n import Translator
from bot.render import N_
from bot.services import BotContext


@dataclass(frozen=True, slots=True)
class Command:
    """One chat command: its handler, how /help shows it and what the menu says of it."""

    name: str
    handler: Handler
    usage: str | None  # as /help shows it; None: not in /help (another entry covers it)
    summary: str  # /help's description (a message id, translated when shown)
    menu: str  # the command menu's description
    admin: bool = False
    blocking: bool = True  # False: runs beside other updates (a slow fetch), not in the chat's order


async def start(update: Update, context: BotContext) -> None:
    """Register the chat (or wake it after a block) and show the help."""
    await context.services.subscriptions.register(chat_ref(update, context), now=now())
    await reply(update, [help_text(update, context, welcome=True)])


async def help_(update: Update, context: BotContext) -> None:
    """The command list and the query syntax."""
    await reply(update, [help_text(update, context)])


COMMANDS = (
    Command("start", start, None, "", N_("start and show help")),
    Command(
        "subscribe",
        user.subscribe,
        "/subscribe QUERY",
        N_("get an alert for every new article that matches"),
        N_("alerts for a query"),
    ),
    Command(
        "unsubscribe",
        user.unsubscribe,
        "/unsubscribe ID | QUERY | all",
        N_("remove subscriptions"),
        N_("remove subscriptions"),
    ),
    Command("list", user.list_, "/list", N_("this chat's subscriptions"), N_("this chat's subscriptions")),
    Command(
        "latest",
        reading.latest,
        "/latest [N] [QUERY]",
        N_("the newest headlines"),
        N_("the newest headlines"),
    ),
    Command(
        "search", reading.search_, "/search QUERY", N_("search stored articles"), N_("search stored articles")
    ),
    Command("feeds", admin.feeds, "/feeds", N_("the feed sources"), N_("the feed sources")),
    Command(
        "pause",
        user.pause,
        "/pause, /resume",
        N_("stop or restart alerts for this chat"),
        N_("stop alerts for this chat"),
    ),
    Command("resume", user.resume, None, "", N_("restart alerts for this chat")),
    Command("lang", user.lang, "/lang en|zh", N_("reply language"), N_("reply language: en or zh")),
    Command("help", help_, "/help", N_("this message"), N_("commands and query syntax")),
    Command(
        "addfeed",
        admin.addfeed,
        "/addfeed URL [NAME]",
        N_("add a feed (fetched once to check it)"),
        N_("add a feed"),
        admin=True,
        blocking=False,
    ),
    Command(
        "removefeed",
        admin.removefeed,
        "/removefeed ID|URL",
        N_("remove a feed"),
        N_("remove a feed"),
        admin=True,
    ),
    Command(
        "stats",
        admin.stats,
        "/stats",
        N_("counts of chats, feeds, articles and alerts"),
        N_("counts of chats, feeds, articles and alerts"),
        admin=True,
    ),
    Command(
        "export",
        admin.export,
        "/export",
        N_("the feed list as an OPML file"),
        N_("the feed list as OPML"),
        admin=True,
    ),
    Command(
        "import",
        admin.import_,
        "/import",
        N_("add the feeds of an OPML file (send it with this caption)"),
        N_("add feeds from an OPML file"),
        admin=True,
    ),
)


def help_lines(*, admin: bool) -> list[tuple[str, str]]:
    """(usage, summary) of the commands /help lists, user or admin ones."""
    return [(c.usage, c.summary) for c in COMMANDS if c.usage is not None and c.admin == admin]


def help_text(update: Update, context: BotContext, *, welcome: bool = False) -> str:
    tr = tr_for(update, context)
    admin = is_bot_admin(update, context)
    return render.help_text(
        tr,
        commands=help_lines(admin=False),
        admin_commands=help_lines(admin=True) if admin else [],
        query_help=matching.QUERY_HELP.get(tr.lang, matching.QUERY_HELP["en"]),
        welcome=welcome,
    )


def menu(tr: Translator, *, admin: bool) -> list[BotCommand]:
    """The command menu: user commands, and the admin ones too for an admin."""
    return [BotCommand(c.name, tr(c.menu)) for c in COMMANDS if admin or not c.admin]
