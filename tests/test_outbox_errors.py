"""Every branch of the sender's error map, run by the real outbox and PTB client against the fake.

What is asserted is what a user and an admin would see: the messages the fake accepted, and
each outbox row's status and last_error (the reason /missed will show).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from bot import db
from bot.delivery import GONE_CHAT_ERRORS, MAX_BUG_ATTEMPTS, Outbox
from bot.domain import DeliveryStatus
from tests.conftest import Bots
from tests.fakes.bot_api import FakeBotApi
from tests.outbox_rig import Relay, make_outbox, queue_alert, row, rows_of, telegram_bot, watching

PENDING, SENT, FAILED, DROPPED = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.DROPPED,
)


@pytest.fixture
async def outboxes() -> AsyncIterator[list[Outbox]]:
    """Outboxes a test started; stopped after it."""
    started: list[Outbox] = []
    yield started
    for outbox in started:
        await outbox.stop(grace=1.0)


async def started(outboxes: list[Outbox], store: db.Store, bot: Any, **kw: Any) -> Outbox:
    outbox = make_outbox(store, bot, **kw)
    await outbox.start()
    outboxes.append(outbox)
    return outbox


def send_calls(api: FakeBotApi, chat_id: int | None = None) -> int:
    return sum(
        1
        for c in api.calls
        if c.method == "sendMessage" and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
    )


async def test_invalid_token_stops_the_bot_and_leaves_its_rows_pending(
    bots: Bots, make_settings: Callable[..., Any], bot_api: FakeBotApi
) -> None:
    runtime = await bots.start(make_settings(delivery={"parallel_chats": 1}))
    bot_api.fail_next("sendMessage", 401, "Unauthorized")  # the token was revoked meanwhile
    first = await queue_alert(runtime.store, 61)
    second = await queue_alert(runtime.store, 62, key="nato-2")
    runtime.outbox.wake()
    await asyncio.wait_for(runtime.stopped.wait(), timeout=10)
    await bots.stop(runtime)
    assert send_calls(bot_api) == 1 and not bot_api.sent, "nothing more is tried after the refusal"
    refused, waiting = await row(runtime.store, first), await row(runtime.store, second)
    assert (refused.status, refused.last_error, refused.attempts) == (PENDING, "invalid token", 1)
    assert (waiting.status, waiting.attempts) == (PENDING, 0)

    again = await bots.start(runtime.settings)  # the token works again: nothing was lost
    await bot_api.wait_for_sent(2)
    await again.outbox.drained()
    assert sorted(m.chat_id for m in bot_api.sent) == [61, 62]


async def test_an_unknown_bad_request_fails_the_row_with_its_reason(
    store: db.Store, bot_api: FakeBotApi, outboxes: list[Outbox]
) -> None:
    bot_api.fail_next("sendMessage", 400, "Bad Request: message thread not found")
    delivery_id = await queue_alert(store, 63)
    async with telegram_bot(bot_api.root, bot_api.token) as bot, watching("bot") as logs:
        outbox = await started(outboxes, store, bot)
        await outbox.drained()
        await outbox.drained()  # not retried
    refused = await row(store, delivery_id)
    assert (refused.status, refused.last_error, refused.attempts) == (FAILED, "Message thread not found", 1)
    assert send_calls(bot_api) == 1 and not bot_api.sent
    assert logs.count("alert refused") == 1


@pytest.mark.parametrize("where", ["before", "after"], ids=["request-held", "answer-lost"])
async def test_a_timeout_puts_the_row_back_with_backoff_and_says_possible_duplicate(
    store: db.Store, bot_api: FakeBotApi, outboxes: list[Outbox], where: str
) -> None:
    relay = Relay(bot_api.root)
    await relay.start()
    try:
        if where == "before":
            relay.hold = lambda chat_id: chat_id is not None  # sendMessage never gets past the relay
        else:
            relay.lose = lambda chat_id: chat_id is not None  # Telegram takes the message; its answer is lost
        delivery_id = await queue_alert(store, 64)
        async with telegram_bot(relay.root, bot_api.token, read_timeout=0.5) as bot, watching("bot") as logs:
            failed_at = datetime.now(UTC)
            outbox = await started(outboxes, store, bot)
            await outbox.drained()
            back = await row(store, delivery_id)
            assert back.status == PENDING and back.attempts == 1
            assert back.last_error is not None and back.last_error.startswith("timed out")
            assert back.next_attempt_at > failed_at, "retried after a backoff, not at once"
            assert logs.count("possible duplicate") == 1
            if where == "before":
                assert send_calls(bot_api) == 0 and relay.held == 1
                relay.release()
                await bot_api.wait_for_sent(1, timeout=10)  # the retry, after its backoff
                await outbox.drained()
                assert len(bot_api.messages_to(64)) == 1
                assert (await row(store, delivery_id)).status == SENT
            else:
                # The user has the alert although we could not know: why the log says so.
                assert len(bot_api.messages_to(64)) == 1 and relay.lost == 1
            await outbox.stop()
    finally:
        await relay.stop()


@pytest.mark.parametrize(
    "fault",
    ["500", "502-nginx", "refused"],
    ids=["internal-error", "bad-gateway", "connection-refused"],
)
async def test_a_network_error_is_retried_until_sent(
    store: db.Store, bot_api: FakeBotApi, outboxes: list[Outbox], fault: str
) -> None:
    relay = Relay(bot_api.root)
    await relay.start()
    if fault == "500":
        bot_api.fail_next("sendMessage", 500, "Internal Server Error")
    elif fault == "502-nginx":
        bot_api.fail_next("sendMessage", 502, "Bad Gateway")
    delivery_id = await queue_alert(store, 65)
    async with telegram_bot(relay.root, bot_api.token) as bot:
        if fault == "refused":
            await relay.stop()  # nothing listens there any more
        outbox = await started(outboxes, store, bot, max_backoff=0.2)
        await outbox.drained()
        back = await row(store, delivery_id)
        assert (back.status, back.attempts) == (PENDING, 1)
        assert back.last_error is not None and back.last_error.startswith("network: ")
        assert not bot_api.sent
        if fault == "refused":
            await outbox.stop()
            relay = Relay(bot_api.root)  # the network is back, at a new address
            await relay.start()
            async with telegram_bot(relay.root, bot_api.token) as bot_again:
                outbox = await started(outboxes, store, bot_again)
                await bot_api.wait_for_sent(1)
                await outbox.drained()
                await outbox.stop()
        else:
            await bot_api.wait_for_sent(1)
            await outbox.drained()
    await relay.stop()
    assert len(bot_api.messages_to(65)) == 1
    done = await row(store, delivery_id)
    assert (done.status, done.attempts, done.last_error) == (SENT, 2, None)


async def test_retry_after_closes_the_gate_for_every_chat_and_requeues(
    store: db.Store, bot_api: FakeBotApi, outboxes: list[Outbox]
) -> None:
    bot_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
    first = await queue_alert(store, 66)
    async with telegram_bot(bot_api.root, bot_api.token) as bot, watching("bot") as logs:
        outbox = await started(outboxes, store, bot)
        await logs.wait_for("telegram flood wait")
        await outbox.drained()
        waiting = await row(store, first)
        assert (waiting.status, waiting.last_error) == (PENDING, "429 retry after")
        second = await queue_alert(store, 67, key="nato-2")  # another chat, inside the window
        outbox.wake()
        await bot_api.wait_for_sent(2)
        await outbox.drained()
    [refused] = [c for c in bot_api.calls if c.method == "sendMessage"][:1]
    later = [c.time for c in bot_api.calls if c.method == "sendMessage"][1:]
    assert len(later) == 2 and all(at - refused.time >= 1.4 for at in later), "nothing sent inside the window"
    assert bot_api.violations == 0
    assert len(bot_api.messages_to(66)) == 1 and len(bot_api.messages_to(67)) == 1
    for delivery_id in (first, second):
        assert (await row(store, delivery_id)).status == SENT


async def test_forbidden_deactivates_the_chat_and_drops_its_queue(
    store: db.Store, bot_api: FakeBotApi, outboxes: list[Outbox]
) -> None:
    bot_api.block_chat(68)
    await queue_alert(store, 68)
    await queue_alert(store, 68, key="nato-2")
    async with telegram_bot(bot_api.root, bot_api.token) as bot:
        outbox = await started(outboxes, store, bot)
        await outbox.drained()
    [blocked, queued] = await rows_of(store, 68)
    assert (blocked.status, blocked.last_error) == (DROPPED, "Forbidden: bot was blocked by the user")
    assert (queued.status, queued.last_error, queued.attempts) == (DROPPED, "chat inactive", 0)
    assert send_calls(bot_api, 68) == 1 and not bot_api.sent
    async with store.read() as s:
        chat = await db.get_chat(s, 68)
        assert chat is not None and not chat.active


GONE = {
    "chat not found": "Bad Request: chat not found",
    "have no rights": "Bad Request: have no rights to send a message",
    "not enough rights": "Bad Request: not enough rights to send text messages to the chat",
    "need administrator rights": "Bad Request: need administrator rights in the channel chat",
    "topic_closed": "Bad Request: TOPIC_CLOSED",
    "user is deactivated": "Bad Request: user is deactivated",
}


@pytest.mark.parametrize("piece", GONE_CHAT_ERRORS, ids=[p.replace(" ", "-") for p in GONE_CHAT_ERRORS])
async def test_a_bad_request_that_means_the_chat_is_gone_deactivates_it(
    store: db.Store, bot_api: FakeBotApi, outboxes: list[Outbox], piece: str
) -> None:
    chat_id = -690
    if piece == "chat not found":
        bot_api.set_missing_chat(chat_id)  # the fake's own answer for a chat it does not know
    else:
        bot_api.fail_next("sendMessage", 400, GONE[piece])
    await queue_alert(store, chat_id)
    await queue_alert(store, chat_id, key="nato-2")
    async with telegram_bot(bot_api.root, bot_api.token) as bot:
        outbox = await started(outboxes, store, bot)
        await outbox.drained()
    [refused, queued] = await rows_of(store, chat_id)
    reason = GONE[piece].removeprefix("Bad Request: ").capitalize()
    assert (refused.status, refused.last_error) == (DROPPED, reason)
    assert (queued.status, queued.last_error) == (DROPPED, "chat inactive")
    assert send_calls(bot_api) == 1 and not bot_api.sent
    async with store.read() as s:
        chat = await db.get_chat(s, chat_id)
        assert chat is not None and not chat.active


async def test_chat_migrated_moves_the_row_and_sends_it_once_to_the_new_id(
    store: db.Store, bot_api: FakeBotApi, outboxes: list[Outbox]
) -> None:
    old, new = -300, -1000000000300
    bot_api.migrate_chat(old, new)
    delivery_id = await queue_alert(store, old)
    async with telegram_bot(bot_api.root, bot_api.token) as bot:
        outbox = await started(outboxes, store, bot)
        [alert] = await bot_api.wait_for_sent(1, chat_id=new)
        await outbox.drained()
    assert "NATO allies meet in Brussels" in alert.text
    assert not bot_api.messages_to(old) and send_calls(bot_api, old) == 1
    moved = await row(store, delivery_id)
    assert (moved.chat_id, moved.status) == (new, SENT)
    async with store.read() as s:
        assert await db.get_chat(s, old) is None
        assert [sub.query for sub in await db.list_subscriptions(s, new)] == ["nato"]


async def test_our_own_bug_is_retried_then_the_row_fails(
    store: db.Store, bot_api: FakeBotApi, outboxes: list[Outbox]
) -> None:
    broken = await queue_alert(store, 70)
    healthy = await queue_alert(store, 71, key="nato-2")
    async with store.write() as s:  # a row our renderer cannot read
        await s.execute(update(db.Delivery).where(db.Delivery.id == broken).values(terms="{not json"))
    async with telegram_bot(bot_api.root, bot_api.token) as bot, watching("bot") as logs:
        outbox = await started(outboxes, store, bot, max_backoff=0.02)
        await logs.wait_for("send crashed", count=MAX_BUG_ATTEMPTS)
        await outbox.drained()
    gave_up = await row(store, broken)
    assert (gave_up.status, gave_up.attempts) == (FAILED, MAX_BUG_ATTEMPTS)
    assert gave_up.last_error == "internal: JSONDecodeError"
    assert send_calls(bot_api, 70) == 0
    assert len(bot_api.messages_to(71)) == 1 and (await row(store, healthy)).status == SENT
