"""Ingest benchmark: N feeds of M items on a local feed server, our pipeline against a naive loop.

    python -m bench.ingest [--feeds 1000] [--items 50] [--concurrency 10]

The feed server runs in its own process and each measurement in a fresh child process, so
CPU seconds and peak memory (ru_maxrss) belong to the code measured and to nothing else.

(a) pipeline: the real Poller with a real Store on a temporary SQLite file. Round 1: every feed
    new (the poller's first poll of a feed stores its items as a baseline: fetch, parse, insert
    all). Round 2: every feed answers 304 to the conditional GET.
(b) naive: one aiohttp session, one feed after the other, GET + feedparser.parse in the loop,
    no conditional GET, nothing stored; run twice the same way.

Prints a table, the ratios, and one final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file or as a module

GOALS = {"round2_wall_s": 5.0, "round1_wall_s": 60.0, "peak_rss_mb": 300.0}


# --- the publisher, in its own process ---------------------------------------------------------


def _feed_items(feed: int, items: int) -> list[dict[str, Any]]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "title": f"Feed {feed} story {i}: officials announce new measures for the region",
            "link": f"https://publisher{feed % 50}.example/news/{feed}/{i}?utm_source=rss",
            "guid": f"urn:bench:{feed}:{i}",
            "description": f"<p>Story {i} of feed {feed}. The council met on Tuesday and agreed on a plan "
            "that <b>affects</b> thousands of residents. Advertisement. Critics said more was needed.</p>",
            "pubDate": base - timedelta(minutes=feed * items + i),
        }
        for i in range(items)
    ]


def _serve(conn: Connection, feeds: int, items: int) -> None:
    from tests.fakes.feed_server import FeedServer, rss

    async def main() -> None:
        server = FeedServer()
        for f in range(feeds):
            server.set_feed(f"/feed/{f}.xml", rss(_feed_items(f, items), title=f"Bench feed {f}"))
        await server.start()
        conn.send(server.root)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        await server.stop()

    asyncio.run(main())


# --- measurements, each in a fresh child process -------------------------------------------------


def _usage() -> tuple[float, float]:
    """(CPU seconds so far, peak RSS in MB so far) of this process and its threads."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def _round(name: str, started: float, cpu0: float, feeds: int, **extra: Any) -> dict[str, Any]:
    wall = time.perf_counter() - started
    cpu, peak = _usage()
    return {
        "round": name,
        "wall_s": round(wall, 3),
        "feeds_per_s": round(feeds / wall, 1),
        "cpu_s": round(cpu - cpu0, 3),
        "peak_rss_mb": round(peak, 1),
        **extra,
    }


async def _pipeline(root: str, feeds: int, concurrency: int) -> dict[str, Any]:
    from bot import db
    from bot.feeds import FetchLimits, make_http_session
    from bot.poller import Poller
    from bot.subscriptions import Subscriptions

    with tempfile.TemporaryDirectory() as tmp:
        store = db.Store(db.make_engine(f"sqlite+aiosqlite:///{tmp}/bench.db"))
        await db.upgrade_schema(store.engine)
        now = datetime.now(UTC)
        async with store.write() as session:
            for f in range(feeds):
                await db.add_feed(session, f"{root}/feed/{f}.xml", None, now)
        limits = FetchLimits(allow_private=True)
        http = make_http_session(limits)
        poller = Poller(
            store,
            http,
            limits,
            Subscriptions(store),
            interval=3600,
            max_backoff=3600,
            concurrency=concurrency,
        )
        _, rss_before = _usage()
        rounds = []
        for name in ("round1_new", "round2_304"):
            cpu0, _ = _usage()
            started = time.perf_counter()
            report = await poller.tick(force=True)
            rounds.append(
                _round(
                    name,
                    started,
                    cpu0,
                    feeds,
                    polled=report.polled,
                    failed=report.failed,
                    new=report.new_articles,
                )
            )
        async with store.read() as session:
            stored = await db.count_articles(session)
        await http.close()
        await store.close()
    return {"rss_after_setup_mb": round(rss_before, 1), "articles_stored": stored, "rounds": rounds}


async def _naive(root: str, feeds: int) -> dict[str, Any]:
    import aiohttp
    import feedparser  # type: ignore[import-untyped, unused-ignore]

    _, rss_before = _usage()
    rounds = []
    async with aiohttp.ClientSession() as http:
        for name in ("round1", "round2"):
            cpu0, _ = _usage()
            started = time.perf_counter()
            entries = 0
            for f in range(feeds):
                async with http.get(f"{root}/feed/{f}.xml") as resp:
                    body = await resp.read()
                doc = feedparser.parse(io.BytesIO(body), response_headers={"content-type": resp.content_type})
                entries += len(doc.entries)
            rounds.append(_round(name, started, cpu0, feeds, entries=entries))
    return {"rss_after_setup_mb": round(rss_before, 1), "rounds": rounds}


def _measure(conn: Connection, kind: str, root: str, feeds: int, concurrency: int) -> None:
    result = asyncio.run(_pipeline(root, feeds, concurrency) if kind == "pipeline" else _naive(root, feeds))
    conn.send(result)


def _child(ctx: Any, target: Any, *args: Any) -> Any:
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *args))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


# --- report --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10, help="the poller's global fetch bound")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    server_conn, server_end = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(server_end, args.feeds, args.items), daemon=True)
    server.start()
    root = server_conn.recv()
    try:
        pipeline = _child(ctx, _measure, "pipeline", root, args.feeds, args.concurrency)
        naive = _child(ctx, _measure, "naive", root, args.feeds, args.concurrency)
    finally:
        server_conn.send("stop")
        server.join(timeout=10)

    print(f"ingest benchmark: {args.feeds} feeds x {args.items} items, {os.cpu_count()} CPUs, "
          f"poller concurrency {args.concurrency}")  # fmt: skip
    print(f"{'':26}{'wall s':>9}{'feeds/s':>10}{'CPU s':>9}{'peak RSS MB':>13}")
    for label, figures in (("pipeline", pipeline), ("naive", naive)):
        for r in figures["rounds"]:
            print(f"{label + ' ' + r['round']:26}{r['wall_s']:>9.2f}{r['feeds_per_s']:>10.1f}"
                  f"{r['cpu_s']:>9.2f}{r['peak_rss_mb']:>13.1f}")  # fmt: skip
    (p1, p2), (n1, n2) = pipeline["rounds"], naive["rounds"]
    ratios = {
        "round1_wall_vs_naive": round(p1["wall_s"] / n1["wall_s"], 2),
        "round2_wall_vs_naive": round(p2["wall_s"] / n2["wall_s"], 2),
        "round1_cpu_vs_naive": round(p1["cpu_s"] / n1["cpu_s"], 2),
        "round2_cpu_vs_naive": round(p2["cpu_s"] / n2["cpu_s"], 2),
    }
    peak = max(p1["peak_rss_mb"], p2["peak_rss_mb"])
    goals = {
        "round2_under_5s": p2["wall_s"] < GOALS["round2_wall_s"],
        "round1_under_60s": p1["wall_s"] < GOALS["round1_wall_s"],
        "peak_under_300mb": peak < GOALS["peak_rss_mb"],
    }
    print("ratios (pipeline / naive): " + ", ".join(f"{k}={v}" for k, v in ratios.items()))
    print(
        f"articles stored: {pipeline['articles_stored']}; goals: "
        + ", ".join(f"{k}={v}" for k, v in goals.items())
    )
    print(json.dumps({"feeds": args.feeds, "items": args.items, "cpus": os.cpu_count(), "pipeline": pipeline,
                      "naive": naive, "ratios": ratios, "goals": goals}, separators=(",", ":")))  # fmt: skip


if __name__ == "__main__":
    main()
