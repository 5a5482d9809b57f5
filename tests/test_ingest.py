"""Feed ingestion end to end (RELIABILITY §1 rows and §2 inputs that need the poller and the database)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import db
from tests.conftest import ADMIN_ID, Bots
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.feed_server import FeedServer, rss
from tests.test_pipeline import command


def item(n: int, **kw: str) -> dict[str, str]:
    base = {
        "title": f"NATO item {n}",
        "link": f"https://news.example.com/a/{n}",
        "guid": f"g-{n}",
        "description": f"About NATO, number {n}.",
    }
    return {**base, **kw}


async def started(
    bots: Bots,
    make_settings: Any,
    feed_server: FeedServer,
    items: list[dict[str, str]],
    path: str = "/f.xml",
    **polling: Any,
) -> Any:
    feed_server.set_feed(path, rss(items, title="F"))
    runtime = await bots.start(
        make_settings(
            feeds=[{"name": "F", "url": feed_server.url(path)}], polling={"interval_seconds": 3600, **polling}
        )
    )
    assert (await runtime.poller.tick(force=True)).failed == 0
    return runtime


async def subscribe(api: FakeBotApi, chat_id: int = 70, query: str = "nato") -> None:
    assert "Subscribed" in await command(api, chat_id, f"/subscribe {query}")


async def feed_row(runtime: Any) -> db.Feed:
    async with runtime.store.read() as session:
        [feed] = await db.list_feeds(session)
        return feed


async def test_s1_row4_conditional_get_costs_nothing(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(bots, make_settings, feed_server, [item(1)])
    report = await runtime.poller.tick(force=True)
    assert report.new_articles == 0 and report.failed == 0
    second = feed_server.requests[-1]
    assert "If-None-Match" in second.headers or "if-none-match" in {k.lower() for k in second.headers}
    assert {k.lower() for k in second.headers} >= {"if-none-match", "if-modified-since"}
    assert (await feed_row(runtime)).error_count == 0


async def test_s1_row9_shared_and_missing_guids_alert_once_each(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(bots, make_settings, feed_server, [])
    await subscribe(bot_api)
    shared = [item(n, guid="same") for n in range(5)]
    bare = [{"title": f"NATO bare {n}", "description": f"NATO text {n}"} for n in range(3)]
    feed_server.set_feed("/f.xml", rss(shared + bare, title="F"))
    assert (await runtime.poller.tick(force=True)).alerts == 8
    await bot_api.wait_for_sent(9, chat_id=70)
    for _ in range(2):
        feed_server.set_feed("/f.xml", rss(shared + bare + [item(99, guid="x", title="Other")], title="F"))
        assert (await runtime.poller.tick(force=True)).alerts <= 1
    await runtime.outbox.drained()
    titles = [m.text.split("\n")[0] for m in bot_api.messages_to(70)[1:]]
    assert len(titles) == len(set(titles)) == 9


def shared(n: int, link: str | None) -> dict[str, str]:
    """Item n of a feed that gives every item one GUID; its link is its own, shared, or none."""
    links = {"own": f"https://news.example.com/a/{n}", "shared": "https://news.example.com/"}
    entry = item(n, guid="same", title=f"NATO shared-guid story {n}")
    if link is None:
        del entry["link"]
    else:
        entry["link"] = links[link]
    return entry


async def alerted_titles(runtime: Any, api: FakeBotApi, chat_id: int = 70) -> list[str]:
    await runtime.outbox.drained()
    return [m.text.split("\n")[0] for m in api.messages_to(chat_id)[1:]]


@pytest.mark.parametrize("link", ["own", "shared", None], ids=["own-links", "shared-link", "no-links"])
async def test_shared_guid_items_come_and_go_each_alerted_once(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer, link: str | None
) -> None:
    runtime = await started(bots, make_settings, feed_server, [])
    await subscribe(bot_api)
    a, b, c, d, e = (shared(n, link) for n in range(1, 6))
    polls = [([a, b, c], 3), ([d, a, b, c], 1), ([e, b, d], 1), ([a, e, c, b, d], 0)]
    for items, alerts in polls:
        feed_server.set_feed("/f.xml", rss(items, title="F"))
        report = await runtime.poller.tick(force=True)
        assert (report.new_articles, report.alerts) == (alerts, alerts), [i["title"] for i in items]
    titles = await alerted_titles(runtime, bot_api)
    assert sorted(titles) == [f"NATO shared-guid story {n}" for n in range(1, 6)]
    if link is None:  # the GUID "same" is no URL: the alerts go without a link, the title as text
        assert not any(m.links for m in bot_api.messages_to(70)[1:])


async def test_a_daily_title_of_one_feed_alerts_every_day(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    """The cross-feed rule is for copies in other feeds, not for a feed's own recurring titles."""
    runtime = await started(bots, make_settings, feed_server, [])
    await subscribe(bot_api)
    first_day = datetime.now(UTC) - timedelta(days=5)  # in the past: the alerts are due at once
    briefings: list[dict[str, str]] = []
    for day in range(4):
        runtime.poller.clock = lambda day=day: first_day + timedelta(days=day)
        briefings.insert(0, item(day, title="NATO daily briefing", link=f"https://news.example.com/b/{day}"))
        feed_server.set_feed("/f.xml", rss(briefings, title="F"))
        assert (await runtime.poller.tick(force=True)).alerts == 1, day
    assert await alerted_titles(runtime, bot_api) == ["NATO daily briefing"] * 4


async def test_s1_rows_12_13_dates_and_rotating_guids_make_nothing_new(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(bots, make_settings, feed_server, [item(1), item(2)])
    await subscribe(bot_api)
    feed_server.set_feed(
        "/f.xml", rss([item(1, pubDate="Mon, 01 Jan 2099 00:00:00 GMT"), item(2)], title="F")
    )
    assert (await runtime.poller.tick(force=True)).new_articles == 0
    for round_ in range(3):  # GUIDs regenerated on every fetch, links unchanged (or http -> https)
        rotated = [
            item(1, guid=f"r{round_}-1"),
            item(2, guid=f"r{round_}-2", link="http://news.example.com/a/2"),
        ]
        feed_server.set_feed("/f.xml", rss(rotated, title="F"))
        report = await runtime.poller.tick(force=True)
        assert report.new_articles == 2 and report.alerts == 0
    # Distinct items that share one link still alert.
    home = [item(n, link="https://news.example.com/") for n in (10, 11)]
    feed_server.set_feed("/f.xml", rss(home, title="F"))
    assert (await runtime.poller.tick(force=True)).alerts == 2


async def test_s1_row13_flood_alerts_newest_few_and_tells_admins(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(
        bots, make_settings, feed_server, [item(0)], max_new_per_poll=10, alert_newest_on_flood=3
    )
    await subscribe(bot_api)
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    many = [
        item(n, pubDate=(stamp + timedelta(minutes=n)).strftime("%a, %d %b %Y %H:%M:%S GMT"))
        for n in range(1, 31)
    ]
    feed_server.set_feed("/f.xml", rss(many, title="F"))
    report = await runtime.poller.tick(force=True)
    assert report.new_articles == 30 and report.alerts == 3
    sent = await bot_api.wait_for_sent(4, chat_id=70)
    assert {m.text.split("\n")[0] for m in sent[1:]} == {"NATO item 28", "NATO item 29", "NATO item 30"}
    [notice] = await bot_api.wait_for_sent(1, chat_id=ADMIN_ID)
    assert "30 new items" in notice.text


async def test_cross_feed_duplicates_reach_a_chat_once(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/a.xml", rss([], title="A"))
    feed_server.set_feed("/b.xml", rss([], title="B"))
    runtime = await bots.start(
        make_settings(feeds=[{"url": feed_server.url("/a.xml")}, {"url": feed_server.url("/b.xml")}])
    )
    await runtime.poller.tick(force=True)
    await subscribe(bot_api)
    story = item(
        1, title="NATO allies agree on a new defence spending plan", link="https://news.example.com/s?id=7"
    )
    feed_server.set_feed("/a.xml", rss([story], title="A"))
    assert (await runtime.poller.tick(force=True)).alerts == 1
    tracked = {
        **story,
        "guid": "b-1",
        "title": "Copy",
        "link": "https://news.example.com/s?id=7&utm_source=rss#top",
    }
    retitled = item(
        2,
        guid="b-2",
        title="NATO Allies agree on a new defence-spending plan!",
        link="https://other.example.org/copy",
    )
    feed_server.set_feed("/b.xml", rss([tracked, retitled], title="B"))
    assert (await runtime.poller.tick(force=True)).alerts == 0
    await runtime.outbox.drained()
    assert len(bot_api.messages_to(70)) == 2


async def test_s1_rows_7_11_moved_feed_keeps_url_rules_and_identity(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(bots, make_settings, feed_server, [item(1), item(2)])
    await subscribe(bot_api)
    feed_server.set_feed("/new.xml", rss([item(1), item(2)], title="F"))
    feed_server.set_redirect("/f.xml", feed_server.url("/temp.xml"), status=302)
    feed_server.set_redirect("/temp.xml", feed_server.url("/new.xml"), status=302)
    assert (await runtime.poller.tick(force=True)).alerts == 0
    assert (await feed_row(runtime)).url == feed_server.url("/f.xml")  # 302: followed, URL kept
    feed_server.set_redirect("/f.xml", feed_server.url("/new.xml"), status=301)
    feed_server.set_feed("/new.xml", rss([item(1), item(2), item(3)], title="F"))
    assert (await runtime.poller.tick(force=True)).alerts == 1
    assert (await feed_row(runtime)).url == feed_server.url("/new.xml")  # 301: URL updated
    hits = feed_server.hits("/f.xml")
    await runtime.poller.tick(force=True)
    assert feed_server.hits("/f.xml") == hits


async def test_s1_row5_retry_after_is_honoured_and_capped(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(bots, make_settings, feed_server, [], interval_seconds=60)
    # The second failure in a row: without a usable Retry-After the backoff is 60 s × 2 ± 20 %.
    for header, low, high in [("120", 119, 125), ("abc", 90, 150), ("99999999", 86_000, 86_401)]:
        feed_server.set_status("/f.xml", 429, headers={"Retry-After": header})
        before = datetime.now(UTC)
        await runtime.poller.tick(force=True)
        wait = ((await feed_row(runtime)).next_check_at - before).total_seconds()
        assert low <= wait <= high, (header, wait)


async def test_s1_rows_6_8_failures_back_off_notify_once_and_gone_stops(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(
        bots,
        make_settings,
        feed_server,
        [item(1)],
        interval_seconds=10,
        failure_alert_after=3,
        max_backoff_seconds=1000,
    )
    feed_server.set_status("/f.xml", 503)
    waits = []
    for _ in range(5):
        before = datetime.now(UTC)
        await runtime.poller.tick(force=True)
        waits.append(((await feed_row(runtime)).next_check_at - before).total_seconds())
    assert waits[-1] > waits[0] * 4  # exponential
    [failing] = await bot_api.wait_for_sent(1, chat_id=ADMIN_ID)
    assert "failed 3 times" in failing.text and "HTTP 503" in failing.text
    feed_server.set_feed("/f.xml", rss([item(1), item(2)], title="F"))
    await runtime.poller.tick(force=True)
    recovered = (await bot_api.wait_for_sent(2, chat_id=ADMIN_ID))[-1]
    assert "works again" in recovered.text
    assert (await feed_row(runtime)).error_count == 0
    feed_server.set_status("/f.xml", 410)
    await runtime.poller.tick(force=True)
    gone = (await bot_api.wait_for_sent(3, chat_id=ADMIN_ID))[-1]
    assert "gone" in gone.text
    hits = feed_server.hits("/f.xml")
    for _ in range(3):
        await runtime.poller.tick(force=True)
    assert feed_server.hits("/f.xml") == hits
    assert "gone" in await command(bot_api, ADMIN_ID, "/feeds")
    assert len(bot_api.messages_to(ADMIN_ID)) == 4


async def test_s1_row10_pruned_item_that_returns_is_not_new(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(bots, make_settings, feed_server, [item(1)])
    await subscribe(bot_api)
    feed_server.set_feed("/f.xml", rss([item(2)], title="F"))
    await runtime.poller.tick(force=True)
    async with runtime.store.write() as session:
        bodies, _ = await db.prune(session, datetime.now(UTC) + timedelta(days=400), retention_days=90)
        assert bodies == 2
    feed_server.set_feed("/f.xml", rss([item(1), item(2)], title="F"))
    assert (await runtime.poller.tick(force=True)).new_articles == 0


async def test_s2_input14_a_huge_first_fetch_is_only_a_baseline(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/big.xml", rss([item(n) for n in range(10_000)], title="Big"))
    runtime = await bots.start(
        make_settings(
            feeds=[{"url": feed_server.url("/big.xml")}], polling={"max_body_bytes": 20 * 1024 * 1024}
        )
    )
    await subscribe(bot_api)
    report = await runtime.poller.tick(force=True)
    assert report.new_articles == 10_000 and report.alerts == 0


async def test_s1_row1_slow_feed_times_out_beside_a_healthy_one(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/slow.xml", rss([], title="Slow"))
    runtime = await started(bots, make_settings, feed_server, [], timeout_seconds=1)
    async with runtime.store.write() as session:
        await db.add_feed(session, feed_server.url("/slow.xml"), "Slow", datetime.now(UTC))
    await runtime.poller.tick(force=True)
    await subscribe(bot_api)
    feed_server.set_delay("/slow.xml", 30)
    feed_server.set_feed("/f.xml", rss([item(1)], title="F"))
    began = datetime.now(UTC)
    report = await runtime.poller.tick(force=True)
    assert (datetime.now(UTC) - began).total_seconds() < 2.5
    assert report.alerts == 1 and list(report.errors.values()) == ["timeout"]
    await bot_api.wait_for_sent(2, chat_id=70)
    assert "timeout" in await command(bot_api, ADMIN_ID, "/feeds")


async def test_s1_row22_commands_are_answered_during_a_big_poll(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    runtime = await started(bots, make_settings, feed_server, [])
    body = "NATO " * 380  # about 4.5 MB in all: parsing and storing it takes a while
    feed_server.set_feed("/f.xml", rss([item(n, description=body) for n in range(2200)], title="F"))
    poll = asyncio.create_task(runtime.poller.tick(force=True))
    await feed_server_hit(feed_server, "/f.xml", 2)
    began = asyncio.get_running_loop().time()
    assert "Commands" in await command(bot_api, 71, "/help")
    assert asyncio.get_running_loop().time() - began < 1.0
    assert (await poll).new_articles == 2200


async def feed_server_hit(server: FeedServer, path: str, count: int) -> None:
    async with asyncio.timeout(10):
        while server.hits(path) < count:
            await asyncio.sleep(0.01)


async def test_s2_inputs_24_25_credentials_hidden_and_one_row_per_feed(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    await bots.start(make_settings())
    feed_server.set_feed("/c.xml", rss([item(1)], title="Creds"))
    port = feed_server.url("/").split(":")[2].split("/")[0]
    secret_url = f"http://user:s3cret@127.0.0.1:{port}/c.xml"
    added = await command(bot_api, ADMIN_ID, f"/addfeed {secret_url}")
    assert "Added feed #1" in added and "s3cret" not in added
    assert feed_server.requests[-1].headers.get("Authorization", "").startswith("Basic ")
    for variant in (
        f"http://user:s3cret@127.0.0.1:{port}/c.xml#x",
        f"HTTP://user:s3cret@127.0.0.1:{port}/c.xml",
    ):
        assert "already added as #1" in await command(bot_api, ADMIN_ID, f"/addfeed {variant}")
    listing = await command(bot_api, ADMIN_ID, "/feeds")
    assert "#1" in listing and "s3cret" not in listing and "#2" not in listing


# --- one item never takes its feed down ----------------------------------------------------------

SURROGATE_RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>
<item><title>NATO bad link</title><link>https://n.example/&#xD800;</link><guid>bad</guid></item>
{good}
</channel></rss>"""


def good_items(*numbers: int) -> str:
    return "".join(
        f"<item><title>NATO item {n}</title><link>https://news.example.com/a/{n}</link>"
        f"<guid>g-{n}</guid></item>"
        for n in numbers
    )


async def test_an_item_with_a_lone_surrogate_is_skipped_and_its_neighbours_stored(
    bots: Bots,
    make_settings: Any,
    bot_api: FakeBotApi,
    feed_server: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue: the surrogate raised outside any per-item guard, and every poll of the feed failed."""
    feed_server.set_feed("/s.xml", SURROGATE_RSS.format(good=good_items(1, 2)))
    feed_server.set_feed(
        "/s.json",
        '{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
        '{"id": "bad", "url": "https://n.example/\\ud800", "title": "NATO bad"},'
        '{"id": "ok", "url": "https://n.example/ok", "title": "NATO good"}]}',
        content_type="application/feed+json",
    )
    settings = make_settings(
        feeds=[
            {"name": "X", "url": feed_server.url("/s.xml")},
            {"name": "J", "url": feed_server.url("/s.json")},
        ]
    )
    runtime = await bots.start(settings)
    report = await runtime.poller.tick(force=True)
    # The RSS reference to no character reads as U+FFFD, so that item stays; the JSON one is skipped.
    assert report.failed == 0 and report.new_articles == 4
    async with runtime.store.read() as session:
        titles = sorted(a.title for a, _ in await db.latest_articles(session, 10))
    assert "NATO good" in titles and "NATO item 1" in titles and "NATO bad" not in titles
    assert any("feed item skipped" in r.getMessage() and "s.json" in r.getMessage() for r in caplog.records)
    await subscribe(bot_api, 71)
    feed_server.set_feed("/s.xml", SURROGATE_RSS.format(good=good_items(1, 2, 3)))
    assert (await runtime.poller.tick(force=True)).alerts == 1


async def test_an_empty_first_answer_is_no_baseline(
    bots: Bots, make_settings: Any, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    """Issue: an empty 200 first counted as the baseline, so the whole backlog alerted next."""
    feed_server.set_feed("/e.xml", b"")
    runtime = await bots.start(make_settings(feeds=[{"name": "E", "url": feed_server.url("/e.xml")}]))
    await subscribe(bot_api, 72)
    assert (await runtime.poller.tick(force=True)).failed == 0
    feed_server.set_feed("/e.xml", rss([item(n) for n in range(30)], title="E"))
    report = await runtime.poller.tick(force=True)
    assert report.new_articles == 30 and report.alerts == 0, "the first parsed answer is the baseline"
    feed_server.set_feed("/e.xml", rss([item(n) for n in range(31)], title="E"))
    assert (await runtime.poller.tick(force=True)).alerts == 1
