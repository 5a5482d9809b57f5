"""End to end: feeds on the local feed server, the real PTB client against the fake Bot API."""

from __future__ import annotations

import html
from typing import Any

import pytest

from bot import db
from bot.subscriptions import ChatRef
from tests.conftest import ADMIN_ID, Bots
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.feed_server import FeedServer, atom, rss

NATO_ITEM = {
    "title": "NATO allies meet in Brussels",
    "link": "https://news.example.com/nato-brussels",
    "guid": "nato-1",
    "description": "Defence ministers of NATO discussed support for Ukraine. More talks follow next week.",
}
OTHER_ITEM = {
    "title": "Local bakery wins prize",
    "link": "https://news.example.com/bakery",
    "guid": "bakery-1",
    "description": "The best bread in town, say the judges.",
}
OLD_ITEM = {
    "title": "NATO summit announced last month",
    "link": "https://news.example.com/old",
    "guid": "old-1",
    "description": "An item that was in the feed before the bot first saw it.",
}


async def command(api: FakeBotApi, chat_id: int, text: str, **kw: Any) -> str:
    """Send a command as a user and return the bot's reply text."""
    before = len(api.messages_to(chat_id))
    api.add_message(chat_id, text, **kw)
    sent = await api.wait_for_sent(before + 1, chat_id=chat_id)
    return sent[-1].text


async def start_with_feed(
    bots: Bots, make_settings: Any, feed_server: FeedServer, items: list[dict[str, str]], **sections: Any
) -> Any:
    feed_server.set_feed("/world.xml", rss(items, title="World"))
    settings = make_settings(feeds=[{"name": "World", "url": feed_server.url("/world.xml")}], **sections)
    runtime = await bots.start(settings)
    report = await runtime.poller.tick(force=True)  # the first poll is the baseline
    assert report.failed == 0 and report.alerts == 0
    return runtime


async def test_subscribe_then_one_alert_for_a_matching_item(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [OLD_ITEM])
    assert "/subscribe" in await command(bot_api, 42, "/start")
    reply = await command(bot_api, 42, "/subscribe nato")
    assert "Subscribed" in reply and "nato" in reply

    feed_server.set_feed("/world.xml", rss([NATO_ITEM, OTHER_ITEM, OLD_ITEM], title="World"))
    report = await runtime.poller.tick(force=True)
    assert report.new_articles == 2 and report.alerts == 1

    alerts = await bot_api.wait_for_sent(3, chat_id=42)  # help, subscribed, alert
    await runtime.outbox.drained()
    assert len(bot_api.messages_to(42)) == 3, "exactly one alert, nothing for the bakery or the old item"
    alert = alerts[-1]
    assert alert.parse_mode == "HTML"
    assert NATO_ITEM["title"] in alert.text
    assert NATO_ITEM["link"] in alert.links
    assert "World" in alert.text
    assert "nato" in alert.text.lower().split("matched:")[1]
    assert "Defence ministers" in alert.text
    assert not bot_api.rejected


async def test_restart_never_resends(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    await command(bot_api, 7, "/subscribe nato")
    feed_server.set_feed("/world.xml", rss([NATO_ITEM], title="World"))
    await runtime.poller.tick(force=True)
    await bot_api.wait_for_sent(2, chat_id=7)
    await runtime.outbox.drained()
    settings = runtime.settings
    await bots.stop(runtime)

    again = await bots.start(settings)
    report = await again.poller.tick(force=True)
    assert report.new_articles == 0
    feed_server.set_feed("/world.xml", rss([NATO_ITEM, OTHER_ITEM], title="World"))  # changes the body
    report = await again.poller.tick(force=True)
    assert report.new_articles == 1 and report.alerts == 0
    await again.outbox.drained()
    assert len(bot_api.messages_to(7)) == 2


async def test_429_storm_every_chat_gets_exactly_one(
    bots: Bots, make_settings: Any, feed_server: FeedServer
) -> None:
    # 15 a second: any reasonable sender exceeds it, however busy the machine, so the storm happens.
    strict = FakeBotApi(rate_limits=True, global_per_second=15, per_chat_per_second=1, retry_after=1)
    await strict.start()
    try:
        # Our pacing is set above the fake's limits, so the fake's 429s really happen.
        runtime = await start_with_feed(
            bots,
            make_settings,
            feed_server,
            [],
            telegram={"api_base_url": strict.root, "token": strict.token},
            delivery={"global_per_second": 60, "per_chat_per_second": 5, "parallel_chats": 16},
        )
        chats = list(range(5000, 5100))
        for chat_id in chats:
            await runtime.subscriptions.subscribe(
                ChatRef(chat_id), "nato", "nato", limit=10, now=runtime.poller.clock()
            )
        feed_server.set_feed("/world.xml", rss([NATO_ITEM], title="World"))
        report = await runtime.poller.tick(force=True)
        assert report.alerts == 100
        await strict.wait_for_sent(100, timeout=60)
        await runtime.outbox.drained(timeout=30)
        assert sorted(m.chat_id for m in strict.sent) == chats
        assert any(r.status == 429 for r in strict.rejected), "the storm must really have happened"
        assert strict.violations == 0, "nothing may be sent inside an announced wait window"
        async with runtime.store.read() as session:
            assert (await db.delivery_counts(session)) == {"sent": 100}
        await bots.stop(runtime)
    finally:
        await strict.stop()


async def test_hostile_title_arrives_as_text_and_a_blocked_chat_is_deactivated(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    for chat_id in (11, 12, 13):
        await command(bot_api, chat_id, "/subscribe nato")
    bot_api.block_chat(12)
    hostile = {
        "title": "NATO <script>alert(1)</script> & a < b",
        "link": 'https://news.example.com/x?a=1&b="2"',
        "id": "hostile-1",
        "summary": "<p>NATO &amp; friends</p>",
    }
    # An Atom title is plain text unless it says otherwise: these characters are the title.
    feed_server.set_feed(
        "/world.xml", atom([hostile], title="World <b>&"), content_type="application/atom+xml"
    )
    await runtime.poller.tick(force=True)
    sent = await bot_api.wait_for_sent(2, chat_id=11)
    await bot_api.wait_for_sent(2, chat_id=13)
    await runtime.outbox.drained()
    alert = sent[-1]
    assert "NATO <script>alert(1)</script> & a < b" in alert.text
    assert "NATO & friends" in alert.text
    assert alert.links == ["https://news.example.com/x?a=1&b=%222%22"]
    # The one refusal is the blocked chat's alert; the hostile text itself was accepted.
    assert [(r.method, str(r.params.get("chat_id")), r.status) for r in bot_api.rejected] == [
        ("sendMessage", "12", 403)
    ]
    async with runtime.store.read() as session:
        chat = await db.get_chat(session, 12)
        assert chat is not None and chat.active is False
    # A blocked chat gets no more requests.
    calls_before = sum(1 for c in bot_api.calls if c.params.get("chat_id") in (12, "12"))
    feed_server.set_feed("/world.xml", atom([hostile, {**NATO_ITEM, "id": "nato-1"}], title="World"))
    await runtime.poller.tick(force=True)
    await bot_api.wait_for_sent(3, chat_id=11)
    await runtime.outbox.drained()
    assert sum(1 for c in bot_api.calls if c.params.get("chat_id") in (12, "12")) == calls_before
    # /start wakes it up again, with no backlog replay.
    bot_api.unblock_chat(12)
    await command(bot_api, 12, "/start")
    await runtime.outbox.drained()
    assert len(bot_api.messages_to(12)) == 2  # "subscribed" and the /start reply


async def test_failing_feeds_never_hurt_the_healthy_one(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/good.xml", rss([], title="Good"))
    feed_server.set_status("/missing.xml", 404)
    feed_server.set_status("/broken.xml", 500)
    feed_server.set_feed("/slow.xml", rss([], title="Slow"))
    feed_server.set_delay("/slow.xml", 10)
    feed_server.set_feed("/invalid.xml", b"<html><body>not a feed", content_type="text/html")
    feed_server.set_huge("/huge.xml", size=3 * 1024 * 1024)
    feed_server.set_redirect("/loop-a.xml", feed_server.url("/loop-b.xml"))
    feed_server.set_redirect("/loop-b.xml", feed_server.url("/loop-a.xml"))
    paths = [
        "/good.xml",
        "/missing.xml",
        "/broken.xml",
        "/slow.xml",
        "/invalid.xml",
        "/huge.xml",
        "/loop-a.xml",
    ]
    settings = make_settings(
        feeds=[{"url": feed_server.url(p)} for p in paths],
        polling={"timeout_seconds": 1, "max_body_bytes": 1024 * 1024},
    )
    runtime = await bots.start(settings)
    await runtime.poller.tick(force=True)
    await command(bot_api, 99, "/subscribe nato")
    feed_server.set_feed("/good.xml", rss([NATO_ITEM], title="Good"))
    report = await runtime.poller.tick(force=True)
    assert report.alerts == 1
    await bot_api.wait_for_sent(2, chat_id=99)
    async with runtime.store.read() as session:
        errors = {
            f.url.rsplit("/", 1)[1]: (f.error_count, f.last_error) for f in await db.list_feeds(session)
        }
    assert errors["good.xml"] == (0, None)
    expected = {
        "missing.xml": "HTTP 404",
        "broken.xml": "HTTP 500",
        "slow.xml": "timeout",
        "invalid.xml": "not a feed",
        "huge.xml": "too large",
        "loop-a.xml": "redirect",
    }
    for name, fragment in expected.items():
        count, error = errors[name]
        assert count == 2 and error and fragment in error, (name, error)


async def test_admin_adds_a_feed_and_its_backlog_is_not_alerted(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await bots.start(make_settings())
    await command(bot_api, 55, "/subscribe nato")
    feed_server.set_feed("/new.xml", atom([{**OLD_ITEM, "id": "old"}], title="Fresh <News>"))
    refused = await command(bot_api, 55, f"/addfeed {feed_server.url('/new.xml')}")
    assert "admins" in refused
    reply = await command(bot_api, ADMIN_ID, f"/addfeed {feed_server.url('/new.xml')}")
    assert "Fresh <News>" in reply and "1 items" in reply
    again = await command(bot_api, ADMIN_ID, f"/addfeed {feed_server.url('/new.xml')}")
    assert "already added" in again
    feeds_reply = await command(bot_api, 55, "/feeds")
    assert "Fresh <News>" in feeds_reply
    report = await runtime.poller.tick(force=True)
    assert report.alerts == 0
    await runtime.outbox.drained()
    assert len(bot_api.messages_to(55)) == 3


@pytest.mark.parametrize(
    "text",
    ["/subscribe", '/subscribe "unclosed', "/unsubscribe", "/latest 0"],
    ids=["empty", "unclosed", "unsubscribe-empty", "latest-zero"],
)
async def test_bad_arguments_get_a_usage_reply(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, text: str
) -> None:
    runtime = await bots.start(make_settings())
    reply = await command(bot_api, 31, text)
    assert reply.startswith("⚠️")
    async with runtime.store.read() as session:
        assert not await db.list_subscriptions(session, 31)


async def test_list_and_unsubscribe(bots: Bots, make_settings: Any, bot_api: FakeBotApi) -> None:
    await bots.start(make_settings())
    await command(bot_api, 8, "/subscribe nato")
    await command(bot_api, 8, '/subscribe "climate change"')
    listing = await command(bot_api, 8, "/list")
    assert "#1 nato" in listing and '"climate change"' in listing
    assert "Removed #1" in await command(bot_api, 8, "/unsubscribe 1")
    assert "No subscription" in await command(bot_api, 8, "/unsubscribe 1")
    assert html.escape("<b>") not in await command(bot_api, 8, "/unsubscribe <b>")


async def alert_for(runtime: Any, feed_server: FeedServer, item: dict[str, str]) -> None:
    feed_server.set_feed("/world.xml", rss([item], title="World"))
    report = await runtime.poller.tick(force=True)
    assert report.alerts == 1  # each caller has one subscribed chat


async def test_parse_error_is_resent_once_as_plain_text(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    await command(bot_api, 21, "/subscribe nato")
    bot_api.fail_next("sendMessage", 400, "Bad Request: can't parse entities: Unsupported start tag")
    await alert_for(runtime, feed_server, NATO_ITEM)
    sent = await bot_api.wait_for_sent(2, chat_id=21)
    await runtime.outbox.drained()
    assert len(bot_api.messages_to(21)) == 2
    assert sent[-1].parse_mode is None and NATO_ITEM["title"] in sent[-1].text
    assert NATO_ITEM["link"] in sent[-1].text
    async with runtime.store.read() as session:
        assert await db.delivery_counts(session) == {"sent": 1}


async def test_server_errors_are_retried_until_sent(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    await command(bot_api, 22, "/subscribe nato")
    bot_api.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    await alert_for(runtime, feed_server, NATO_ITEM)
    await bot_api.wait_for_sent(2, chat_id=22, timeout=15)
    await runtime.outbox.drained()
    assert len(bot_api.messages_to(22)) == 2
    async with runtime.store.read() as session:
        assert await db.delivery_counts(session) == {"sent": 1}


async def test_group_upgraded_to_supergroup_is_followed(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    bot_api.set_chat_administrators(-300, [5])
    await command(bot_api, -300, "/subscribe nato", chat_type="group", user_id=5)
    bot_api.migrate_chat(-300, -1000000000300)
    await alert_for(runtime, feed_server, NATO_ITEM)
    [alert] = await bot_api.wait_for_sent(1, chat_id=-1000000000300)
    assert NATO_ITEM["title"] in alert.text
    async with runtime.store.read() as session:
        assert await db.get_chat(session, -300) is None
        assert [s.query for s in await db.list_subscriptions(session, -1000000000300)] == ["nato"]


async def test_paused_chat_gets_nothing_and_resume_replays_nothing(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    await command(bot_api, 23, "/subscribe nato")
    assert "paused" in await command(bot_api, 23, "/pause")
    feed_server.set_feed("/world.xml", rss([NATO_ITEM], title="World"))
    report = await runtime.poller.tick(force=True)
    assert report.alerts == 0
    assert "resumed" in await command(bot_api, 23, "/resume")
    await alert_for(
        runtime,
        feed_server,
        {**NATO_ITEM, "guid": "nato-2", "title": "NATO again", "link": "https://news.example.com/nato-2"},
    )
    sent = await bot_api.wait_for_sent(4, chat_id=23)
    await runtime.outbox.drained()
    assert [m.text.split("\n")[0] for m in sent[3:]] == ["NATO again"]


async def test_zero_width_joiners_reach_the_alert_and_matching_ignores_them(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await start_with_feed(bots, make_settings, feed_server, [])
    assert "Subscribed" in await command(bot_api, 45, "/subscribe میخواهم")  # typed without the ZWNJ
    title = "می\u200cخواهم بروم \U0001f468\u200d\U0001f469\u200d\U0001f467"
    story = {**NATO_ITEM, "title": title, "description": f"<p>{title}.</p>"}
    feed_server.set_feed("/world.xml", rss([story], title="World"))
    assert (await runtime.poller.tick(force=True)).alerts == 1
    alert = (await bot_api.wait_for_sent(2, chat_id=45))[-1]
    assert title in alert.text
