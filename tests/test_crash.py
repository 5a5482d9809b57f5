"""A process killed during a storm of alerts: at most `parallel_chats` alerts are left uncertain,
none is sent twice, and every other one is sent once after the restart."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from sqlalchemy import func, select

from bot import db
from bot.domain import DeliveryStatus
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.feed_server import FeedServer, rss
from tests.outbox_rig import Relay
from tests.test_lifecycle import Output, spawn

PARALLEL = 4
CHATS = list(range(9100, 9130))
OLD = {"title": "Old news", "guid": "old", "link": "https://news.example.com/old"}
NATO = {"title": "NATO storm", "guid": "nato", "link": "https://news.example.com/nato"}


def write_config(path: Path, api_root: str, token: str, feed_url: str, db_url: str) -> None:
    path.write_text(
        "[telegram]\n"
        f'token = "{token}"\n'
        f'api_base_url = "{api_root}"\n'
        "[database]\n"
        f'url = "{db_url}"\n'
        "[polling]\n"
        "interval_seconds = 1\n"
        "allow_private_addresses = true\n"
        "[delivery]\n"
        f"parallel_chats = {PARALLEL}\n"
        "global_per_second = 200\n"
        "per_chat_per_second = 50\n"
        "[[feeds]]\n"
        'name = "World"\n'
        f'url = "{feed_url}"\n'
    )


async def counts(store: db.Store) -> dict[str, int]:
    async with store.read() as session:
        stmt = select(db.Delivery.status, func.count()).group_by(db.Delivery.status)
        return {str(status): int(n) for status, n in (await session.execute(stmt)).all()}


async def wait_for_counts(store: db.Store, done: object, timeout: float = 30.0) -> dict[str, int]:
    async with asyncio.timeout(timeout):
        while True:
            found = await counts(store)
            if callable(done) and done(found):
                return found
            await asyncio.sleep(0.1)


async def test_a_sigkill_during_a_storm_leaves_few_uncertain_and_no_duplicate(
    tmp_path: Path, database_url: str, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    relay = Relay(bot_api.root)
    await relay.start()
    feed_server.set_feed("/world.xml", rss([OLD], title="World"))
    config = tmp_path / "config.toml"
    write_config(config, relay.root, bot_api.token, feed_server.url("/world.xml"), database_url)
    store = db.Store(db.make_engine(database_url))
    first = await spawn(config, log_level="INFO")
    output = Output(first)
    try:
        await bot_api.wait_for_call("getUpdates", timeout=30)
        for chat in CHATS:
            bot_api.add_message(chat, "/subscribe nato")
        for chat in CHATS:
            await bot_api.wait_for_sent(1, chat_id=chat, timeout=20)
        async with asyncio.timeout(15):  # the baseline poll has seen the old item
            while feed_server.hits("/world.xml") < 1:
                await asyncio.sleep(0.05)

        relay.hold = lambda chat_id: chat_id in CHATS  # alerts reach the wire, and hang there
        feed_server.set_feed("/world.xml", rss([NATO, OLD], title="World"))
        await relay.wait(lambda: relay.held >= PARALLEL, timeout=20)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        await output.text()
        relay.release()
        before = await counts(store)
        assert before.get(DeliveryStatus.SENDING, 0) <= PARALLEL
        assert sum(before.values()) == len(CHATS)

        second = await spawn(config, log_level="INFO")
        restarted = Output(second)
        try:
            after = await wait_for_counts(
                store,
                lambda c: not c.get(DeliveryStatus.PENDING) and not c.get(DeliveryStatus.SENDING),
            )
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), timeout=15)
        log = await restarted.text()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
        await relay.stop()
        await store.close()

    uncertain = after.get(DeliveryStatus.UNCERTAIN, 0)
    assert 1 <= uncertain <= PARALLEL, after
    assert after.get(DeliveryStatus.SENT, 0) == len(CHATS) - uncertain, after
    alerts = {chat: [m for m in bot_api.messages_to(chat) if "NATO storm" in m.text] for chat in CHATS}
    assert all(len(sent) <= 1 for sent in alerts.values()), "an alert was sent twice"
    assert sum(len(sent) for sent in alerts.values()) == len(CHATS) - uncertain
    assert "marked uncertain" in log
