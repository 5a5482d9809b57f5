"""Memory-growth soak: the whole bot polling 50 local feeds every second, memory sampled as it runs.

    python bench/soak.py [--minutes 3] [--feeds 50] [--items 30] [--sample-seconds 10] [--frames 1]

The reliability row asks for one hour: ``--minutes 60``.

This process runs the real bot only: a ``bot.app.Runtime`` (PTB application, poller, outbox) on a
temporary SQLite file, polling every second (``interval_seconds = 1``, the smallest the config
allows) with ``allow_private_addresses``. The fake Bot API (tests/fakes/bot_api.py) and the feed
server (tests/fakes/feed_server.py) both run in one child process, so every byte traced or
resident here belongs to the bot and not to the fakes' records of what they served. The child
also drives the load and answers the parent's questions over a pipe.

Load: feeds of ~30 items each. A few chats subscribe to common terms through the fake (real
``/subscribe`` updates), then every second a few feeds get new items, so fetching, parsing,
storing, matching, queuing and sending all happen; the unchanged feeds answer 304 to the
conditional GET, feed 0 answers 500 (its backoff is capped at a few seconds so it keeps failing)
and feed 1 answers only after a delay. A tick waits for its slowest feed and, under tracemalloc,
takes about a second for 50 feeds, so the scheduler skips a run that would overlap the previous
one: the "ticks" and "tick s" columns show the polling rate achieved.

Measurement: tracemalloc runs from before the bot is imported (one frame per trace unless
--frames), so traced memory is the bot's whole Python heap. Every --sample-seconds, just after a
poll tick ends (the same point of the cycle each time, no feed in flight) and a gc.collect():
traced memory, RSS (/proc/self/statm), open aiohttp.ClientSession objects
(counted by a wrapped ClientSession.__init__ and a WeakSet; a heap walk checks at the end),
asyncio tasks, articles stored, alerts received by the fake, outbox backlog. The first 20 % of
the run is warm-up; at its end a snapshot is written to a temporary file (not kept in memory;
taking it stalls the loop for about a second), and the traced memory then is the baseline.
At the end: the growth (final - baseline, and a least-squares slope over the post-warm-up
samples in % of the baseline per hour), the top 10 lines by growth between the two snapshots,
and a verdict against the goal: growth after warm-up < 10 % of the baseline (both measured and
projected to one hour) and exactly one ClientSession.

Prints a table, the figures, and one final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import gc
import json
import linecache
import logging
import multiprocessing as mp
import os
import sys
import sysconfig
import tempfile
import time
import tracemalloc
import weakref
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a file or as a module

if TYPE_CHECKING:
    import aiohttp

    from bot.app import Runtime
    from bot.poller import Poller, TickReport

GOAL_GROWTH_PCT = 10.0  # of the baseline, after warm-up
WARMUP_SHARE = 0.2
ADMIN_ID = 1001
TOPICS = ("nato", "climate", "election", "energy", "council", "football", "markets", "health")
SUBSCRIBED = TOPICS[:5]  # the last three topics match nobody
ERROR_FEED, SLOW_FEED = 0, 1


# --- the publisher and the fake Bot API, in the child process -----------------------------------


@dataclass(frozen=True)
class Load:
    feeds: int
    items: int
    chats: int
    changes_per_second: int
    new_items: int
    slow_seconds: float


def _item(feed: int, n: int) -> dict[str, Any]:
    topic = TOPICS[n % len(TOPICS)]
    return {
        "title": f"{topic.capitalize()} story {n} from feed {feed}: officials announce new measures",
        "link": f"https://publisher{feed}.example/news/{n}?utm_source=rss",
        "guid": f"urn:soak:{feed}:{n}",
        "description": f"<p>Report {n}. Officials met on Tuesday and agreed on a plan about {topic} "
        "that <b>affects</b> thousands of residents. Advertisement. Critics said more was needed.</p>",
        "pubDate": datetime.now(UTC),
    }


def _publisher(conn: Connection, load: Load) -> None:
    asyncio.run(_publish(conn, load))


async def _publish(conn: Connection, load: Load) -> None:
    from aiohttp import web

    from tests.fakes.bot_api import FakeBotApi
    from tests.fakes.feed_server import FeedServer, rss

    class CountingFeedServer(FeedServer):
        """Tallies response statuses and keeps no request log (an hour of it would be big)."""

        def __init__(self) -> None:
            super().__init__()
            self.statuses: collections.Counter[int] = collections.Counter()

        async def _handle(self, request: web.Request) -> web.StreamResponse:
            response = await super()._handle(request)
            self.statuses[response.status] += 1
            self.requests.clear()
            return response

    server, api = CountingFeedServer(), FakeBotApi()
    await server.start()
    await api.start()
    counter = 0
    feeds: dict[int, collections.deque[dict[str, Any]]] = {}

    def publish(feed: int) -> None:
        server.set_feed(f"/feed/{feed}.xml", rss(list(reversed(feeds[feed])), title=f"Soak feed {feed}"))

    for f in range(load.feeds):
        feeds[f] = collections.deque(maxlen=load.items)
        for _ in range(load.items):
            counter += 1
            feeds[f].append(_item(f, counter))
        publish(f)
    server.set_status(f"/feed/{ERROR_FEED}.xml", 500, body=b"internal error")
    server.set_delay(f"/feed/{SLOW_FEED}.xml", load.slow_seconds)
    pool = [f for f in range(load.feeds) if f != ERROR_FEED]
    cursor = 0

    async def churn() -> None:
        nonlocal counter, cursor
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += 1.0
            await asyncio.sleep(max(0.0, due - loop.time()))
            for _ in range(load.changes_per_second):
                feed = pool[cursor % len(pool)]
                cursor += 1
                for _ in range(load.new_items):
                    counter += 1
                    feeds[feed].append(_item(feed, counter))
                publish(feed)

    conn.send({"feeds": server.root, "api": api.root, "token": api.token})
    loop = asyncio.get_running_loop()
    churner: asyncio.Task[None] | None = None
    watched: set[int] = set()
    alerts = messages = 0
    while True:
        command, arg = await loop.run_in_executor(None, conn.recv)
        if command == "subscribe":  # arg: [(chat_id, text), ...]; real updates, real replies
            for chat_id, text in arg:
                before = len(api.messages_to(chat_id))
                api.add_message(chat_id, text)
                await api.wait_for_sent(before + 1, chat_id=chat_id, timeout=30)
                watched.add(chat_id)
            api.sent.clear()
            conn.send(len(arg))
        elif command == "churn":
            if arg and churner is None:
                churner = asyncio.create_task(churn())
            elif not arg and churner is not None:
                churner.cancel()
                churner = None
            conn.send(True)
        elif command == "stats":
            messages += len(api.sent)
            alerts += sum(1 for m in api.sent if m.chat_id in watched)
            api.sent.clear()  # the fake's records grow without bound otherwise
            api.calls.clear()
            api.edits.clear()
            conn.send(
                {
                    "alerts": alerts,
                    "messages": messages,
                    "rejected": len(api.rejected),
                    "responses": dict(server.statuses),
                    "published": counter,
                }
            )
        elif command == "stop":
            break
    if churner is not None:
        churner.cancel()
    await api.stop()
    await server.stop()
    conn.send(True)


# --- measuring, in this process ------------------------------------------------------------------


class SessionCounter:
    """Counts aiohttp.ClientSession objects as they are made; a WeakSet says which are still alive."""

    def __init__(self) -> None:
        self.created = 0
        self.live: weakref.WeakSet[aiohttp.ClientSession] = weakref.WeakSet()

    def install(self) -> None:
        import aiohttp

        original = aiohttp.ClientSession.__init__

        @functools.wraps(original)
        def init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            original(session, *args, **kwargs)
            self.created += 1
            self.live.add(session)

        aiohttp.ClientSession.__init__ = init  # type: ignore[method-assign, assignment]

    @property
    def open(self) -> int:
        return sum(1 for s in self.live if not s.closed)


def gc_sessions() -> int:
    """Cross-check by a full heap walk (tracked and frozen generations alike)."""
    import aiohttp

    gc.unfreeze()  # gc.get_objects() leaves out the permanent generation the runtime froze
    try:
        return sum(1 for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession))
    finally:
        gc.freeze()


@dataclass
class Sample:
    t_s: float
    phase: str
    traced_mb: float
    rss_mb: float
    tracemalloc_overhead_mb: float
    sessions: int
    tasks: int
    ticks: int
    tick_s: float  # mean duration of the ticks since the previous sample
    articles: int
    alerts: int
    backlog: int
    feed_responses: int


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the peak is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx * 3600 if sxx else 0.0


SNAPSHOT_FILTERS = [
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, linecache.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, "<unknown>"),
    tracemalloc.Filter(False, __file__),  # this harness: its sample list and pipe messages
]


def snapshot(path: Path) -> None:
    """Write a snapshot to disk, unfiltered (filtering 10^5 traces takes seconds; taking and
    dumping them well under one, which is how long the bot's loop stalls here)."""
    gc.collect()
    tracemalloc.take_snapshot().dump(str(path))


def load_snapshot(path: Path) -> tracemalloc.Snapshot:
    return tracemalloc.Snapshot.load(str(path)).filter_traces(SNAPSHOT_FILTERS)


class TickWatch:
    """Wraps the poller's tick so samples and snapshots are taken just after a tick ends: the same
    point of the cycle each time, with no feed being parsed or stored at that moment."""

    def __init__(self, poller: Poller) -> None:
        self.ticks = 0
        self.seconds = 0.0  # spent in ticks, all told
        self._done = asyncio.Event()
        original = poller.tick

        async def tick(*, force: bool = False) -> TickReport:
            began = time.perf_counter()
            try:
                return await original(force=force)
            finally:
                self.ticks += 1
                self.seconds += time.perf_counter() - began
                self._done.set()

        poller.tick = tick  # type: ignore[method-assign]

    async def next(self, timeout: float = 5.0) -> None:
        self._done.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout)


def short(filename: str) -> str:
    """A path without this machine's prefixes: repo-relative, or relative to the library dirs."""
    paths = sysconfig.get_paths()
    prefixes = sorted({str(ROOT), paths["purelib"], paths["platlib"], paths["stdlib"]}, key=len, reverse=True)
    for prefix in prefixes:
        if filename.startswith(prefix + os.sep):
            return filename[len(prefix) + 1 :]
    return filename


def growth_table(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, frames: int
) -> list[dict[str, Any]]:
    stats = sorted(after.compare_to(before, "lineno"), key=lambda s: s.size_diff, reverse=True)
    rows = []
    for stat in stats[:10]:
        frame = stat.traceback[0]
        rows.append(
            {
                "where": f"{short(frame.filename)}:{frame.lineno}",
                "size_diff_kb": round(stat.size_diff / 1024, 1),
                "count_diff": stat.count_diff,
                "size_kb": round(stat.size / 1024, 1),
                "code": linecache.getline(frame.filename, frame.lineno).strip()[:90],
            }
        )
    if frames > 1:
        print("call stacks of the three lines that grew most:")
        for stat in sorted(after.compare_to(before, "traceback"), key=lambda s: s.size_diff, reverse=True)[
            :3
        ]:
            print(f"  +{stat.size_diff / 1024:.1f} KiB, {stat.count_diff:+d} blocks")
            for line in stat.traceback.format(most_recent_first=True):
                print("    " + line.replace(str(ROOT) + os.sep, ""))
    return rows


async def ask(conn: Connection, command: str, arg: Any = None) -> Any:
    def call() -> Any:
        conn.send((command, arg))
        return conn.recv()

    return await asyncio.get_running_loop().run_in_executor(None, call)


async def soak(args: argparse.Namespace, conn: Connection, roots: dict[str, str]) -> dict[str, Any]:
    from bot.app import Runtime
    from bot.config import parse_settings

    sessions = SessionCounter()
    sessions.install()
    chats = list(range(2001, 2001 + args.chats))
    with tempfile.TemporaryDirectory(prefix="newsbot-soak-") as tmp:
        settings = parse_settings(
            {
                "telegram": {"token": roots["token"], "api_base_url": roots["api"], "admins": [ADMIN_ID]},
                "database": {"url": f"sqlite+aiosqlite:///{Path(tmp) / 'soak.db'}"},
                "polling": {
                    "interval_seconds": 1,
                    "allow_private_addresses": True,
                    "timeout_seconds": 5,
                    "max_backoff_seconds": 4,  # so the failing feed keeps being asked
                },
                "delivery": {"global_per_second": 200, "per_chat_per_second": 50, "group_per_minute": 600},
                "feeds": [
                    {"url": f"{roots['feeds']}/feed/{f}.xml", "name": f"Soak {f}"} for f in range(args.feeds)
                ],
            },
            env={},
        )
        runtime = Runtime(settings, poll_timeout=1, first_tick=1.0)
        await runtime.start()
        try:
            plan = [
                (chat, f"/subscribe {SUBSCRIBED[(i + k) % len(SUBSCRIBED)]}")
                for i, chat in enumerate(chats)
                for k in range(2)
            ]
            ticks = TickWatch(runtime.poller)
            await ask(conn, "subscribe", plan)
            await wait_for_baseline(runtime, (args.feeds - 1) * args.items)
            await ask(conn, "churn", True)
            result = await measure(args, conn, runtime, sessions, ticks, Path(tmp))
        finally:
            await ask(conn, "churn", False)
            await runtime.stop()
    result["sessions_open_after_stop"] = sessions.open
    return result


async def wait_for_baseline(runtime: Runtime, articles: int, timeout: float = 60.0) -> None:
    """The first poll of each feed stores its items as a baseline, alerting nobody."""
    from bot import db

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with runtime.store.read() as session:
            if await db.count_articles(session) >= articles:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError("the baseline poll did not store every feed's items in time")


async def measure(
    args: argparse.Namespace,
    conn: Connection,
    runtime: Runtime,
    sessions: SessionCounter,
    ticks: TickWatch,
    tmp: Path,
) -> dict[str, Any]:
    from bot import db

    duration = args.minutes * 60.0
    warmup = duration * WARMUP_SHARE
    step = args.sample_seconds
    times = sorted({*(i * step for i in range(int(duration // step) + 1)), warmup, duration})
    loop = asyncio.get_running_loop()
    started = loop.time()
    samples: list[Sample] = []
    warm_file = tmp / "warmup.snapshot"
    last = (ticks.ticks, ticks.seconds)
    print(f"{'t s':>6} {'phase':9}{'traced MB':>10}{'RSS MB':>9}{'tm ovh':>8}{'sessions':>9}{'tasks':>7}"
          f"{'ticks':>7}{'tick s':>7}{'articles':>10}{'alerts':>8}{'backlog':>8}{'feed reqs':>10}",
          flush=True)  # fmt: skip
    for t in times:
        await asyncio.sleep(max(0.0, started + t - loop.time()))
        phase = "warm-up" if t < warmup else "baseline" if t == warmup else "soak"
        await ticks.next()
        if t == warmup:
            snapshot(warm_file)  # on disk, so it adds nothing to the traced memory that follows
        gc.collect()
        traced, _ = tracemalloc.get_traced_memory()
        rss = rss_mb()
        overhead = tracemalloc.get_tracemalloc_memory() / 2**20
        tasks = len(asyncio.all_tasks())
        n_ticks, tick_seconds = ticks.ticks - last[0], ticks.seconds - last[1]
        last = (ticks.ticks, ticks.seconds)
        async with runtime.store.read() as session:
            articles = await db.count_articles(session)
            deliveries = await db.delivery_counts(session)
        stats = await ask(conn, "stats")
        sample = Sample(
            t_s=round(loop.time() - started, 1),
            phase=phase,
            traced_mb=round(traced / 2**20, 2),
            rss_mb=round(rss, 1),
            tracemalloc_overhead_mb=round(overhead, 1),
            sessions=sessions.open,
            tasks=tasks,
            ticks=ticks.ticks,
            tick_s=round(tick_seconds / max(n_ticks, 1), 3),
            articles=articles,
            alerts=stats["alerts"],
            backlog=deliveries.get("pending", 0) + deliveries.get("sending", 0),
            feed_responses=sum(stats["responses"].values()),
        )
        samples.append(sample)
        s = sample
        print(f"{s.t_s:>6.0f} {s.phase:9}{s.traced_mb:>10.2f}{s.rss_mb:>9.1f}{overhead:>8.1f}"
              f"{s.sessions:>9}{s.tasks:>7}{s.ticks:>7}{s.tick_s:>7.2f}{s.articles:>10}{s.alerts:>8}{s.backlog:>8}{s.feed_responses:>10}",
              flush=True)  # fmt: skip
    final_file = tmp / "final.snapshot"
    await ticks.next()
    snapshot(final_file)
    top = growth_table(load_snapshot(warm_file), load_snapshot(final_file), args.frames)
    checked = gc_sessions()
    async with runtime.store.read() as session:
        deliveries = await db.delivery_counts(session)
    return {
        "samples": [asdict(s) for s in samples],
        "top": top,
        "sessions_created": sessions.created,
        "sessions_gc": checked,
        "same_session": runtime.http is not None and runtime.poller.http is runtime.http,
        "deliveries": deliveries,
        "publisher": stats,
    }


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    samples = [Sample(**s) for s in result["samples"]]
    base = next(s for s in samples if s.phase == "baseline")
    final = samples[-1]
    after = [s for s in samples if s.phase != "warm-up"]
    slope = slope_per_hour([(s.t_s, s.traced_mb) for s in after])
    rss_slope = slope_per_hour([(s.t_s, s.rss_mb) for s in after])
    growth = final.traced_mb - base.traced_mb
    growth_pct = growth / base.traced_mb * 100
    rate_pct = slope / base.traced_mb * 100
    rss_growth = final.rss_mb - base.rss_mb
    open_sessions = max(s.sessions for s in samples)
    print()
    print(f"baseline (end of warm-up, t={base.t_s:.0f}s): traced {base.traced_mb:.2f} MB, "
          f"RSS {base.rss_mb:.1f} MB")  # fmt: skip
    print(f"final (t={final.t_s:.0f}s): traced {final.traced_mb:.2f} MB, RSS {final.rss_mb:.1f} MB")
    print(f"traced growth: {growth:+.2f} MB ({growth_pct:+.2f} % of baseline); linear fit {slope:+.2f} MB/h "
          f"= {rate_pct:+.1f} %/h")  # fmt: skip
    print(f"RSS growth: {rss_growth:+.1f} MB; linear fit {rss_slope:+.1f} MB/h "
          f"(includes tracemalloc's own {final.tracemalloc_overhead_mb:.1f} MB)")  # fmt: skip
    print("top 10 lines by traced growth, end of warm-up -> end (KiB, blocks):")
    for row in result["top"]:
        print(f"  {row['size_diff_kb']:>+9.1f} {row['count_diff']:>+7d}  {row['where']}  | {row['code']}")
    print(f"aiohttp.ClientSession: {open_sessions} open at most, {result['sessions_created']} created, "
          f"{result['sessions_gc']} found by a heap walk at the end; poller uses the runtime's: "
          f"{result['same_session']}")  # fmt: skip
    print(f"tasks: {base.tasks} at baseline, {final.tasks} at the end; articles stored {final.articles}; "
          f"alerts received by the fake {final.alerts}; deliveries {result['deliveries']}; "
          f"feed responses {result['publisher']['responses']}")  # fmt: skip
    goals = {
        "growth_under_10pct": growth_pct < GOAL_GROWTH_PCT,
        "rate_under_10pct_per_h": rate_pct < GOAL_GROWTH_PCT,
        "one_session": open_sessions == 1 and result["sessions_created"] == 1 and result["sessions_gc"] == 1,
        "alerts_flowed": final.alerts > 0,
    }
    verdict = "PASS" if all(goals.values()) else "FAIL"
    checks = ", ".join(f"{k}={v}" for k, v in goals.items())
    print(f"verdict: {verdict} (goal: traced growth after warm-up < {GOAL_GROWTH_PCT:.0f} % of the baseline, "
          f"measured and projected to 1 h; one ClientSession) - {checks}")  # fmt: skip
    figures = {
        "minutes": args.minutes,
        "feeds": args.feeds,
        "items": args.items,
        "interval_s": 1,
        "chats": args.chats,
        "samples": len(samples),
        "baseline_mb": base.traced_mb,
        "final_mb": final.traced_mb,
        "growth_mb": round(growth, 2),
        "growth_pct": round(growth_pct, 2),
        "slope_mb_per_h": round(slope, 2),
        "growth_pct_per_h": round(rate_pct, 2),
        "rss_baseline_mb": base.rss_mb,
        "rss_final_mb": final.rss_mb,
        "rss_slope_mb_per_h": round(rss_slope, 1),
        "sessions": open_sessions,
        "sessions_created": result["sessions_created"],
        "sessions_open_after_stop": result["sessions_open_after_stop"],
        "tasks_baseline": base.tasks,
        "tasks_final": final.tasks,
        "articles": final.articles,
        "alerts_sent": final.alerts,
        "deliveries": result["deliveries"],
        "feed_responses": result["publisher"]["responses"],
        "top_growth": [{k: r[k] for k in ("where", "size_diff_kb", "count_diff")} for r in result["top"]],
        "goals": goals,
        "verdict": verdict,
    }
    print(json.dumps(figures, separators=(",", ":")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--minutes", type=float, default=3.0, help="run time; the reliability row asks for 60"
    )
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--items", type=int, default=30, help="items per feed")
    parser.add_argument("--chats", type=int, default=5, help="chats subscribed to two common terms each")
    parser.add_argument("--changes-per-second", type=int, default=3, help="feeds given new items each second")
    parser.add_argument("--new-items", type=int, default=2, help="new items per changed feed")
    parser.add_argument("--slow-seconds", type=float, default=0.5, help="delay of the slow feed")
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument(
        "--frames", type=int, default=1, help="tracemalloc frames; >1 also prints call stacks"
    )
    parser.add_argument("--log-level", default="ERROR")
    args = parser.parse_args()
    if args.feeds < 3:
        parser.error("--feeds must be at least 3 (one failing, one slow, the rest healthy)")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    ctx = mp.get_context("spawn")
    conn, child_end = ctx.Pipe()
    load = Load(
        args.feeds, args.items, args.chats, args.changes_per_second, args.new_items, args.slow_seconds
    )
    child = ctx.Process(target=_publisher, args=(child_end, load), daemon=True)
    child.start()
    roots = conn.recv()
    print(f"soak: {args.minutes:g} min, {args.feeds} feeds x {args.items} items, poll every 1 s, "
          f"{args.changes_per_second} feeds x {args.new_items} new items/s, {args.chats} chats, "
          f"feed {ERROR_FEED} answers 500, feed {SLOW_FEED} waits {args.slow_seconds:g} s; "
          f"fakes in child pid {child.pid}",
          flush=True)  # fmt: skip
    tracemalloc.start(args.frames)
    try:
        result = asyncio.run(soak(args, conn, roots))
    finally:
        conn.send(("stop", None))
        if conn.poll(15):
            conn.recv()
        child.join(timeout=10)
    tracemalloc.stop()
    report(args, result)


if __name__ == "__main__":
    main()
