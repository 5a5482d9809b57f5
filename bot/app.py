"""The composition root: builds every part, starts it, stops it. Nothing imports it."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import signal
import threading
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from telegram import BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from bot import db, feeds, handlers
from bot.buttons import Signer
from bot.config import Settings
from bot.db.engine import error_reason
from bot.delivery import Outbox, Pacing
from bot.domain import Notice, StartupError
from bot.handlers import commands
from bot.i18n import LANGUAGES, translator
from bot.lock import HEARTBEAT_SECONDS, LockLost, ProcessLock
from bot.poller import Poller
from bot.render import notice_text
from bot.services import BotContext, Services
from bot.subscriptions import Subscriptions
from bot.urls import normalize_feed_url, redact

logger = logging.getLogger(__name__)

STOP_BUDGET = 9.0  # seconds from a stop signal to exit, whatever hangs


def fetch_limits(settings: Settings) -> feeds.FetchLimits:
    p = settings.polling
    return feeds.FetchLimits(
        connect_timeout=float(p.connect_timeout_seconds),
        total_timeout=float(p.timeout_seconds),
        max_body_bytes=p.max_body_bytes,
        allow_private=p.allow_private_addresses,
        per_host=p.per_host_concurrency,
    )


def build_application(settings: Settings, services: Services) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application pointed at the configured Bot API server."""
    root = settings.telegram.api_base_url
    # Long read timeouts make "sent but the answer was lost" (a possible duplicate) rare.
    request = HTTPXRequest(
        connection_pool_size=32, connect_timeout=10, read_timeout=20, write_timeout=20, pool_timeout=5
    )
    updates_request = HTTPXRequest(
        connection_pool_size=2, connect_timeout=10, read_timeout=20, write_timeout=20, pool_timeout=5
    )
    app = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .request(request)
        .get_updates_request(updates_request)
        .context_types(ContextTypes(context=BotContext))
        .build()
    )
    app.bot_data["services"] = services
    handlers.register(app)
    return app


class Runtime:
    """Everything the bot runs, started and stopped in order."""

    def __init__(
        self,
        settings: Settings,
        *,
        poll_timeout: float = 10.0,
        first_tick: float | None = None,
        lock_heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.settings = settings
        self.poll_timeout = poll_timeout
        # Random delay before the first tick, so restarts of many bots do not stampede hosts.
        self.first_tick = random.uniform(1.0, 5.0) if first_tick is None else first_tick
        self.store = db.Store(db.make_engine(settings.database.url))
        self.subscriptions = Subscriptions(self.store)
        self.services = Services(
            settings=settings,
            store=self.store,
            subscriptions=self.subscriptions,
            signer=Signer(settings.token),
        )
        self.lock = ProcessLock(self.store.engine, heartbeat=lock_heartbeat, on_lost=self.request_stop)
        self.app = build_application(settings, self.services)
        self.http: aiohttp.ClientSession | None = None
        self.stopped = asyncio.Event()
        self._notices: asyncio.Queue[Notice] = asyncio.Queue()
        self._notice_task: asyncio.Task[None] | None = None
        self._locked = False

    @property
    def poller(self) -> Poller:
        return self.services.require_poller()

    @property
    def outbox(self) -> Outbox:
        assert self.services.outbox is not None
        return self.services.outbox

    async def start(self) -> None:
        """Lock the database, migrate, seed, index, then start the bot, the poller and the outbox."""
        try:
            await self.lock.acquire()
            self._locked = True
            logger.info("database url=%s", self.store.engine.url.render_as_string(hide_password=True))
            await db.upgrade_schema(self.store.engine)
        except (OSError, SQLAlchemyError) as exc:
            raise StartupError(f"error: database.url: cannot use the database: {error_reason(exc)}") from None
        await self._seed_feeds()
        await self.subscriptions.load()
        async with self.store.read() as session:
            self.services.languages.update(await db.chat_languages(session))
        # The index is millions of long-lived objects: keep them out of every later collection.
        gc.collect()
        gc.freeze()
        logger.info("subscription index built size=%d", len(self.subscriptions.index))
        limits = fetch_limits(self.settings)
        self.http = feeds.make_http_session(limits)
        polling = self.settings.polling
        self.services.poller = Poller(
            self.store,
            self.http,
            limits,
            self.subscriptions,
            interval=polling.interval_seconds,
            max_interval=polling.max_interval_seconds,
            max_backoff=polling.max_backoff_seconds,
            concurrency=polling.concurrency,
            failure_alert_after=polling.failure_alert_after,
            max_new_per_poll=polling.max_new_per_poll,
            alert_newest_on_flood=polling.alert_newest_on_flood,
            on_alerts=lambda: self.outbox.wake(),
            notify=self._notices.put_nowait,
        )
        d = self.settings.delivery
        self.services.outbox = Outbox(
            self.store,
            self.app.bot,
            subscriptions=self.subscriptions,
            pacing=Pacing(
                float(d.global_per_second), float(d.per_chat_per_second), float(d.group_per_minute)
            ),
            parallel_chats=d.parallel_chats,
            max_backoff=d.max_backoff_seconds,
            on_fatal=self.request_stop,
            signer=self.services.signer,
        )
        await self.app.initialize()
        await self._set_commands()
        await self.outbox.start()
        self._notice_task = asyncio.create_task(self._send_notices(), name="notices")
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            timeout=int(self.poll_timeout),
            poll_interval=0,
            drop_pending_updates=False,
            allowed_updates=["message", "callback_query"],
        )
        assert self.app.job_queue is not None
        self.app.job_queue.run_repeating(
            self._tick,
            interval=polling.interval_seconds,
            first=self.first_tick,
            name="poll",
            job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        self.app.job_queue.run_repeating(self._prune, interval=24 * 3600, first=600, name="prune")
        logger.info("newsbot started interval=%ss", polling.interval_seconds)

    async def _tick(self, _context: object) -> None:
        await self.poller.tick()

    async def _prune(self, _context: object) -> None:
        async with self.store.write() as session:
            bodies, deliveries = await db.prune(
                session, datetime.now(UTC), retention_days=self.settings.polling.retention_days
            )
        changes = await self.subscriptions.prune_log(datetime.now(UTC))
        logger.info("pruned article_bodies=%d deliveries=%d changes=%d", bodies, deliveries, changes)

    async def _seed_feeds(self) -> None:
        now = datetime.now(UTC)
        async with self.store.write() as session:
            for seed in self.settings.feeds:
                url = normalize_feed_url(seed.url)
                _, created = await db.add_feed(session, url, seed.name, now)
                if created:
                    logger.info("feed seeded from config url=%s", redact(url))

    async def _set_commands(self) -> None:
        """The command menu: user commands for everyone, admin ones in each admin's private chat."""
        bot = self.app.bot
        try:
            for lang in LANGUAGES:
                tr = translator(lang)
                code = None if lang == "en" else lang
                users = commands.menu(tr, admin=False)
                admins = commands.menu(tr, admin=True)
                await bot.set_my_commands(users, language_code=code)
                for admin_id in self.settings.telegram.admins:
                    await bot.set_my_commands(admins, scope=BotCommandScopeChat(admin_id), language_code=code)
        except TelegramError as exc:  # a menu is a nicety; the bot runs without it
            logger.warning("setMyCommands refused: %s", exc)

    async def _send_notices(self) -> None:
        """Tell every admin about feed trouble, best effort."""
        tr = translator("en")
        while True:
            notice = await self._notices.get()
            text = notice_text(tr, notice, datetime.now(UTC))
            for admin_id in self.settings.telegram.admins:
                try:
                    await self.app.bot.send_message(
                        admin_id, text, parse_mode="HTML", disable_web_page_preview=True
                    )
                except TelegramError as exc:
                    logger.warning("admin notice not sent admin=%s error=%s", admin_id, exc)

    def request_stop(self) -> None:
        self.stopped.set()

    async def stop(self) -> None:
        """Stop taking updates, let sends in flight finish briefly, close everything."""
        if not self._locked:  # refused at the lock: nothing was started
            await self.store.close()
            return
        app = self.app
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if self.services.outbox is not None:
            await self.services.outbox.stop(grace=3.0)
        if self._notice_task is not None:
            self._notice_task.cancel()
        await app.shutdown()
        if self.http is not None:
            await self.http.close()
        await self.store.close()
        await self.lock.release()  # last: no connection of ours outlives the lock
        logger.info("newsbot stopped")


def _watchdog() -> None:
    logger.error("shutdown took longer than %.0fs; exiting", STOP_BUDGET)
    os._exit(0)


async def run(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then stop within the budget; LockLost after a stop for a lost lock."""
    runtime = Runtime(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.request_stop)
    try:
        await runtime.start()
        await runtime.stopped.wait()
    finally:
        timer = threading.Timer(STOP_BUDGET, _watchdog)
        timer.daemon = True
        timer.start()
        await runtime.stop()
        timer.cancel()
    if runtime.lock.lost is not None:
        raise LockLost(runtime.lock.lost)
