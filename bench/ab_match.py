"""A/B benchmark of the matcher: an older revision's code against this tree's, in one process.

    python bench/ab_match.py REV [--sizes 10000,1000000] [--articles N] [--repeat R] [--seed S]

REV (a commit, a tag, a branch) is exported from the repository into a temporary directory
and its `bot` package is imported under another name ("base"), so both codes run in the
same process, on the same generated subscriptions and articles (bench/match.py's
generators), on the same machine at the same time. Article times are interleaved: each
article is matched by both codes back to back, the order alternating, and each keeps its
best of --repeat passes, so a noisy neighbour slows both alike. Builds alternate too.

For each size it prints, for base and new: cold build (best of --repeat), p50/p99 per
article, index memory (tracemalloc), subscribe/unsubscribe p99, and new/base ratios; it also
checks that both codes give the same alerts (chat, article, terms). The last line is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import collections
import gc
import importlib
import json
import platform
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.match import (
    make_articles,
    make_corpus,
    measure_memory,
    percentile,
    subscription_texts,
    subscriptions,
)
from bot.domain import StoredArticle

REPO = Path(__file__).resolve().parent.parent


def export(rev: str, into: Path) -> Path:
    """The `bot` package of a revision, written under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "bot"], check=True, capture_output=True
    ).stdout
    tar = into / "bot.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def load_base(root: Path, alias: str = "base") -> ModuleType:
    """The matcher module of the `bot` package under `root`, imported under another name.

    The package is imported as `bot` with this tree's `bot` modules set aside, then its
    modules are renamed `alias.*` and this tree's put back. Their functions keep their own
    module globals, so each code calls only itself.
    """
    ours = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "bot" or k.startswith("bot.")}
    sys.path.insert(0, str(root))
    try:
        # Chosen by what the export holds: a missing module would be found elsewhere (an
        # installed copy of the project), not raise.
        name = "bot.matching" if (root / "bot" / "matching").is_dir() else "bot.matcher"
        module = importlib.import_module(name)  # bot.matcher: the layout before bot/matching/
        if not Path(str(module.__file__)).resolve().is_relative_to(root.resolve()):
            raise RuntimeError(f"{name} was imported from {module.__file__}, not from the export")
    finally:
        sys.path.remove(str(root))
        theirs = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "bot" or k.startswith("bot.")}
        for name, mod in theirs.items():
            sys.modules[alias + name[3:]] = mod
        sys.modules.update(ours)
    return module


class Side:
    """One code under test: its module, and its index over the current rows."""

    def __init__(self, name: str, module: Any) -> None:
        self.name = name
        self.module = module
        self.index: Any = None

    def build(self, rows: list[tuple[int, int, str]]) -> float:
        """Seconds for a cold build; the index is kept."""
        self.index = None
        gc.collect()
        t0 = time.perf_counter_ns()
        self.index = self.module.build_index(rows)
        return (time.perf_counter_ns() - t0) / 1e9

    def match(self, article: StoredArticle) -> list[Any]:
        return self.module.match([article], self.index)


def interleaved(sides: Sequence[Side], articles: Sequence[StoredArticle], repeat: int) -> list[list[float]]:
    """Milliseconds per article for each side, the best of `repeat` passes, order alternating."""
    for a in articles[:20]:
        for s in sides:
            s.match(a)  # warm caches
    best = [[float("inf")] * len(articles) for _ in sides]
    clock = time.perf_counter_ns
    for r in range(repeat):
        for i, a in enumerate(articles):
            order = range(len(sides)) if (i + r) % 2 == 0 else range(len(sides) - 1, -1, -1)
            for k in order:
                fn = sides[k].match
                t0 = clock()
                fn(a)
                took = (clock() - t0) / 1e6
                if took < best[k][i]:
                    best[k][i] = took
    return best


def changes(
    side: Side, rows: list[tuple[int, int, str]], fresh: list[str], popular: tuple[int, int, str]
) -> dict[str, float]:
    """Microseconds to subscribe and unsubscribe: new queries, and a subscriber of the top query."""
    base = rows[-1][0] + 1
    add, rem = [], []
    for i, text in enumerate(fresh):
        t0 = time.perf_counter_ns()
        side.index.add(base + i, 77, text)
        add.append((time.perf_counter_ns() - t0) / 1e3)
    for i in range(len(fresh)):
        t0 = time.perf_counter_ns()
        side.index.remove(base + i)
        rem.append((time.perf_counter_ns() - t0) / 1e3)
    sub_id, chat, text = popular
    t0 = time.perf_counter_ns()
    side.index.remove(sub_id)
    rem.append((time.perf_counter_ns() - t0) / 1e3)
    t0 = time.perf_counter_ns()
    side.index.add(sub_id, chat, text)
    add.append((time.perf_counter_ns() - t0) / 1e3)
    return {"subscribe_p99_us": percentile(add, 99), "unsubscribe_p99_us": percentile(rem, 99)}


def same_alerts(sides: Sequence[Side], articles: Sequence[StoredArticle]) -> str:
    """On how many articles every side gives the same (chat, article, terms)."""
    agree = 0
    for a in articles:
        seen = {frozenset((x.chat_id, x.article_id, x.terms) for x in s.match(a)) for s in sides}
        agree += len(seen) == 1
    return f"{agree}/{len(articles)}"


def measure(
    sides: Sequence[Side],
    rows: list[tuple[int, int, str]],
    articles: list[StoredArticle],
    fresh: list[str],
    repeat: int,
) -> dict[str, dict[str, object]]:
    figures: dict[str, dict[str, object]] = {s.name: {} for s in sides}
    builds: dict[str, list[float]] = collections.defaultdict(list)
    for r in range(repeat):
        for s in sides if r % 2 == 0 else sides[::-1]:
            builds[s.name].append(s.build(rows))
            if r < repeat - 1:
                s.index = None
    for s in sides:
        if s.index is None:
            s.build(rows)
    gc.collect()
    gc.freeze()  # as the bot does after start-up: the indexes are long-lived
    ms = interleaved(sides, articles, repeat)
    agree = same_alerts(sides, articles[:50])
    texts = collections.Counter(t for _, _, t in rows)
    top = texts.most_common(1)[0][0]
    popular = next(row for row in rows if row[2] == top)
    for s, times in zip(sides, ms, strict=True):
        figures[s.name].update(
            build_s=round(min(builds[s.name]), 3),
            p50_ms=round(statistics.median(times), 4),
            p99_ms=round(percentile(times, 99), 4),
            mean_ms=round(statistics.mean(times), 4),
            **{k: round(v, 1) for k, v in changes(s, rows, fresh, popular).items()},
        )
    gc.unfreeze()
    for s in sides:
        s.index = None
    for s in sides:
        gc.collect()
        # Fresh copies of the texts: whatever the index keeps of them is counted too.
        mb, built = measure_memory(
            lambda s=s: s.module.build_index((i, c, t.encode().decode()) for i, c, t in rows)
        )
        figures[s.name]["memory_mb"] = round(mb, 1)
        del built  # the next side's strings must not be shared with this one's
    figures["same_alerts"] = {"articles": agree}
    return figures


def print_size(n: int, fig: dict[str, dict[str, object]], base: str, new: str) -> None:
    keys = ("p50_ms", "p99_ms", "mean_ms", "build_s", "memory_mb", "subscribe_p99_us", "unsubscribe_p99_us")
    print(f"\n== {n:,} subscriptions; same alerts on {fig['same_alerts']['articles']} articles ==")
    print(f"  {'figure':<20}{base:>12}{new:>12}{'new/base':>10}")
    for k in keys:
        a, b = fig[base][k], fig[new][k]
        ratio = f"{b / a:.3f}" if isinstance(a, int | float) and isinstance(b, int | float) and a else "-"
        print(f"  {k:<20}{a:>12}{b:>12}{ratio:>10}")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rev", help="the revision to compare with, e.g. a commit")
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--articles", type=int, default=600, help="articles (2/3 English)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="passes over the articles and builds; each keeps its best"
    )
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    new = importlib.import_module("bot.matching")
    with tempfile.TemporaryDirectory() as tmp:
        base = load_base(export(args.rev, Path(tmp)))
    sides = [Side(f"base {args.rev[:9]}", base), Side("new", new)]
    rng = random.Random(args.seed)
    corpus = make_corpus(rng)
    n = args.articles
    articles = make_articles(rng, corpus, n - n // 3, n // 3)
    all_rows = subscriptions(rng, corpus, max(sizes))
    print(
        f"{args.rev} against this tree: {len(articles)} articles, sizes {sizes}, {args.repeat} passes",
        flush=True,
    )
    results: dict[str, object] = {}
    for size in sizes:
        rows = all_rows[:size]
        known = {t for _, _, t in rows}
        fresh = [t for t in subscription_texts(random.Random(size), corpus, 600) if t not in known][:200]
        fig = measure(sides, rows, articles, fresh, args.repeat)
        print_size(size, fig, sides[0].name, sides[1].name)
        results[str(size)] = fig
    print(
        json.dumps(
            {"python": platform.python_version(), "rev": args.rev, "sizes": results}, ensure_ascii=False
        )
    )


if __name__ == "__main__":
    main()
