"""Benchmark of the subscription index against per-subscription compiled-regex loops.

    python bench/match.py [--sizes 1000,10000,100000,1000000] [--quick] [--articles N] [--seed S]

Synthetic but shaped like the real thing, generated from a seed:

- English text is Zipf(1.0) over a 200 000-word vocabulary (real function words first, then
  made-up words), with phrases from a 100 000-phrase list mixed in; Chinese text is Zipf(1.0)
  over 50 000 words of 1-4 common characters. Articles are ~3 KB (English) or ~2 KB (Chinese)
  and all distinct; two thirds are English.
- Subscriptions are 60 % single words, 30 % phrases, 10 % Chinese terms, each drawn Zipf(1.0)
  by popularity. What people subscribe to is not what text repeats most ("said", "的"), so
  popularity ranks are a shuffle of the vocabulary past its commonest 1 000 words (200 for
  Chinese). About 20 % of subscriptions use OR, an exclusion, a group or title:, a quarter
  are capitalized as people type them, and there are four subscriptions per chat on average.

For each size it prints build time (the best of --repeat cold builds, and the worst),
p50/p99 per article (matching plus building the alerts), articles/s, index memory
(tracemalloc, everything the index keeps) and subscribe/unsubscribe times. At 1k and 10k it
also runs two regex loops over the same subscriptions, one compiled regex per term: "naive"
as such loops are usually written (\\bword\\b) and "tuned" (each pattern starts with its
literal, which sre scans for ~35x faster), with the index's speed-up over each. Each
article's time is its best of --repeat passes, since the machine is shared.
The last line is one JSON object with every figure. bench/ab_match.py runs these
subscriptions and articles through an older revision's matcher and this one's in one
process, interleaved, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import platform
import random
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.domain import StoredArticle
from bot.matching import SubscriptionIndex, build_index, match, membership, parse_query
from bot.matching import normalization as querymod
from bot.matching import parser as parsermod
from bot.matching import query as treemod
from bot.matching.compiler import compile_query
from bot.matching.normalization import normalize
from bot.matching.query import AllOf, AnyOf, Not, Term

FUNCTION_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "on",
    "was",
    "with",
    "he",
    "as",
    "be",
    "by",
    "at",
    "from",
    "his",
    "an",
    "have",
    "are",
    "this",
    "not",
    "but",
    "had",
    "they",
    "which",
    "you",
    "or",
    "were",
    "has",
    "one",
    "their",
    "she",
    "been",
    "her",
    "all",
    "there",
    "would",
    "we",
    "will",
    "more",
    "when",
    "if",
    "who",
    "said",
    "no",
    "its",
    "out",
    "so",
    "up",
    "can",
    "about",
    "what",
    "than",
    "them",
    "into",
    "other",
    "some",
    "could",
    "only",
    "time",
    "new",
    "two",
    "also",
    "then",
    "after",
    "first",
    "over",
    "like",
    "him",
    "my",
    "years",
    "year",
    "people",
    "most",
    "may",
    "these",
    "any",
    "back",
    "just",
    "where",
    "many",
    "our",
    "made",
    "before",
    "well",
    "those",
    "between",
    "through",
    "much",
    "being",
    "under",
    "while",
    "week",
    "says",
    "state",
    "since",
    "both",
    "three",
    "government",
    "says",
    "during",
    "against",
    "told",
    "last",
    "former",
    "because",
    "including",
    "percent",
    "million",
    "according",
    "country",
    "city",
    "world",
    "report",
    "police",
    "officials",
    "president",
    "company",
    "market",
    "season",
    "team",
    "group",
    "public",
    "national",
    "business",
    "people",
    "health",
    "support",
    "news",
    "found",
    "work",
    "plan",
    "billion",
    "day",
    "such",
    "however",
    "early",
    "later",
    "today",
    "long",
    "high",
    "part",
    "early",
    "four",
    "five",
    "still",
    "second",
    "week",
    "month",
    "own",
    "next",
]
# Common Chinese characters, roughly by frequency; function characters lead.
HAN = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过"
    "发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本"
    "前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很"
    "最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度"
    "门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电"
    "数安少报才结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马"
    "科司五基眼书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万"
    "取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济车亲极林服快办议"
    "往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石"
    "级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企八功吗包片史委乎查轻"
    "易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列武红响虽推势"
    "参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音跟志底站严巴例防族供效续"
)
SYLLABLE_ONSETS = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "cr",
    "dr",
    "fr",
    "gr",
    "kr",
    "pr",
    "tr",
    "bl",
    "cl",
    "fl",
    "gl",
    "pl",
    "sl",
    "st",
    "sh",
    "ch",
    "th",
]
SYLLABLE_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "ia"]
SYLLABLE_CODAS = ["", "", "", "n", "r", "s", "l", "m", "t", "x", "nd", "rt", "st"]

EN_VOCAB = 200_000
EN_PHRASES = 100_000
ZH_VOCAB = 50_000
SKIP_EN = 1_000
SKIP_ZH = 200


def zipf_cum(n: int, s: float = 1.0) -> list[float]:
    """Cumulative Zipf weights for ranks 1..n."""
    return list(itertools.accumulate(1.0 / (r**s) for r in range(1, n + 1)))


@dataclass
class Corpus:
    en_words: list[str]
    en_cum: list[float]
    phrases: list[str]
    phrase_cum: list[float]
    zh_words: list[str]
    zh_cum: list[float]
    sub_en: list[str]  # popularity order
    sub_en_cum: list[float]
    sub_phrases: list[str]
    sub_phrase_cum: list[float]
    sub_zh: list[str]
    sub_zh_cum: list[float]


def make_corpus(rng: random.Random) -> Corpus:
    """Vocabularies in text-frequency order, and subscription popularity orders."""
    seen = set(FUNCTION_WORDS)
    words = list(FUNCTION_WORDS)
    while len(words) < EN_VOCAB:
        n = rng.choice((1, 2, 2, 2, 3, 3, 4))
        w = "".join(
            rng.choice(SYLLABLE_ONSETS) + rng.choice(SYLLABLE_VOWELS) + rng.choice(SYLLABLE_CODAS)
            for _ in range(n)
        )
        if w not in seen and len(w) > 2:
            seen.add(w)
            words.append(w)
    en_cum = zipf_cum(EN_VOCAB)
    content = words[200:]
    content_cum = zipf_cum(len(content))
    phrases = list(
        dict.fromkeys(
            " ".join(rng.choices(content, cum_weights=content_cum, k=rng.choice((2, 2, 2, 2, 3))))
            for _ in range(EN_PHRASES * 11 // 10)
        )
    )[:EN_PHRASES]
    zh: dict[str, None] = {}
    han_cum = zipf_cum(len(HAN), 0.7)
    zh.update(
        dict.fromkeys(
            [
                "的",
                "了",
                "在",
                "是",
                "和",
                "有",
                "也",
                "就",
                "都",
                "而",
                "及",
                "与",
                "着",
                "或",
                "一个",
                "我们",
                "他们",
                "这个",
                "没有",
                "中国",
                "表示",
                "进行",
            ]
        )
    )
    while len(zh) < ZH_VOCAB:
        zh["".join(rng.choices(HAN, cum_weights=han_cum, k=rng.choice((1, 2, 2, 2, 2, 3, 3, 4))))] = None
    zh_words = list(zh)

    def popularity(vocab: list[str], skip: int) -> tuple[list[str], list[float]]:
        pool = vocab[skip:]
        rng.shuffle(pool)
        return pool, zipf_cum(len(pool))

    sub_en, sub_en_cum = popularity(words, SKIP_EN)
    sub_ph, sub_ph_cum = popularity(phrases, 0)
    sub_zh, sub_zh_cum = popularity([w for w in zh_words if len(w) >= 2], SKIP_ZH)
    return Corpus(
        words, en_cum, phrases, zipf_cum(len(phrases)), zh_words, zipf_cum(ZH_VOCAB),
        sub_en, sub_en_cum, sub_ph, sub_ph_cum, sub_zh, sub_zh_cum,
    )  # fmt: skip


def english_article(rng: random.Random, c: Corpus, size: int = 3000) -> tuple[str, str, str]:
    """(title, summary, content) of about `size` characters."""
    sentences: list[str] = []
    total = 0
    while total < size:
        n = rng.randint(10, 26)
        toks = rng.choices(c.en_words, cum_weights=c.en_cum, k=n)
        for i in range(n):
            r = rng.random()
            if r < 0.04:
                toks[i] = rng.choices(c.phrases, cum_weights=c.phrase_cum)[0]
            elif r < 0.10:
                toks[i] = toks[i].capitalize()
        if rng.random() < 0.3:
            toks.insert(rng.randint(1, n - 1), rng.choice((",", " -", ":")))
        s = " ".join(toks).replace(" ,", ",").replace(" :", ":")
        s = s[0].upper() + s[1:] + rng.choice((".", ".", ".", "?", "!"))
        sentences.append(s)
        total += len(s) + 1
    title = sentences[0][:90]
    summary = " ".join(sentences[1:3])
    content = "\n".join(" ".join(sentences[i : i + 4]) for i in range(3, len(sentences), 4))
    return title, summary, content


def chinese_article(rng: random.Random, c: Corpus, size: int = 680) -> tuple[str, str, str]:
    """(title, summary, content) of about `size` characters (~2 KB in UTF-8)."""
    parts: list[str] = []
    total = 0
    while total < size:
        n = rng.randint(6, 14)
        s = "".join(rng.choices(c.zh_words, cum_weights=c.zh_cum, k=n)) + rng.choice("，，，。。！？")
        parts.append(s)
        total += len(s)
    title = parts[0][:30]
    return title, "".join(parts[1:4]), "".join(parts[4:])


def make_articles(rng: random.Random, c: Corpus, n_en: int, n_zh: int) -> list[StoredArticle]:
    arts = [english_article(rng, c) for _ in range(n_en)] + [chinese_article(rng, c) for _ in range(n_zh)]
    rng.shuffle(arts)
    return [StoredArticle(i + 1, 1, t, s, b) for i, (t, s, b) in enumerate(arts)]


def subscription_texts(rng: random.Random, c: Corpus, n: int) -> list[str]:
    """n query texts with the documented mix."""
    kinds = rng.choices(("word", "phrase", "zh"), weights=(60, 30, 10), k=n)
    pick: dict[str, Callable[[], str]] = {
        "word": lambda: rng.choices(c.sub_en, cum_weights=c.sub_en_cum)[0],
        "phrase": lambda: '"' + rng.choices(c.sub_phrases, cum_weights=c.sub_phrase_cum)[0] + '"',
        "zh": lambda: rng.choices(c.sub_zh, cum_weights=c.sub_zh_cum)[0],
    }
    out = []
    for kind in kinds:
        term = pick[kind]()
        r = rng.random()
        if kind != "zh" and r < 0.25:
            term = term.title() if r < 0.2 else term.upper()
        m = rng.random()
        if m < 0.09:
            term = f"{term} OR {pick[kind]()}"
        elif m < 0.16:
            term = f"{term} -{pick['word' if kind != 'zh' else 'zh']()}"
        elif m < 0.18:
            term = f"({term} OR {pick[kind]()}) -{pick['word']()}"
        elif m < 0.20:
            term = f"title:{term}"
        out.append(term)
    return out


def subscriptions(rng: random.Random, c: Corpus, n: int) -> list[tuple[int, int, str]]:
    chats = max(1, n // 4)
    texts = subscription_texts(rng, c, n)
    return [(i + 1, 10_000_000 + rng.randrange(chats), t) for i, t in enumerate(texts)]


# --- the baseline: one compiled regex per term, evaluated subscription by subscription --------


def _term_regex(term: Term, naive: bool) -> re.Pattern[str]:
    r"""One term as a regex on normalized text.

    Naive is what such loops usually hold: \bword\b, words joined by \W+. Tuned starts with
    a literal, so sre can scan for it, and checks the boundary before it afterwards (a
    fixed-width lookbehind); a leading \b or lookbehind makes sre try every position.
    """
    toks = term.tokens
    joined = "".join(
        ("" if querymod.is_unspaced(a) and querymod.is_unspaced(b) else r"[\W_]*") + re.escape(b)
        for a, b in itertools.pairwise(toks)
    )
    latin_first = not querymod.is_unspaced(toks[0])
    tail = "" if term.prefix or querymod.is_unspaced(toks[-1]) else r"(?![^\W\d_])"
    first = re.escape(toks[0])
    if naive:
        return re.compile((r"\b" if latin_first else "") + first + joined + (tail and r"\b"))
    head = f"{first}(?<![^\\W_]{first})" if latin_first else first
    return re.compile(head + joined + tail)


def _compile(node: treemod.Node, naive: bool) -> Callable[[str, str], bool]:
    if isinstance(node, Term):
        search = _term_regex(node, naive).search
        if node.title:
            return lambda title, text: search(title) is not None
        return lambda title, text: search(text) is not None
    if isinstance(node, Not):
        inner = _compile(node.child, naive)
        return lambda title, text: not inner(title, text)
    kids = [_compile(k, naive) for k in node.children]
    if isinstance(node, AllOf):
        return lambda title, text: all(k(title, text) for k in kids)
    assert isinstance(node, AnyOf)
    return lambda title, text: any(k(title, text) for k in kids)


class RegexLoop:
    """The obvious implementation: every subscription's regexes against every article."""

    def __init__(self, rows: Sequence[tuple[int, int, str]], *, naive: bool) -> None:
        self.naive = naive
        self.subs: dict[int, tuple[int, Callable[[str, str], bool]]] = {}
        for sub_id, chat, text in rows:
            self.add(sub_id, chat, text)

    def add(self, sub_id: int, chat: int, text: str) -> None:
        self.subs[sub_id] = (chat, _compile(parse_query(text).root, self.naive))

    def remove(self, sub_id: int) -> None:
        del self.subs[sub_id]

    def match(self, article: StoredArticle) -> set[int]:
        title = normalize(article.title)
        text = normalize(f"{article.title}\n{article.summary}\n{article.content}")
        return {chat for chat, test in self.subs.values() if test(title, text)}


# --- measuring -------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def time_per_article(
    fn: Callable[[StoredArticle], object], articles: Sequence[StoredArticle], repeat: int = 1
) -> list[float]:
    """Milliseconds per article: the best of `repeat` passes over the stream, against noisy neighbours."""
    for a in articles[:20]:
        fn(a)  # warm caches
    best = [float("inf")] * len(articles)
    for _ in range(repeat):
        for i, a in enumerate(articles):
            t0 = time.perf_counter_ns()
            fn(a)
            best[i] = min(best[i], (time.perf_counter_ns() - t0) / 1e6)
    return best


def measure_memory(build: Callable[[], object]) -> tuple[float, object]:
    """MB allocated by build() and still alive after it."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    obj = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / 1e6, obj


def incremental(index: SubscriptionIndex, rng: random.Random, c: Corpus, n: int) -> dict[str, float]:
    """Microseconds to subscribe with a query not yet indexed, and to unsubscribe: p50/p99/max."""
    fresh = []
    for t in subscription_texts(rng, c, n * 3):
        root = parse_query(t).root
        if index._find(root, compile_query(root)) is None:
            fresh.append(t)
    base = max(s for s, _ in index._subscriptions()) + 1  # ids come from an autoincrement
    add, rem = [], []
    for i, t in enumerate(fresh[:n]):
        t0 = time.perf_counter_ns()
        index.add(base + i, 77, t)
        add.append((time.perf_counter_ns() - t0) / 1e3)
    for i in range(len(add)):
        t0 = time.perf_counter_ns()
        index.remove(base + i)
        rem.append((time.perf_counter_ns() - t0) / 1e3)
    # The worst case for removal: a subscriber of the most popular query.
    buckets = index._any.words.values()
    groups = [
        g
        for e in buckets
        for g in (e if isinstance(e, list) else e.values() if isinstance(e, dict) else (e,))
        if g.members is not None
    ]
    top = max(groups, key=lambda g: membership.count(g.members))
    sub, (_, chat) = next((s, v) for s, v in index._subscriptions() if v[0] is top)
    t0 = time.perf_counter_ns()
    index.remove(sub)
    worst_remove = (time.perf_counter_ns() - t0) / 1e3
    t0 = time.perf_counter_ns()
    index.add(sub, chat, top_query(top))
    worst_add = (time.perf_counter_ns() - t0) / 1e3
    return {
        "subscribe_p50_us": statistics.median(add),
        "subscribe_p99_us": percentile(add, 99),
        "subscribe_max_us": max(*add, worst_add),
        "unsubscribe_p50_us": statistics.median(rem),
        "unsubscribe_p99_us": percentile(rem, 99),
        "unsubscribe_max_us": max(*rem, worst_remove),
    }


def top_query(group: object) -> str:
    """A query text for a plain-word group (the most popular ones are)."""
    prog = group.prog  # type: ignore[attr-defined]
    return prog if isinstance(prog, str) else prog[1]


def measure_index(
    rows: list[tuple[int, int, str]],
    articles: list[StoredArticle],
    zh_ids: set[int],
    corpus: Corpus,
    seed: int,
    repeat: int,
) -> tuple[dict[str, object], list[float]]:
    """The index's figures for one set of subscriptions, and its time per article."""
    builds = []
    for _ in range(repeat):  # the best of --repeat cold builds, as for articles
        index = SubscriptionIndex()
        parsermod.clear_term_cache()
        gc.collect()
        t0 = time.perf_counter_ns()
        index = build_index(rows)
        builds.append((time.perf_counter_ns() - t0) / 1e9)
    build_s = min(builds)
    gc.collect()
    gc.freeze()  # as the bot should after start-up: the index is long-lived
    ms = time_per_article(lambda a: match([a], index), articles, repeat)
    alerts = [len(match([a], index)) for a in articles]
    incr = incremental(index, random.Random(seed + len(rows)), corpus, 200)
    groups = index.distinct_queries()
    gc.unfreeze()
    index = SubscriptionIndex()  # let the big one go before the memory build
    gc.collect()
    parsermod.clear_term_cache()
    # Fresh copies of the texts: whatever the index keeps of them is counted too.
    mem_mb, _ = measure_memory(lambda: build_index((s, c, t.encode().decode()) for s, c, t in rows))
    gc.collect()

    def p50(lang_zh: bool) -> float:
        return round(
            statistics.median(m for m, a in zip(ms, articles, strict=True) if (a.id in zh_ids) == lang_zh), 4
        )

    fig: dict[str, object] = {
        "subscriptions": len(rows),
        "passes": repeat,
        "distinct_queries": groups,
        "build_s": round(build_s, 3),
        "build_s_worst": round(max(builds), 3),
        "p50_ms": round(statistics.median(ms), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "p50_en_ms": p50(False),
        "p50_zh_ms": p50(True),
        "articles_per_s": round(1000 / statistics.mean(ms)),
        "alerts_per_article_mean": round(statistics.mean(alerts), 1),
        "alerts_per_article_p50": statistics.median(alerts),
        "alerts_per_article_p99": percentile(alerts, 99),
        "memory_mb": round(mem_mb, 1),
        **{k: round(v, 1) for k, v in incr.items()},
    }
    return fig, ms


def measure_regex(
    rows: list[tuple[int, int, str]], articles: list[StoredArticle], ms: list[float], naive: bool, repeat: int
) -> dict[str, object]:
    """A regex loop's figures on a sample of the stream, with the index's speed-up over it."""
    kind = "naive" if naive else "tuned"
    t0 = time.perf_counter_ns()
    loop = RegexLoop(rows, naive=naive)
    build_s = (time.perf_counter_ns() - t0) / 1e9
    # A sample keeps the slow loop's run time bounded; both halves of the stream are in it.
    step = max(1, len(articles) * len(rows) // (900_000 if naive else 3_000_000))
    picked = list(range(0, len(articles), step))
    sample = [articles[i] for i in picked]
    rms = time_per_article(loop.match, sample, 1 if naive else repeat)
    same = [ms[i] for i in picked]
    add, rem = [], []
    base = max(s for s, _, _ in rows) + 1
    for i, (_, chat, text) in enumerate(rows[:200]):  # queries of the set, as new subscriptions
        t0 = time.perf_counter_ns()
        loop.add(base + i, chat, text)
        add.append((time.perf_counter_ns() - t0) / 1e3)
        t0 = time.perf_counter_ns()
        loop.remove(base + i)
        rem.append((time.perf_counter_ns() - t0) / 1e3)
    del loop
    gc.collect()
    parsermod.clear_term_cache()
    # Fresh copies of the texts, as for the index: whatever the loop keeps of them is counted.
    mem_mb, loop_again = measure_memory(
        lambda: RegexLoop([(s, c, t.encode().decode()) for s, c, t in rows], naive=naive)
    )
    loop = cast(RegexLoop, loop_again)
    index = build_index(rows)
    checked = sample[:30]
    agree = sum(loop.match(a) == {x.chat_id for x in match([a], index)} for a in checked)
    return {
        f"regex_{kind}_build_s": round(build_s, 3),
        f"regex_{kind}_p50_ms": round(statistics.median(rms), 3),
        f"regex_{kind}_p99_ms": round(percentile(rms, 99), 3),
        f"regex_{kind}_articles_per_s": round(1000 / statistics.mean(rms), 1),
        f"regex_{kind}_memory_mb": round(mem_mb, 1),
        f"regex_{kind}_subscribe_p99_us": round(percentile(add, 99), 1),
        f"regex_{kind}_unsubscribe_p99_us": round(percentile(rem, 99), 1),
        f"regex_{kind}_sample": len(sample),
        f"speedup_{kind}_p50": round(statistics.median(rms) / statistics.median(same), 1),
        f"speedup_{kind}_mean": round(statistics.mean(rms) / statistics.mean(same), 1),
        f"regex_{kind}_same_chats": f"{agree}/{len(checked)}",
    }


def run(
    sizes: list[int], n_en: int, n_zh: int, seed: int, baseline_max: int, repeat: int
) -> dict[str, object]:
    rng = random.Random(seed)
    t0 = time.perf_counter()
    corpus = make_corpus(rng)
    articles = make_articles(rng, corpus, n_en, n_zh)
    zh_ids = {a.id for a in articles if not a.title.isascii()}
    all_rows = subscriptions(rng, corpus, max(sizes))
    took = time.perf_counter() - t0
    print(f"corpus ready in {took:.1f}s: {n_en} English + {n_zh} Chinese articles", flush=True)
    avg_kb = statistics.mean(len(f"{a.title}{a.summary}{a.content}".encode()) for a in articles) / 1e3
    figures: dict[str, dict[str, object]] = {}
    for n in sizes:
        rows = all_rows[:n]
        fig, ms = measure_index(rows, articles, zh_ids, corpus, seed, repeat)
        if n <= baseline_max:
            fig.update(measure_regex(rows, articles, ms, naive=False, repeat=repeat))
            fig.update(measure_regex(rows, articles, ms, naive=True, repeat=repeat))
        figures[str(n)] = fig
        print_size(fig)
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "articles": len(articles),
        "avg_article_kb": round(avg_kb, 2),
        "seed": seed,
        "passes": repeat,
        "sizes": figures,
    }


def print_size(f: dict[str, object]) -> None:
    print(
        f"\n== {f['subscriptions']:,} subscriptions ({f['distinct_queries']:,} distinct queries) ==\n"
        f"  index: build {f['build_s']} s (worst of {f['passes']}: {f['build_s_worst']} s), "
        f"p50 {f['p50_ms']} ms (en {f['p50_en_ms']}, zh {f['p50_zh_ms']}), "
        f"p99 {f['p99_ms']} ms, {f['articles_per_s']:,} articles/s, memory {f['memory_mb']} MB\n"
        f"  alerts per article: mean {f['alerts_per_article_mean']}, p50 {f['alerts_per_article_p50']}, "
        f"p99 {f['alerts_per_article_p99']}\n"
        f"  subscribe p50 {f['subscribe_p50_us']} µs, p99 {f['subscribe_p99_us']} µs, "
        f"max {f['subscribe_max_us']} µs; unsubscribe p50 {f['unsubscribe_p50_us']} µs, "
        f"p99 {f['unsubscribe_p99_us']} µs, max {f['unsubscribe_max_us']} µs",
        flush=True,
    )
    for kind in ("tuned", "naive"):
        if f"regex_{kind}_p50_ms" in f:
            print(
                f"  regex loop ({kind}): build {f[f'regex_{kind}_build_s']} s, "
                f"p50 {f[f'regex_{kind}_p50_ms']} ms, p99 {f[f'regex_{kind}_p99_ms']} ms, "
                f"{f[f'regex_{kind}_articles_per_s']} articles/s on {f[f'regex_{kind}_sample']} articles, "
                f"memory {f[f'regex_{kind}_memory_mb']} MB, subscribe p99 "
                f"{f[f'regex_{kind}_subscribe_p99_us']} µs, unsubscribe p99 "
                f"{f[f'regex_{kind}_unsubscribe_p99_us']} µs; "
                f"index {f[f'speedup_{kind}_p50']}x faster at p50 "
                f"({f[f'speedup_{kind}_mean']}x on the mean); "
                f"same chats on {f[f'regex_{kind}_same_chats']}",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--quick", action="store_true", help="1k and 10k, fewer articles")
    ap.add_argument("--articles", type=int, default=900, help="articles per size (2/3 English)")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--baseline-max", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="passes over the articles; each keeps its best")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    n = args.articles
    if args.quick:
        sizes, n = [s for s in sizes if s <= 10_000] or [1000], min(n, 300)
    results = run(sizes, n - n // 3, n // 3, args.seed, args.baseline_max, args.repeat)
    print(json.dumps(results, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
