"""The fake server: its state, the routes, the wire format of requests and replies, and waiting."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes.bot_api.chats import Chats
from tests.fakes.bot_api.flood import FloodControl
from tests.fakes.bot_api.methods import BotMethods
from tests.fakes.bot_api.params import _JSON_PARAMS, ParamChecks, _ApiError, _Params
from tests.fakes.bot_api.records import Call, Rejection, SentMessage, _Upload
from tests.fakes.bot_api.updates import DEFAULT_ALLOWED, UpdateQueue

_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_NGINX_PAGE = (
    "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


_Handler = Callable[[_Params], Awaitable[Any]]


class FakeBotApi(BotMethods, UpdateQueue, Chats, ParamChecks, FloodControl):
    """Fake Telegram Bot API server (see the package docstring for what is faithful).

    Control surface: ``add_message``, ``add_callback_query``, ``add_update``, ``block_chat``,
    ``unblock_chat``, ``set_missing_chat``, ``migrate_chat``, ``fail_next``,
    ``set_chat_administrators``. Records: ``sent``, ``edits``, ``rejected``, ``calls``,
    ``commands`` (key: JSON of the scope or "default", plus ``"|<language_code>"`` when one was
    given), ``callback_answers``, ``violations``. Waiting: ``wait_for_sent``, ``wait_for_call``,
    ``wait_until_idle_polling`` (event driven, no sleeps).
    """

    strict_ampersands: bool = True  # False = TDLib's leniency for bare "&"/unknown entities

    def __init__(
        self,
        token: str = "123456:TEST-token_abc",
        *,
        bot_id: int = 123456,
        username: str = "newsbot_test_bot",
        rate_limits: bool = False,
        global_per_second: int = 30,
        per_chat_per_second: int = 1,
        group_per_minute: int = 20,
        retry_after: int = 1,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.rate_limits = rate_limits
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self.group_per_minute = group_per_minute
        self.retry_after = retry_after
        self.root = ""
        self.sent: list[SentMessage] = []
        self.edits: list[dict[str, Any]] = []
        self.rejected: list[Rejection] = []
        self.calls: list[Call] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.violations = 0
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self._closing = False
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._allowed = DEFAULT_ALLOWED
        self._poll_generation = 0
        self._chats: dict[int, dict[str, Any]] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], SentMessage] = {}  # bot messages, current state
        self._incoming: set[tuple[int, int]] = set()
        self._files: dict[str, _Upload] = {}
        self._blocked: set[int] = set()
        self._missing: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._admins: dict[int, list[int]] = {}
        self._failures: dict[str, deque[list[Any]]] = {}
        self._queries: dict[str, dict[str, Any]] = {}
        self._query_ids = itertools.count(4_200_000_000_000_000_001)
        self._sent_global: deque[float] = deque()
        self._sent_chat: dict[int, deque[float]] = {}
        self._sent_group_minute: dict[int, deque[float]] = {}
        self._flood_global_until = 0.0
        self._flood_chat_until: dict[int, float] = {}
        self._flood_global_opened = 0.0
        self._flood_chat_opened: dict[int, float] = {}
        # Seconds after a 429 in which a request may still arrive that was on the wire before the client
        # heard of it; the client, the event loop and this server share one process and two cores, so a
        # request can take a while to arrive. A client that ignores retry_after sends well past this.
        self.violation_grace = 0.25
        self._handlers: dict[str, tuple[str, _Handler]] = {
            name.lower(): (name, getattr(self, f"_api_{name.lower()}"))
            for name in (
                "getMe", "getUpdates", "deleteWebhook", "getWebhookInfo", "setMyCommands",
                "deleteMyCommands", "getMyCommands", "sendMessage", "editMessageText",
                "editMessageReplyMarkup", "answerCallbackQuery", "sendDocument", "getChat",
                "getChatMember", "getChatAdministrators", "getFile", "close", "logOut",
            )
        }  # fmt: skip

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port; ``root`` becomes ``http://127.0.0.1:PORT``."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.*}", self._download)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        # handler_cancellation: a long poll the client gave up on ends silently, as for Telegram
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.root = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._closing = True
        self._bump()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ waiting

    async def wait_for_sent(
        self, count: int, *, chat_id: int | None = None, timeout: float = 10.0
    ) -> list[SentMessage]:
        """Wait until ``count`` messages (to ``chat_id``, if given) were accepted; return all such."""

        def matching() -> list[SentMessage]:
            return list(self.sent) if chat_id is None else self.messages_to(chat_id)

        if not await self._wait(lambda: len(matching()) >= count, timeout):
            where = "" if chat_id is None else f" to chat {chat_id}"
            shown = [(m.chat_id, m.text[:80]) for m in self.sent]
            refused = [(r.method, r.params.get("chat_id"), r.description) for r in self.rejected]
            raise AssertionError(
                f"expected {count} sent message(s){where} within {timeout}s, got {len(matching())}."
                f" Sent: {shown}. Rejected: {refused}"
            )
        return matching()

    async def wait_for_call(self, method: str, *, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until ``method`` was called ``count`` times (accepted or not); return those calls."""

        def matching() -> list[Call]:
            return [c for c in self.calls if c.method.lower() == method.lower()]

        if not await self._wait(lambda: len(matching()) >= count, timeout):
            raise AssertionError(
                f"expected {count} {method} call(s) within {timeout}s, got {len(matching())};"
                f" calls: {[c.method for c in self.calls]}"
            )
        return matching()

    async def wait_until_idle_polling(self, timeout: float = 10.0) -> None:
        """Wait until getUpdates has confirmed (offset passed) every queued update.

        The handlers of the last updates may still be running when this returns.
        """
        if not await self._wait(lambda: not self._updates, timeout):
            raise AssertionError(
                f"{len(self._updates)} update(s) still unconfirmed after {timeout}s: "
                f"{[u['update_id'] for u in self._updates]}"
            )

    def _bump(self) -> None:
        """Wake every waiter; they re-check their condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return predicate()
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    # ------------------------------------------------------------------ HTTP plumbing

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._error_response(404, "Not Found")

    async def _handle(self, request: web.Request) -> web.Response:
        values, uploads = await self._read_params(request)
        name = request.match_info["method"]
        canonical, handler = self._handlers.get(name.lower(), (name, None))
        self.calls.append(Call(canonical, values, time.monotonic()))
        try:
            token = request.match_info["token"]
            if token != self.token:
                raise (
                    _ApiError(401, "Unauthorized")
                    if _TOKEN_SHAPE.fullmatch(token)
                    else _ApiError(404, "Not Found")
                )
            if handler is None:
                raise _ApiError(404, "Not Found")
            self._injected_failure(canonical, values)
            result = await handler(_Params(values, uploads))
        except _ApiError as err:
            abandoned = err.status == 409 and (request.transport is None or request.transport.is_closing())
            if not abandoned:  # a long poll its client already gave up on is nobody's error
                self.rejected.append(
                    Rejection(canonical, err.status, err.description, values, err.parameters)
                )
            self._bump()
            return self._error_response(err.status, err.description, err.parameters)
        self._bump()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error_response(
        status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> web.Response:
        if status in (502, 504):  # these come from Telegram's nginx, not from the Bot API
            title = f"{status} {'Bad Gateway' if status == 502 else 'Gateway Time-out'}"
            return web.Response(status=status, text=_NGINX_PAGE.format(title=title), content_type="text/html")
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, _Upload]]:
        values: dict[str, Any] = dict(request.query)
        uploads: dict[str, _Upload] = {}
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = None
            values.update(body if isinstance(body, dict) else {})
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    uploads[key] = _Upload(value.filename, data, value.content_type)
                    values[key] = f"<file {value.filename!r}, {len(data)} bytes>"
                else:
                    values[key] = value
        for key in _JSON_PARAMS & values.keys():
            if isinstance(values[key], str) and values[key]:
                with contextlib.suppress(ValueError):  # else _Params.json reports it
                    values[key] = json.loads(values[key])
        return values, uploads

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """The file download endpoint ({root}/file/bot{token}/{file_path})."""
        upload = self._files.get(request.match_info["path"].rsplit("/", 1)[-1])
        if request.match_info["token"] != self.token or upload is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=upload.data, content_type="application/octet-stream")
