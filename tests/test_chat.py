"""The chat interface through the real PTB client and the fake Bot API: commands, buttons, groups."""

from __future__ import annotations

from typing import Any

from bot import db
from tests.conftest import ADMIN_ID, Bots
from tests.fakes.bot_api import FakeBotApi, SentMessage
from tests.fakes.feed_server import FeedServer, rss
from tests.test_pipeline import command, start_with_feed


def buttons(message: SentMessage) -> list[dict[str, Any]]:
    markup = message.reply_markup or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def press(
    api: FakeBotApi,
    message: SentMessage,
    label: str,
    *,
    user_id: int | None = None,
    data: str | None = None,
    language_code: str = "en",
) -> str:
    """Press the button whose text contains `label` (or send raw `data`); return the short answer."""
    if data is None:
        [found] = [b for b in buttons(message) if label in b["text"]]
        data = found["callback_data"]
    before = len(api.callback_answers)
    api.add_callback_query(
        message.chat_id, message.message_id, data, user_id=user_id, language_code=language_code
    )
    calls = await api.wait_for_call("answerCallbackQuery", count=before + 1)
    assert calls
    await api.wait_until_idle_polling()
    return str(api.callback_answers[before].get("text") or "")


def news(n: int, word: str = "NATO") -> list[dict[str, str]]:
    return [
        {
            "title": f"{word} story {i}",
            "link": f"https://news.example.com/{word}/{i}",
            "guid": f"{word}-{i}",
            "description": f"Report number {i} about {word}.",
        }
        for i in range(n)
    ]


async def test_subscribe_replies_with_a_backtest(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    await start_with_feed(bots, make_settings, feed_server, news(4) + news(2, "bakery"))
    reply = await command(bot_api, 40, "/subscribe nato")
    assert "Subscribed #1" in reply and "would have matched: 4" in reply
    [sent] = bot_api.messages_to(40)
    assert len(sent.links) == 3 and all("/NATO/" in link for link in sent.links)
    assert "already have" in await command(bot_api, 40, "/subscribe NATO")


async def test_subscription_limit_and_bad_queries(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    runtime = await bots.start(make_settings(limits={"subscriptions_per_chat": 2}))
    await command(bot_api, 41, "/subscribe a1")
    await command(bot_api, 41, "/subscribe b2")
    assert "most allowed" in await command(bot_api, 41, "/subscribe c3")
    odd = {
        "x" * 5000: "⚠️ Query error at position 201: the query is longer than 200 characters",
        "\x00\x07\u202e": "⚠️ Query error at position 1: the query is empty",
        "🙂🙂🙂": "⚠️ Query error at position 1: the query is empty",
        '"unclosed': "⚠️ Query error at position 1: a quote is not closed",
        "-only": "⚠️ Query error at position 1: the query needs at least one word to look for",
    }
    for text, error in odd.items():
        assert await command(bot_api, 42, f"/subscribe {text}") == error
    reply = await command(bot_api, 42, "/subscribe <b>&amp;</b>")
    assert reply.startswith("✅ Subscribed #") and ": <b>&amp;</b>\n" in reply  # shown as typed
    assert not bot_api.rejected
    async with runtime.store.read() as session:
        assert len(await db.list_subscriptions(session, 41)) == 2


async def test_unsubscribe_all_asks_first(bots: Bots, make_settings: Any, bot_api: FakeBotApi) -> None:
    runtime = await bots.start(make_settings())
    await command(bot_api, 43, "/subscribe nato")
    await command(bot_api, 43, "/subscribe 乌克兰")
    await command(bot_api, 43, "/unsubscribe all")
    ask = bot_api.messages_to(43)[-1]
    await press(bot_api, ask, "Cancel")
    assert bot_api.message(43, ask.message_id).text == "Cancelled."
    await command(bot_api, 43, "/unsubscribe all")
    ask = bot_api.messages_to(43)[-1]
    await press(bot_api, ask, "Yes")
    assert "Removed 2 subscriptions" in bot_api.message(43, ask.message_id).text
    async with runtime.store.read() as session:
        assert not await db.list_subscriptions(session, 43)
    assert len(runtime.subscriptions.index) == 0


async def test_list_remove_button_edits_the_list(bots: Bots, make_settings: Any, bot_api: FakeBotApi) -> None:
    await bots.start(make_settings())
    await command(bot_api, 44, "/subscribe nato")
    await command(bot_api, 44, "/subscribe brexit")
    await command(bot_api, 44, "/list")
    listing = bot_api.messages_to(44)[-1]
    assert "#1 nato" in listing.text and "#2 brexit" in listing.text
    await press(bot_api, listing, "#1")
    edited = bot_api.message(44, listing.message_id)
    assert "nato" not in edited.text and "#2 brexit" in edited.text
    assert len(bot_api.messages_to(44)) == 3  # answered by an edit, not a new message


async def test_alert_buttons_mute_and_unsubscribe(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    await command(bot_api, 45, "/subscribe nato")
    feed_server.set_feed("/world.xml", rss(news(1), title="World"))
    await runtime.poller.tick(force=True)
    alert = (await bot_api.wait_for_sent(2, chat_id=45))[-1]
    assert [b["text"] for b in buttons(alert)] == ["Mute «nato»", "Unsubscribe"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(alert))
    assert "Muted" in await press(bot_api, alert, "Mute")
    assert next(b["text"] for b in buttons(bot_api.message(45, alert.message_id))) == "Unmute «nato»"
    feed_server.set_feed("/world.xml", rss(news(2), title="World"))
    assert (await runtime.poller.tick(force=True)).alerts == 0
    await press(bot_api, bot_api.message(45, alert.message_id), "Unmute")
    feed_server.set_feed("/world.xml", rss(news(3), title="World"))
    assert (await runtime.poller.tick(force=True)).alerts == 1
    second = (await bot_api.wait_for_sent(3, chat_id=45))[-1]
    assert "Unsubscribed" in await press(bot_api, second, "Unsubscribe")
    assert not buttons(bot_api.message(45, second.message_id))
    async with runtime.store.read() as session:
        assert not await db.list_subscriptions(session, 45)
    # The first alert's buttons are stale now: a polite answer, nothing changes.
    assert "no longer valid" in await press(bot_api, bot_api.message(45, alert.message_id), "Mute")


async def test_forged_and_foreign_buttons_change_nothing(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    runtime = await bots.start(make_settings())
    await command(bot_api, 46, "/subscribe nato")
    await command(bot_api, 46, "/list")
    listing = bot_api.messages_to(46)[-1]
    real = buttons(listing)[0]["callback_data"]
    for forged in ["r:1:AAAAAAAA", "r:1", "x" * 64, "r:1:" + real.rsplit(":", 1)[1][::-1], "ua:" + real[-8:]]:
        assert "no longer valid" in await press(bot_api, listing, "", data=forged)
    # Another chat's subscription id, even with a valid signature, is not this chat's to remove.
    await command(bot_api, 47, "/list")
    other = bot_api.messages_to(47)[-1]
    assert "no longer valid" in await press(bot_api, other, "", data=real)
    async with runtime.store.read() as session:
        assert len(await db.list_subscriptions(session, 46)) == 1


async def test_latest_and_search_paging(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    await start_with_feed(bots, make_settings, feed_server, news(12) + news(3, "bakery"))
    latest = await command(bot_api, 48, "/latest 99999999999999999999")
    assert latest.count("•") == 15
    assert (await command(bot_api, 48, "/latest 2 bakery")).count("•") == 2
    assert "between" not in await command(bot_api, 48, "/latest -1")
    await command(bot_api, 48, "/search nato -bakery")
    page = bot_api.messages_to(48)[-1]
    assert page.text.count("•") == 5 and "page 1" in page.text
    assert "NATO story 11" in page.text  # newest first
    await press(bot_api, page, "Older")
    page2 = bot_api.message(48, page.message_id)
    assert "page 2" in page2.text and "NATO story 6" in page2.text and "NATO story 11" not in page2.text
    await press(bot_api, page2, "Older")
    page3 = bot_api.message(48, page.message_id)
    assert page3.text.count("•") == 2 and not [b for b in buttons(page3) if "Older" in b["text"]]
    await press(bot_api, page3, "Newer")
    assert "page 2" in bot_api.message(48, page.message_id).text


async def test_admin_commands_are_refused_to_others(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, news(2))
    for text in ["/stats", "/removefeed 1", f"/addfeed {feed_server.url('/x.xml')}"]:
        assert "admins" in await command(bot_api, 49, text)
    stats = await command(bot_api, ADMIN_ID, "/stats")
    assert "Feeds: 1 healthy" in stats and "Articles stored: 2" in stats
    health = await command(bot_api, ADMIN_ID, "/feeds")
    assert "ok" in health and "last success" in health
    assert "last success" not in await command(bot_api, 49, "/feeds")
    await command(bot_api, ADMIN_ID, "/removefeed 1")
    ask = bot_api.messages_to(ADMIN_ID)[-1]
    assert "no longer valid" not in await press(bot_api, ask, "Yes")
    assert "Removed feed #1" in bot_api.message(ADMIN_ID, ask.message_id).text
    assert "No feeds yet" in await command(bot_api, 49, "/feeds")
    assert (await runtime.poller.tick(force=True)).polled == 0
    async with runtime.store.read() as session:
        assert await db.count_articles(session) == 2  # history is kept


async def test_groups_only_administrators_change_subscriptions(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    runtime = await bots.start(make_settings())
    bot_api.set_chat_administrators(-500, [7])
    refused = await command(bot_api, -500, "/subscribe nato", chat_type="group", user_id=8)
    assert "only its administrators" in refused
    assert "Subscribed" in await command(bot_api, -500, "/subscribe nato", chat_type="group", user_id=7)
    bot_api.add_message(-500, "/subscribe@some_other_bot brexit", chat_type="group", user_id=7)
    assert "#1 nato" in await command(bot_api, -500, "/list", chat_type="group", user_id=8)
    async with runtime.store.read() as session:
        assert [s.query for s in await db.list_subscriptions(session, -500)] == ["nato"]


async def test_replies_follow_the_users_language(bots: Bots, make_settings: Any, bot_api: FakeBotApi) -> None:
    await bots.start(make_settings())
    assert "已订阅" in await command(bot_api, 50, "/subscribe 乌克兰", language_code="zh-hans")
    assert "Subscribed" in await command(bot_api, 51, "/subscribe nato", language_code="en")
    error = await command(bot_api, 50, '/subscribe "abc', language_code="zh-hans")
    assert "查询错误" in error
    await command(bot_api, 51, "/lang zh")
    assert "你的订阅" in await command(bot_api, 51, "/list")
    assert "Language set to English" in await command(bot_api, 51, "/lang en")
    assert "/lang" in await command(bot_api, 51, "/lang fr")


async def test_command_flood_is_slowed_without_hurting_others(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    await bots.start(make_settings())
    for _ in range(35):
        bot_api.add_message(52, "/help")
    await bot_api.wait_until_idle_polling()
    assert "Commands" in await command(bot_api, 53, "/help")
    texts = [m.text for m in bot_api.messages_to(52)]
    assert texts.count("🐢 Too many commands. Please slow down.") == 1
    assert len(texts) == 31


async def test_menus_are_set_and_edited_commands_do_not_rerun(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    runtime = await bots.start(make_settings())
    default = [c["command"] for c in bot_api.commands["default"]]
    assert "subscribe" in default and "addfeed" not in default
    admin_scopes = [k for k in bot_api.commands if str(ADMIN_ID) in k]
    assert admin_scopes and "addfeed" in [c["command"] for c in bot_api.commands[admin_scopes[0]]]
    await command(bot_api, 54, "/subscribe alpha")
    bot_api.add_message(54, "/subscribe beta", edited=True)
    await command(bot_api, 54, "/help")
    async with runtime.store.read() as session:
        assert [s.query for s in await db.list_subscriptions(session, 54)] == ["alpha"]


async def test_a_refused_command_menu_does_not_stop_the_bot(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    bot_api.fail_next("setMyCommands", 400, "Bad Request: BOT_COMMANDS_TOO_MUCH", times=10)
    await bots.start(make_settings())
    assert "Commands" in await command(bot_api, 55, "/help")


async def test_group_migration_message_moves_subscriptions(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    runtime = await bots.start(make_settings())
    bot_api.set_chat_administrators(-600, [7])
    await command(bot_api, -600, "/subscribe nato", chat_type="group", user_id=7)
    bot_api.add_message(-600, "", chat_type="group", user_id=7, migrate_to_chat_id=-1000000000600)
    bot_api.set_chat_administrators(-1000000000600, [7])
    listing = await command(bot_api, -1000000000600, "/list", chat_type="supergroup", user_id=7)
    assert "#1 nato" in listing
    async with runtime.store.read() as session:
        assert await db.get_chat(session, -600) is None


async def test_addfeed_refuses_with_the_reason(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    await bots.start(make_settings(polling={"allow_private_addresses": False}))
    feed_server.set_feed("/ok.xml", rss(news(1), title="OK"))
    private = await command(bot_api, ADMIN_ID, f"/addfeed {feed_server.url('/ok.xml')}")
    assert "refused" in private and "private" in private
    for url, reason in [
        ("ftp://example.com/feed", "http"),
        ("not-a-url", "URL"),
        ("http://127.1/", "numeric"),
    ]:
        assert reason in await command(bot_api, ADMIN_ID, f"/addfeed {url}")
    assert "Usage" in await command(bot_api, ADMIN_ID, "/addfeed")
    assert "No feeds yet" in await command(bot_api, ADMIN_ID, "/feeds")


async def test_addfeed_refuses_non_feeds_and_dead_servers(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    await bots.start(make_settings())
    feed_server.set_feed("/page.html", b"<html><body>Login</body></html>", content_type="text/html")
    feed_server.set_status("/gone.xml", 404)
    assert "not a feed" in await command(bot_api, ADMIN_ID, f"/addfeed {feed_server.url('/page.html')}")
    assert "HTTP 404" in await command(bot_api, ADMIN_ID, f"/addfeed {feed_server.url('/gone.xml')}")


async def test_anonymous_group_admin_is_not_a_bot_admin(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    await bots.start(make_settings())
    refused = await command(
        bot_api, -700, "/stats", chat_type="supergroup", user_id=1087968824, sender_chat_id=-700
    )
    assert "admins" in refused


async def test_opml_export_and_import_in_chat(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    assert "admins" in await command(bot_api, 60, "/export")
    bot_api.add_message(ADMIN_ID, "/export")
    [export] = [m for m in await bot_api.wait_for_sent(1, chat_id=ADMIN_ID) if m.filename]
    assert export.file_bytes is not None and feed_server.url("/world.xml").encode() in export.file_bytes
    opml = (
        b'<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>'
        b'<outline text="Tech"><outline text="One" xmlUrl="https://one.example.com/feed"/>'
        b'<outline text="Again" xmlUrl="' + feed_server.url("/world.xml").encode() + b'"/></outline>'
        b'<outline text="Bad" xmlUrl="file:///etc/passwd"/></body></opml>'
    )
    before = len(bot_api.messages_to(ADMIN_ID))
    bot_api.add_message(
        ADMIN_ID, "/import", document={"file_name": "feeds.opml", "mime_type": "text/xml"}, file_bytes=opml
    )
    report = (await bot_api.wait_for_sent(before + 1, chat_id=ADMIN_ID))[-1].text
    assert "1 added, 1 already present, 1 refused" in report and "one.example.com" in report
    async with runtime.store.read() as session:
        assert len(await db.list_feeds(session)) == 2
    assert "Usage" in await command(bot_api, ADMIN_ID, "/import")
    bot_api.add_message(ADMIN_ID, "/import", document={"file_name": "x.opml"}, file_bytes=b"<html>no</html>")
    assert "⚠️" in (await bot_api.wait_for_sent(before + 3, chat_id=ADMIN_ID))[-1].text


async def test_search_finds_what_alerts_would_match(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    items = [
        {"title": "Talks in Zürich end", "link": "https://e.com/1", "guid": "1"},
        {"title": "ＮＡＴＯ summit (full-width)", "link": "https://e.com/2", "guid": "2"},
        {"title": "非洲疟疾疫苗试验", "link": "https://e.com/3", "guid": "3"},
        {"title": "Senator speaks", "link": "https://e.com/4", "guid": "4"},
    ]
    await start_with_feed(bots, make_settings, feed_server, items)
    assert "Zürich" in await command(bot_api, 61, "/search zurich")
    found = await command(bot_api, 61, "/search nato")
    assert "summit" in found and "Senator" not in found
    assert "疟疾" in await command(bot_api, 61, "/search 疟疾")
    assert "疟疾" in await command(bot_api, 61, "/latest 5 疟疾")


async def test_resume_skips_a_stored_query_that_no_longer_parses(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi
) -> None:
    """A row an older version accepted does not break /resume; the chat's good queries come back."""
    from datetime import UTC, datetime

    runtime = await bots.start(make_settings())
    await command(bot_api, 72, "/subscribe nato")
    async with runtime.store.write() as session:
        await db.add_subscription(session, 72, "a (((b", "from an older version", datetime.now(UTC))
    await command(bot_api, 72, "/pause")
    assert len(runtime.subscriptions.index) == 0
    assert "resumed" in await command(bot_api, 72, "/resume")
    assert len(runtime.subscriptions.index) == 1
    listing = await command(bot_api, 72, "/list")
    assert "nato" in listing and "(((b" in listing


async def test_search_latest_and_backtest_read_the_body(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    """A word only the bodies hold: /search and /latest list those articles, /subscribe counts them."""
    items = [
        {
            "title": f"Alliance meets {i}",
            "link": f"https://e.com/a{i}",
            "guid": f"a{i}",
            "description": "Ministers met in Brussels.",
            "content": f"<p>Stoltenberg said round {i} went well.</p>",
        }
        for i in range(3)
    ] + [{"title": "Weather", "link": "https://e.com/w", "guid": "w", "content": "<p>Rain and sun.</p>"}]
    await start_with_feed(bots, make_settings, feed_server, items)
    found = await command(bot_api, 63, "/search stoltenberg")
    assert found.count("•") == 3 and "Alliance meets 2" in found and "Weather" not in found
    assert (await command(bot_api, 63, "/latest 20 stoltenberg")).count("•") == 3
    assert "would have matched: 3" in await command(bot_api, 63, "/subscribe stoltenberg")


async def test_search_and_latest_list_by_date_not_by_arrival(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    """An item that appears in a later poll with an older date is listed below the newer ones."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    def item(name: str, hours_ago: float) -> dict[str, str]:
        published = datetime.now(UTC) - timedelta(hours=hours_ago)
        return {
            "title": f"NATO {name}",
            "link": f"https://e.com/{name}",
            "guid": name,
            "pubDate": format_datetime(published),
        }

    first = [item("two hours ago", 2), item("one hour ago", 1)]
    runtime = await start_with_feed(bots, make_settings, feed_server, first)
    feed_server.set_feed("/world.xml", rss([*first, item("three hours ago", 3)], title="World"))
    assert (await runtime.poller.tick(force=True)).failed == 0
    for text in ("/search nato", "/latest 5 nato", "/latest"):
        reply = await command(bot_api, 64, text)
        positions = [reply.index(f"NATO {n} hour") for n in ("one", "two", "three")]
        assert positions == sorted(positions), (text, reply)
