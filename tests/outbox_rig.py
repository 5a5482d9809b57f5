"""What the outbox tests share: rows to send, the real sender against the fake, a relay, the logs.

The relay stands where the network would: between the real PTB client and the fake Bot API.
It can hold a request (it has not reached Telegram yet) or lose an answer (Telegram took the
request, the reply never came back), which the fake alone cannot do.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from sqlalchemy import select
from telegram import Bot
from telegram.request import HTTPXRequest

from bot import db
from bot.delivery import Outbox, Pacing
from bot.domain import Alert, EntryDraft
from bot.subscriptions import Subscriptions

FAST = Pacing(global_per_second=200, per_chat_per_second=50, group_per_minute=600)


class LogWatch(logging.Handler):
    """Every record of our loggers, with a way to await one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if threading.get_ident() == self._thread:
            self._changed.set()
        else:
            self._loop.call_soon_threadsafe(self._changed.set)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    async def wait_for(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        try:
            async with asyncio.timeout(timeout):
                while self.count(text) < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{count}x {text!r} not logged within {timeout}s: {self.lines}") from None


@asynccontextmanager
async def watching(*names: str) -> AsyncIterator[LogWatch]:
    """Collect the records of these loggers (DEBUG and up) while the block runs."""
    watch = LogWatch()
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(watch)
        lg.setLevel(logging.DEBUG if lg.name.startswith("bot") else logging.INFO)
    try:
        yield watch
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(watch)
            lg.setLevel(level)


class Relay:
    """A man in the middle for Bot API requests: passes them on, or holds them, or loses the answer.

    ``hold`` decides by a sendMessage's chat id (None for other methods) whether the request
    waits here until ``release()``; a request whose client gave up meanwhile never reaches the
    fake. ``lose`` decides the same way whether a request passes on and its answer is kept
    until the client gives up.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.root = ""
        self.hold: Callable[[int | None], bool] = lambda chat_id: False
        self.lose: Callable[[int | None], bool] = lambda chat_id: False
        self.held = 0  # requests that waited here
        self.lost = 0  # answers kept from the client
        self._release = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a request its client gave up on ends here, as on a real network
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, handler_cancellation=True)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.root = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    def release(self) -> None:
        """Let held requests (and any later ones) through."""
        self.hold = lambda chat_id: False
        self._release.set()

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def _bump(self) -> None:
        self._changed.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        chat_id = None
        if request.path.lower().endswith("/sendmessage"):
            values = parse_qs(body.decode())
            chat_id = int(values["chat_id"][0]) if "chat_id" in values else None
        if self.hold(chat_id):
            self.held += 1
            self._bump()
            await self._release.wait()
        assert self._http is not None
        headers = {"Content-Type": request.headers.get("Content-Type", "")}
        async with self._http.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as answer:
            payload, status = await answer.read(), answer.status
            content_type = answer.headers.get("Content-Type", "application/json")
        if self.lose(chat_id):
            self.lost += 1
            self._bump()
            await asyncio.Event().wait()  # until the client gives up and this handler is cancelled
        return web.Response(body=payload, status=status, headers={"Content-Type": content_type})


@asynccontextmanager
async def telegram_bot(root: str, token: str, *, read_timeout: float = 5.0) -> AsyncIterator[Bot]:
    """The real PTB client pointed at a Bot API root."""
    request = HTTPXRequest(
        connection_pool_size=16, connect_timeout=2, read_timeout=read_timeout, write_timeout=2, pool_timeout=2
    )
    bot = Bot(token, base_url=f"{root}/bot", request=request)
    await bot.initialize()
    try:
        yield bot
    finally:
        await bot.shutdown()


async def queue_alert(
    store: db.Store, chat_id: int, *, key: str = "nato-1", title: str = "NATO allies meet in Brussels"
) -> int:
    """One pending alert, due now, for a chat subscribed to "nato"; returns its delivery id."""
    now = datetime.now(UTC)
    async with store.write() as s:
        feed, _ = await db.add_feed(s, "https://news.example.com/world.xml", "World", now)
        drafts = [
            EntryDraft(
                key=key,
                title=title,
                link=f"https://news.example.com/{key}",
                published=now,
                summary="Defence ministers of NATO discussed support for Ukraine.",
            )
        ]
        [article] = await db.insert_new_articles(s, feed.id, drafts, now)
        if await db.get_chat(s, chat_id) is None:
            await db.upsert_chat(s, chat_id, "private" if chat_id > 0 else "group", "en", now)
            await db.add_subscription(s, chat_id, "nato", "nato", now)
        await db.enqueue_alerts(s, [Alert(chat_id, article.id, ("nato",))], now)
        stmt = select(db.Delivery.id).where(
            db.Delivery.chat_id == chat_id, db.Delivery.article_id == article.id
        )
        return int((await s.execute(stmt)).scalar_one())


async def row(store: db.Store, delivery_id: int) -> db.Delivery:
    """The outbox row as it stands now."""
    async with store.read() as s:
        found = await s.get(db.Delivery, delivery_id)
        assert found is not None
        return found


async def rows_of(store: db.Store, chat_id: int) -> list[db.Delivery]:
    async with store.read() as s:
        stmt = select(db.Delivery).where(db.Delivery.chat_id == chat_id).order_by(db.Delivery.id)
        return list((await s.execute(stmt)).scalars().all())


def make_outbox(store: db.Store, bot: Bot, **kw: Any) -> Outbox:
    kw.setdefault("pacing", FAST)
    kw.setdefault("subscriptions", Subscriptions(store))
    return Outbox(store, bot, **kw)
