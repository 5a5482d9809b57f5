"""The fake Bot API, exercised through the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from tests.fakes.bot_api import FakeBotApi, HtmlParseError, parse_html

CHAT = 1111
GROUP = -2222


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=f"{fake.root}/bot") as client:
        yield client


@pytest.fixture
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Reading RetryAfter.retry_after as int is deprecated in PTB 22 (a warning, i.e. an error here).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


# --------------------------------------------------------------------------- HTML


async def test_get_me_and_html_message(fake: FakeBotApi, bot: Bot) -> None:
    assert bot.username == fake.username
    assert (await bot.get_me()).can_join_groups is True
    text = '<b>Title</b> 🚀 <a href="https://example.com/a?x=1&amp;y=2">read</a> <i>more</i>'
    message = await bot.send_message(CHAT, text, parse_mode="HTML")
    assert (message.message_id, message.text) == (1, "Title 🚀 read more")
    sent = fake.sent[0]
    assert sent.raw_text == text and sent.text == message.text
    assert sent.bold == ["Title"]
    assert sent.links == ["https://example.com/a?x=1&y=2"]
    # offsets are UTF-16: the rocket counts 2
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 5),
        ("text_link", 9, 4),
        ("italic", 14, 4),
    ]
    assert message.parse_entities()[message.entities[1]] == "read"
    assert (await bot.send_message(CHAT, "plain <b> & text")).message_id == 2
    assert fake.sent[1].text == "plain <b> & text" and fake.sent[1].entities == []
    padded = await bot.send_message(CHAT, "\n  <b>trimmed </b> \n", parse_mode="HTML")
    assert padded.text == "trimmed" and fake.sent[2].bold == ["trimmed"]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("Tom & Jerry", "Character entity expected at byte offset 4"),
        ("AT&T", 'Unknown entity "&T" at byte offset 2'),
        ("if a < b then", 'Unsupported start tag "" at byte offset 5'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a&nbsp;b", 'Unknown entity "&nbsp;" at byte offset 1'),
        ("<i>x</b>", 'Unmatched end tag at byte offset 4, expected "</i>", found "</b>"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<br/>line", 'Unsupported start tag "br/" at byte offset 0'),
    ],
)
async def test_invalid_html_is_rejected(fake: FakeBotApi, bot: Bot, text: str, detail: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, text, parse_mode="HTML")
    assert fake.rejected[-1].description == f"Bad Request: can't parse entities: {detail}"
    assert fake.sent == []


async def test_escaped_text_round_trips(fake: FakeBotApi, bot: Bot) -> None:
    original = "a < b & c > \"d\" 'e' <script> &nbsp; é 🚀"
    message = await bot.send_message(CHAT, f"<b>{html.escape(original)}</b>", parse_mode="HTML")
    assert message.text == original == fake.sent[0].text
    assert fake.sent[0].bold == [original]


def test_parser_matches_tdlib_cases() -> None:
    ok = {
        "x &lt <i a = b-1.>y</>": ("x < y", [("italic", 4, 1)]),
        "<a href=example.org>t</a>": ("t", [("text_link", 0, 1)]),
        '<pre><code class="language-py">c</code></pre>': ("c", [("pre", 0, 1)]),
        "<code><i><b> </b></i></code>": (" ", [("code", 0, 1), ("bold", 0, 1), ("italic", 0, 1)]),
        "<blockquote expandable>q</blockquote>": ("q", [("expandable_blockquote", 0, 1)]),
        "<b></b>🏟<tg-spoiler>s</tg-spoiler>": ("🏟s", [("spoiler", 2, 1)]),
        '<a href="javascript:alert(1)">x</a>': ("x", []),
    }
    for markup, (text, entities) in ok.items():
        parsed, found = parse_html(markup)
        assert (parsed, [(e["type"], e["offset"], e["length"]) for e in found]) == (text, entities), markup
    assert parse_html('<pre><code class="language-py">c</code></pre>')[1][0]["language"] == "py"
    assert parse_html("<a href=example.org>t</a>")[1][0]["url"] == "http://example.org/"
    errors = {
        "🏟 <abc": "Unclosed start tag at byte offset 5",
        "<i =x>": 'Empty attribute name in the tag "i" at byte offset 0',
        "<i a = 1,>": "Unexpected end of name token at byte offset 7",
        "x</i>": "Unexpected end tag at byte offset 1",
        "<i>x</i  y>": "Unclosed end tag at byte offset 4",
        "&#xD83D;": "Text contains invalid Unicode characters after decoding HTML entities,"
        " check for unmatched surrogate code units",
    }
    for markup, message in errors.items():
        with pytest.raises(HtmlParseError) as info:
            parse_html(markup)
        assert str(info.value) == message, markup
    # TDLib itself keeps a stray "&" or an unknown entity literally
    assert parse_html("AT&T &nbsp; &lt", strict_ampersands=False) == ("AT&T &nbsp; <", [])


async def test_lenient_ampersands_like_telegram(fake: FakeBotApi, bot: Bot) -> None:
    fake.strict_ampersands = False
    message = await bot.send_message(CHAT, "<b>AT&T</b> &nbsp;", parse_mode="HTML")
    assert message.text == "AT&T &nbsp;"


async def test_length_is_measured_in_utf16_after_parsing(fake: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "😀" * 2048 + "a")  # 4097 UTF-16 units, 2049 code points
    await bot.send_message(CHAT, "😀" * 2048)
    await bot.send_message(CHAT, f"<b>{'&amp;' * 4096}</b>", parse_mode="HTML")
    assert [len(m.text) for m in fake.sent] == [2048, 4096]
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "<b> \n </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_message(CHAT, "*x*", parse_mode="MarkdownV2")


# --------------------------------------------------------------------------- chats and errors


async def test_blocked_missing_and_migrated_chats(fake: FakeBotApi, bot: Bot) -> None:
    fake.block_chat(CHAT)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    fake.unblock_chat(CHAT)
    await bot.send_message(CHAT, "hi")
    fake.set_missing_chat(42)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(42, "hi")
    fake.migrate_chat(GROUP, -1001234567890)
    with pytest.raises(ChatMigrated) as info:
        await bot.send_message(GROUP, "hi")
    assert info.value.new_chat_id == -1001234567890
    await bot.send_message(-1001234567890, "hi")
    assert [(m.chat_id, m.message_id) for m in fake.sent] == [(CHAT, 1), (-1001234567890, 1)]
    assert [r.status for r in fake.rejected] == [403, 400, 400]


async def test_injected_failures(fake: FakeBotApi, bot: Bot, timedelta_retry_after: None) -> None:
    fake.fail_next("sendMessage", 500, "Internal Server Error")
    fake.fail_next("sendmessage", 502, "Bad Gateway")
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 5", parameters={"retry_after": 5})
    with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
        await bot.send_message(CHAT, "x")
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(CHAT, "x")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "x")
    assert info.value.retry_after == dtm.timedelta(seconds=5)
    assert fake.violations == 0
    with pytest.raises(RetryAfter):  # inside the announced window
        await bot.send_message(CHAT, "x")
    assert fake.violations == 1
    await bot.send_message(CHAT + 1, "other chats are fine")


async def test_wrong_token_and_unknown_method(fake: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("123456:wrong", base_url=f"{fake.root}/bot"):
            pass
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")
    assert (fake.rejected[0].status, fake.rejected[1].status) == (401, 404)


async def test_raw_json_and_get_requests(fake: FakeBotApi) -> None:
    url = f"{fake.root}/bot{fake.token}"
    markup = {"inline_keyboard": [[{"text": "Open", "callback_data": "x" * 64}]]}
    async with aiohttp.ClientSession() as session:
        body = {"chat_id": CHAT, "text": "<i>json</i>", "parse_mode": "HTML", "reply_markup": markup}
        async with session.post(f"{url}/SENDMESSAGE", json=body) as response:
            payload = await response.json()
        assert payload["ok"] and payload["result"]["reply_markup"] == markup
        async with session.get(f"{url}/getWebhookInfo") as response:
            assert (await response.json())["result"]["url"] == ""
        async with session.post(f"{url}/sendMessage", data={"text": "no chat"}) as response:
            error = await response.json()
        assert response.status == 400
        assert error == {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"}
        markup["inline_keyboard"][0][0]["callback_data"] = "é" * 33  # 66 bytes
        async with session.post(f"{url}/sendMessage", json={**body, "reply_markup": markup}) as response:
            assert (await response.json())["description"] == "Bad Request: BUTTON_DATA_INVALID"
    assert fake.sent[0].text == "json" and fake.calls[0].method == "sendMessage"


async def test_rate_limits(timedelta_retry_after: None) -> None:
    fake = FakeBotApi(rate_limits=True, global_per_second=3, per_chat_per_second=1, group_per_minute=2)
    fake.violation_grace = 0  # these sends are sequential: none was in flight when a 429 went out
    await fake.start()
    try:
        async with Bot(fake.token, base_url=f"{fake.root}/bot") as bot:
            await bot.send_message(CHAT, "1")
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(CHAT, "2")
            assert info.value.retry_after == dtm.timedelta(seconds=1)
            assert fake.violations == 0
            with pytest.raises(RetryAfter):
                await bot.send_message(CHAT, "3")  # ignored the window
            assert fake.violations == 1
            await bot.send_message(CHAT + 1, "other chat")
            await bot.send_message(GROUP, "g1")
            with pytest.raises(RetryAfter):  # 3 per second overall
                await bot.send_message(CHAT + 2, "x")
            with pytest.raises(RetryAfter):  # the global window is open
                await bot.send_message(CHAT + 3, "y")
            assert fake.violations == 2
            await asyncio.sleep(1.05)  # a well-behaved client waits retry_after
            await bot.send_message(CHAT, "after the window")
            await bot.send_message(GROUP, "g2")
            await asyncio.sleep(1.05)
            with pytest.raises(RetryAfter):  # 2 per minute in a group
                await bot.send_message(GROUP, "g3")
            assert fake.violations == 2
            assert [m.text for m in fake.sent] == ["1", "other chat", "g1", "after the window", "g2"]
    finally:
        await fake.stop()


# --------------------------------------------------------------------------- edits, buttons, files


async def test_edits_and_callback_queries(fake: FakeBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])
    sent = await bot.send_message(CHAT, "<b>v1</b>", parse_mode="HTML", reply_markup=keyboard)
    assert sent.reply_markup == keyboard
    edited = await bot.edit_message_text("<b>v2</b>", CHAT, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, Message)
    assert edited.text == "v2" and edited.edit_date is not None and edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<b>v2</b>", CHAT, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", CHAT, 99)
    await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard)
    assert [e["method"] for e in fake.edits] == ["editMessageText", "editMessageReplyMarkup"]
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        await bot.send_message(CHAT, "x", reply_markup=too_long)

    fake.add_callback_query(CHAT, sent.message_id, "more:1")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "more:1" and isinstance(query.message, Message)
    assert query.message.text == "v2" and query.message.reply_markup == keyboard
    with pytest.raises(BadRequest, match=r"(?i)MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(query.id, text="x" * 201)
    assert await bot.answer_callback_query(query.id, text="ok")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    assert fake.callback_answers == [{"callback_query_id": query.id, "text": "ok"}]


async def test_documents_commands_and_chat_info(fake: FakeBotApi, bot: Bot) -> None:
    message = await bot.send_document(
        CHAT, b"id,title\n", filename="export.csv", caption="<b>Export</b>", parse_mode="HTML"
    )
    assert message.document is not None and message.document.file_name == "export.csv"
    assert message.caption == "Export"
    doc = fake.messages_to(CHAT)[0]
    assert (doc.filename, doc.file_bytes, doc.text, doc.method) == (
        "export.csv",
        b"id,title\n",
        "Export",
        "sendDocument",
    )
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(CHAT, "not-a-file-id")

    assert await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("add", "Add a keyword")])
    assert await bot.set_my_commands([BotCommand("start", "Начать")], language_code="ru")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "add"]
    assert fake.commands["default|ru"] == [{"command": "start", "description": "Начать"}]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()

    fake.set_chat_administrators(GROUP, [7, 8])
    admins = await bot.get_chat_administrators(GROUP)
    assert [(a.user.id, a.status) for a in admins] == [(7, "creator"), (8, "administrator")]
    assert (await bot.get_chat_member(GROUP, 9)).status == "member"
    assert (await bot.get_chat(GROUP)).type == "group"
    with pytest.raises(BadRequest, match=r"(?i)no administrators in the private chat"):
        await bot.get_chat_administrators(CHAT)


# --------------------------------------------------------------------------- getUpdates


async def test_get_updates_offsets(fake: FakeBotApi, bot: Bot) -> None:
    first = fake.add_message(CHAT, "/start", username="alice")
    fake.add_message(GROUP, "/add@newsbot_test_bot python", user_id=5, edited=True)
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first, first + 1]
    start = updates[0].message
    assert start is not None and start.text == "/start" and start.from_user is not None
    assert (start.chat.type, start.from_user.id, start.from_user.username) == ("private", CHAT, "alice")
    assert start.entities[0].type == "bot_command" and start.entities[0].length == 6
    edit = updates[1].edited_message
    assert edit is not None and edit.chat.type == "group" and edit.entities[0].length == 21
    # not confirmed yet: the same updates again
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first, first + 1]
    assert await bot.get_updates(offset=first + 2, timeout=0) == ()
    await fake.wait_until_idle_polling(timeout=0.1)
    assert await bot.get_updates(timeout=0) == ()  # confirmed updates are gone for good
    third = fake.add_message(CHAT, "hello")
    fake.add_message(CHAT, "again")
    assert [u.update_id for u in await bot.get_updates(offset=-1, timeout=0)] == [third + 1]
    assert await bot.get_updates(offset=third + 2, limit=5, timeout=0) == ()


async def test_long_poll_wakes_up_and_conflicts(fake: FakeBotApi, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for_call("getUpdates")
    fake.add_message(CHAT, "wake up")
    (update,) = await poll
    assert update.message is not None and update.message.text == "wake up"
    assert loop.time() - started < 2

    assert await bot.get_updates(offset=update.update_id + 1, timeout=1) == ()  # timed out: empty
    async with Bot(fake.token, base_url=f"{fake.root}/bot") as second:
        old = asyncio.create_task(bot.get_updates(offset=update.update_id + 1, timeout=5))
        await fake.wait_for_call("getUpdates", count=3)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await old


async def test_wait_for_sent_reports_what_happened(fake: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(CHAT, "one")
    with pytest.raises(BadRequest):
        await bot.send_message(CHAT, "<x>", parse_mode="HTML")
    with pytest.raises(AssertionError, match=r"(?i)got 1\..*'one'.*Unsupported start tag"):
        await fake.wait_for_sent(2, chat_id=CHAT, timeout=0.05)


# --------------------------------------------------------------------------- a real Application


async def test_application_polling_round_trip(fake: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "hi")

    app = ApplicationBuilder().token(fake.token).base_url(f"{fake.root}/bot").build()
    app.add_handler(CommandHandler("start", start))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        fake.add_message(CHAT, "/start")
        fake.add_message(GROUP, f"/start@{fake.username}", user_id=77)
        replies = await fake.wait_for_sent(2, timeout=5)
        assert sorted((m.chat_id, m.text) for m in replies) == [(GROUP, "hi"), (CHAT, "hi")]
        await fake.wait_until_idle_polling(timeout=5)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert [c.method for c in fake.calls][:2] == ["getMe", "deleteWebhook"]
    assert fake.rejected == []
