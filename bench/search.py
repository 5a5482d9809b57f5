"""Benchmark: /search and /latest over many stored articles on SQLite, against a naive LIKE scan.

    .venv/bin/python bench/search.py [--articles 1000000] [--queries 200] [--rebuild]

The back end measured is `bot.search.find` (and, as an extra, the /subscribe backtest:
`count_matches` plus `find(..., since=...)`), called exactly as the handlers call it, through
`bot.db.Store` on a file made by `bot.db.upgrade_schema`. The baseline, timed in the same run on
the same file and connection pool, is what a naive implementation would do: one `WHERE title ||
summary || content LIKE '%term%' ... ORDER BY published DESC, id DESC LIMIT k` query (search reads
bodies and lists by date), no full-text index and no matcher. The build prints the text's size
(title, summary and body, UTF-8), the stored index tokens, the full-text index and the file.

The articles (~60 % English, ~40 % Chinese; a title, a ~300-character summary and a ~2 KB body
drawn from Zipf-distributed vocabularies, the body as sentences from a pool per language, query
terms injected at fixed document frequencies, spread over 50 feeds, `published` increasing) are
generated once into the temp directory, in a file keyed by the article count, the generator
version and the schema's Alembic head, and reused by later runs;
`--rebuild` makes them again. The schema and feeds come from the bot's own code; the articles go
in with the sync sqlite3 module (one transaction, executemany per chunk of 10,000 generated in a
worker process) and each chunk is added to the FTS index with one INSERT ... SELECT (the insert
trigger is dropped meanwhile and recreated), segment merging deferred to one 'optimize' at the
end: faster than the trigger or a final 'rebuild' (`--fts-build` picks another way, to compare).

Latencies are wall-clock per request with a warm cache: each kind's distinct queries run once
untimed (the "first" column shows the slowest of those first runs), then the timed runs cycle
through them. "overall" weights every /search and /latest kind equally. The last line of output
is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import math
import os
import random
import re
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db, search
from bot.matching import Query, clean_for_matching, parse_query, words_of
from bot.matching.fulltext import FIELD_BREAK, index_text, search_text
from bot.text import title_fingerprint

GEN_VERSION = 4  # bump when the generated data changes, so cached files are not reused
SEED = 20_240_601
FEEDS = 50
ENGLISH_SHARE = 0.6
CHUNK = 10_000  # articles per generated chunk
BODY_BYTES = 2048  # each article's body, UTF-8
SENTENCES = 20_000  # the pool of body sentences per language
SPAN = timedelta(days=365)  # the articles' publication times cover a year ending at END
END = datetime(2026, 1, 1, tzinfo=UTC)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime on SQLite

# --- vocabularies ----------------------------------------------------------------------------

# The head of the English Zipf list, most frequent first; a pseudo-word tail follows.
_EN_HEAD_TEXT = """
the of to and a in on for is that with said was as at by it from has be have are will an its
after but not this who were they he his their which more been over new than also had about would
into up two year one could out people government first last week percent may other some there
million her she state when all years president officials told country according since world
three while under what can report before during against billion including between just most
public day time back only national still minister says city groups local market company
military court law security attack forces economy economic trade prices oil energy climate
police killed deal talks china united states house white support health leaders political party
vote campaign foreign defense power city water home family children school women men high
rates bank central growth jobs workers tax budget spending debt investors shares stock index
fell rose record months days hours early late next former chief executive officer agency
federal department service services data system technology online internet phone users
social media video news reported statement spokesman spokeswoman announced plans plan program
project development region area border crisis conflict peace troops soldiers military fighting
ceasefire aid humanitarian refugees hospital doctors patients virus vaccine disease outbreak
research study scientists university students teachers education court judge trial case
charges prison sentence investigation evidence lawyers lawsuit rights protest protesters
crowd rally storm flood fire earthquake weather temperatures heat rain snow drought wildfire
season game team players coach league championship win won lost match final cup fans stadium
film music artist show festival book author museum travel airline flight airport train
road car cars electric vehicles battery production factory supply chain exports imports
tariffs sanctions inflation recession unemployment housing prices mortgage rent interest
minister parliament lawmakers congress senate bill legislation reform policy strategy
international global european asian african american british french german chinese russian
japanese indian middle east north south west east capital town village island coast
million thousand hundred dozens several many few new old young major key big small large
"""

# Words that contain a query term without being it, at realistic document frequencies:
# the full-text index returns them as candidates and the matcher rejects them.
_EN_LOOKALIKES = {
    "senator": 0.015,
    "senators": 0.004,
    "toward": 0.012,
    "forward": 0.010,
    "warning": 0.012,
    "award": 0.005,
    "software": 0.006,
    "warm": 0.003,
    "warrant": 0.003,
    "warehouse": 0.002,
    "award-winning": 0.001,
}

# Chinese: a head list of news words (single characters are function words), then a tail of
# two-character combinations of common characters.
_ZH_HEAD_TEXT = """
的 了 在 是 和 对 将 与 为 也 等 中 上 已 并 但 被 有 表示 中国 美国 发展 国家 政府 市场 企业
公司 记者 国际 合作 社会 问题 工作 建设 疫情 政策 全国 地区 北京 上海 香港 台湾 日本 欧洲 总统
会议 领导人 部长 外交部 发言人 安全 军事 战争 冲突 谈判 协议 贸易 关税 投资 银行 利率 通胀
股市 指数 增长 下降 上涨 消费 就业 人口 教育 科技 人工智能 芯片 汽车 电动车 能源 石油 天然气
气候 环境 地震 暴雨 洪水 事故 警方 法院 调查 报告 数据 统计 研究 专家 学者 官员 民众 选民
候选人 议会 国会 联合国 欧盟 央行 人民币 美元 债券 房地产 楼市 医疗 医院 疫苗 病毒 患者 体育
比赛 冠军 球队 电影 文化 旅游 航空 铁路 交通 城市 农村 农业 粮食 价格 收入 家庭 儿童 学生
大学 网络 平台 手机 互联网 数字 改革 开放 创新 产业 制造业 出口 进口 供应链 危机 风险 挑战
机遇 未来 目前 今年 去年 近日 周一 周二 周三 周四 周五 此前 据悉 报道 消息 宣布 决定 计划
推动 加强 支持 提高 实现 继续 进一步 已经 可能 需要 重要 主要 相关 有关 方面 情况 措施 行动
影响 结果 一个 这个 我们 他们 没有 进行 通过 认为 指出 同时 其中 之后 以来 方面 提供 举行
"""
_ZH_CHARS = "".join(
    dict.fromkeys(
        "人民国家中大年出会时行方法经动生产作地于成分部同就可下定政市理业开当发展主公用工学以"
        "全事实者高合明面所新力气多日体电关本家重期化进现量都两军之心而前外长意平十起表种加点"
        "路能利子看资交北南西东通问题区城强世界金制品水科技权思治变信记院报美统计设施"
        "安保护环境教育医疗卫健康文旅游农村林海洋港口航运输物流网络数据智慧能源油煤核风光"
        "议员选票党派领袖官商银股债汇率价格涨跌消费零售房租贷款投融基建项目工程铁公路桥"
        "灾害雨雪洪旱火灾救援警察案件法庭审判罪刑监狱调查证据律师权利抗议游行集会冲突和谈"
    )
)


@dataclass(frozen=True, slots=True)
class Topic:
    """A term injected into a document with probability `share`, with companions."""

    text: str  # as written in the article
    share: float  # fraction of the language's documents that mention it
    companions: tuple[tuple[str, float], ...] = ()  # (word, probability it appears too)


EN_TOPICS = (
    Topic("NATO", 0.020, (("summit", 0.35), ("Russia", 0.4), ("Ukraine", 0.3))),
    Topic("Ukraine", 0.030, (("Russia", 0.6), ("war", 0.4))),
    Topic("Russia", 0.020),
    Topic("election", 0.025, (("vote", 0.3), ("campaign", 0.3))),
    Topic("war", 0.020),
    Topic("summit", 0.006),
    Topic("White House", 0.010, (("Trump", 0.3),)),
    Topic("prime minister", 0.012),
    Topic("interest rates", 0.007, (("inflation", 0.5),)),
    Topic("Trump", 0.020),
    Topic("Kyrgyzstan", 0.0001),  # about 60 articles in a million
    Topic("Tuvalu", 0.000005),  # a handful: fewer than one page
)
ZH_TOPICS = (
    Topic("乌克兰", 0.030, (("俄罗斯", 0.6), ("战争", 0.3))),
    Topic("俄罗斯", 0.020),
    Topic("美联储", 0.010, (("利率", 0.6), ("通胀", 0.3))),
    Topic("经济", 0.080),
    Topic("选举", 0.020),
    Topic("北约", 0.010, (("峰会", 0.3),)),
    Topic("塔吉克斯坦", 0.0001),
    Topic("疟疾", 0.0001),
)
# Substrings counted while generating, to report how often each query term occurs.
COUNTED = (
    "nato", "ukraine", "election", "war", "white house", "prime minister", "kyrgyzstan", "tuvalu",
    "summit", "russia", "乌克兰", "俄罗斯", "美联储", "经济", "选举", "塔吉克斯坦", "疟疾",
)  # fmt: skip


def _zipf_cum(n: int, s: float = 1.05, q: float = 2.7) -> list[float]:
    """Cumulative Zipf–Mandelbrot weights for ranks 0..n-1."""
    return list(itertools.accumulate(1.0 / (r + q) ** s for r in range(n)))


_SYLLABLES = {
    "onsets": "b c d f g h j k l m n p r s t v w br cr dr fl gr pl pr sh st str th tr ch",
    "vowels": "a e i o u ai ea ee ie oo ou",
    "codas": "n r s t l m nd nt st ck ng rt",
    "suffixes": "s ed ing er ers tion ation ly al ment ist ity",
}


def _english_vocab(rng: random.Random) -> list[str]:
    onsets = _SYLLABLES["onsets"].split()
    vowels = _SYLLABLES["vowels"].split()
    codas = [""] * 6 + _SYLLABLES["codas"].split()
    suffixes = [""] * 8 + _SYLLABLES["suffixes"].split()
    head = list(dict.fromkeys(_EN_HEAD_TEXT.split()))
    seen = set(head)
    tail: list[str] = []
    while len(tail) < 30_000:
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
            for _ in range(rng.choice((1, 2, 2, 3)))
        )
        word += rng.choice(suffixes)
        if len(word) > 2 and word not in seen:
            seen.add(word)
            tail.append(word)
    return head + tail


def _chinese_vocab(rng: random.Random) -> list[str]:
    head = list(dict.fromkeys(_ZH_HEAD_TEXT.split()))
    seen = set(head)
    tail: list[str] = []
    while len(tail) < min(20_000, len(_ZH_CHARS) ** 2 // 3):
        word = rng.choice(_ZH_CHARS) + rng.choice(_ZH_CHARS)
        if word not in seen:
            seen.add(word)
            tail.append(word)
    return head + tail


@dataclass(slots=True)
class _Language:
    vocab: list[str]
    cum: list[float]
    topics: tuple[Topic, ...]
    feeds: list[int]
    feed_cum: list[float]
    # The pool bodies are drawn from: each sentence with its index tokens, made once.
    sentences: list[tuple[str, str]] = field(default_factory=list)


_LANGS: dict[str, _Language] = {}


def _languages() -> dict[str, _Language]:
    """The vocabularies, built once per process (the same in every worker: a fixed seed)."""
    if not _LANGS:
        rng = random.Random(SEED)
        en, zh = _english_vocab(rng), _chinese_vocab(rng)
        n_en = round(FEEDS * ENGLISH_SHARE)
        en_feeds, zh_feeds = list(range(1, n_en + 1)), list(range(n_en + 1, FEEDS + 1))
        _LANGS["en"] = _Language(en, _zipf_cum(len(en)), EN_TOPICS, en_feeds, _zipf_cum(len(en_feeds), 0.8))
        _LANGS["zh"] = _Language(zh, _zipf_cum(len(zh)), ZH_TOPICS, zh_feeds, _zipf_cum(len(zh_feeds), 0.8))
        for lang in _LANGS.values():
            pool = [_sentence(rng, lang) for _ in range(SENTENCES)]
            lang.sentences = [(text, _tokens(text)) for text in pool]
    return _LANGS


def _sentence(rng: random.Random, lang: _Language) -> str:
    if lang.topics is EN_TOPICS:
        words = rng.choices(lang.vocab, cum_weights=lang.cum, k=rng.randint(8, 16))
        text = " ".join(words)
        return text[:1].upper() + text[1:] + "."
    words = rng.choices(lang.vocab, cum_weights=lang.cum, k=rng.randint(10, 20))
    return "".join(words[:7]) + "，" + "".join(words[7:]) + "。"


def _tokens(text: str) -> str:
    """The index tokens of one field's text, as the bot makes them."""
    return index_text(words_of(clean_for_matching(text)))


def _body(rng: random.Random, lang: _Language, english: bool) -> tuple[str, str]:
    """About BODY_BYTES of UTF-8 (sentences from the pool, a topic now and then), and its tokens.

    The body's tokens are its sentences' tokens joined (with the bigram across each break in
    Chinese): far cheaper than tokenizing 2 KB per article, and checked against the bot's own
    function on a sample of every chunk.
    """
    parts = []
    size = 0
    while size < BODY_BYTES:
        sentence = rng.choice(lang.sentences)
        parts.append(sentence)
        size += len(sentence[0]) + (1 if english else 2 * len(sentence[0]))
    for topic in lang.topics:  # bodies mention the topics too, as often as titles and summaries
        if rng.random() < topic.share:
            text = topic.text + ("." if english else "。")
            parts.insert(rng.randrange(len(parts) + 1), (text, _tokens(text)))
    if english:
        return " ".join(text for text, _ in parts), " ".join(tokens for _, tokens in parts)
    # Chinese sentences are one run of characters to the matcher (punctuation is no token), so
    # the bigram across each sentence break is indexed too.
    joined = [parts[0][1]]
    for (_, before), (_, after) in itertools.pairwise(parts):
        joined += [before[-1] + after[0], after]
    return "".join(text for text, _ in parts), " ".join(joined)


def _inject(rng: random.Random, words: list[str], lang: _Language) -> None:
    for topic in lang.topics:
        if rng.random() < topic.share:
            words.insert(rng.randrange(len(words) + 1), topic.text)
            for companion, p in topic.companions:
                if rng.random() < p:
                    words.insert(rng.randrange(len(words) + 1), companion)


def _english_text(rng: random.Random, lang: _Language) -> tuple[str, str]:
    title = rng.choices(lang.vocab, cum_weights=lang.cum, k=rng.randint(6, 12))
    summary = rng.choices(lang.vocab, cum_weights=lang.cum, k=rng.randint(34, 50))
    for word, share in _EN_LOOKALIKES.items():
        if rng.random() < share:
            summary.insert(rng.randrange(len(summary) + 1), word)
    # A topic lands in the title a third of the time, else in the summary.
    _inject(rng, title if rng.random() < 0.33 else summary, lang)
    sentences = []
    for start in range(0, len(summary), 12):
        sentence = " ".join(summary[start : start + 12])
        sentences.append(sentence[:1].upper() + sentence[1:] + ".")
    return " ".join(w[:1].upper() + w[1:] for w in title), " ".join(sentences)


def _chinese_text(rng: random.Random, lang: _Language) -> tuple[str, str]:
    title = rng.choices(lang.vocab, cum_weights=lang.cum, k=rng.randint(8, 14))
    summary = rng.choices(lang.vocab, cum_weights=lang.cum, k=rng.randint(140, 190))
    _inject(rng, title if rng.random() < 0.33 else summary, lang)
    parts: list[str] = []
    for i, word in enumerate(summary, 1):
        parts.append(word)
        if i % 7 == 0:
            parts.append("。" if i % 21 == 0 else "，")
    return "".join(title), "".join(parts) + "。"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _chunk_rows(args: tuple[int, int, int]) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Rows for articles [start, stop) of `total`, and how many contain each counted term.

    The counts also hold "text bytes" (title, summary and body, UTF-8) and "token bytes" (the
    stored index tokens).
    """
    start, stop, total = args
    langs = _languages()
    rng = random.Random(SEED * 1_000_003 + start)
    step = SPAN.total_seconds() / total
    begin = END - SPAN
    counts = dict.fromkeys(COUNTED, 0) | {"text bytes": 0, "token bytes": 0}
    rows: list[tuple[Any, ...]] = []
    for i in range(start, stop):
        english = rng.random() < ENGLISH_SHARE
        lang = langs["en" if english else "zh"]
        title, summary = (_english_text if english else _chinese_text)(rng, lang)
        body, body_tokens = _body(rng, lang, english)
        # What bot/db/articles.py stores for the index: fulltext.search_text(title, summary, body).
        tokens = f"{search_text(title, summary, '')} {FIELD_BREAK} {body_tokens}"
        if i - start < 3:
            assert tokens == search_text(title, summary, body), i
        counts["text bytes"] += len(title.encode()) + len(summary.encode()) + len(body.encode())
        counts["token bytes"] += len(tokens.encode())
        feed_id = rng.choices(lang.feeds, cum_weights=lang.feed_cum)[0]
        published = begin + timedelta(seconds=(i + rng.random() * 0.9) * step)
        seen = published + timedelta(seconds=rng.uniform(30, 1200))
        key = hashlib.sha256(f"{feed_id}:{i}".encode()).hexdigest()
        link = f"https://news{feed_id}.example/{published:%Y/%m/%d}/{i}"
        author = "" if rng.random() < 0.5 else f"Reporter {rng.randrange(300)}"
        fingerprint = title_fingerprint(title)
        haystack = (title + " " + summary + " " + body).lower()
        for term in COUNTED:
            if term in haystack:
                counts[term] += 1
        rows.append(
            (
                i + 1,
                feed_id,
                key,
                title,
                link,
                published.strftime(SQLITE_TIME),
                summary,
                body,
                author,
                seen.strftime(SQLITE_TIME),
                _sha(link),
                _sha(fingerprint) if fingerprint else None,
                tokens,
            )
        )
    return rows, counts


# --- the database ----------------------------------------------------------------------------

_INSERT = (
    "INSERT INTO articles (id, feed_id, key, title, link, published, summary, content, author,"
    " first_seen_at, link_hash, title_fp, search_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# The sort key (publication second, then id) as migration 0008 and bot/db/articles.py write it:
# the FTS rowid, and the cursor of a page far back.
SORT_KEY = "((CAST(strftime('%s', published) AS INTEGER) << 31) | id)"

_INDEX_CHUNK = (
    f"INSERT INTO articles_fts(rowid, search_text)"
    f" SELECT {SORT_KEY}, search_text FROM articles WHERE id BETWEEN ? AND ? ORDER BY id"
)


def _chunks(total: int) -> Iterator[tuple[int, int, int]]:
    for start in range(0, total, CHUNK):
        yield start, min(start + CHUNK, total), total


async def _create_schema(path: Path) -> None:
    """The bot's own schema (every migration) and the feeds, through the bot's code."""
    store = db.Store(db.make_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        await db.upgrade_schema(store.engine)
        async with store.write() as session:
            for n in range(1, FEEDS + 1):
                english = n <= round(FEEDS * ENGLISH_SHARE)
                name = f"World Wire {n}" if english else f"新闻快讯 {n}"
                await db.add_feed(session, f"https://news{n}.example/feed.xml", name, END - SPAN)
    finally:
        await store.close()


def build(path: Path, total: int, fts: str) -> dict[str, Any]:
    """Generate `total` articles into a new file at `path`; returns the build figures."""
    partial = path.with_name(path.name + ".partial")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(_create_schema(partial))
    conn = sqlite3.connect(partial, isolation_level=None)
    # A throwaway file: no journal, no fsync, a big cache. The bot's engine turns WAL back on.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    trigger_sql = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'articles_fts_insert'"
    ).fetchone()[0]
    if fts != "trigger":
        conn.execute("DROP TRIGGER articles_fts_insert")
    # Merging the index's segments as they pile up costs more than one merge at the end
    # ('optimize'): about a fifth of the build. Both settings are removed again below.
    conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 0)")
    conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('crisismerge', 256)")
    counts = dict.fromkeys(COUNTED, 0) | {"text bytes": 0, "token bytes": 0}
    workers = max(1, (os.cpu_count() or 1) - 1)
    insert_s = 0.0
    conn.execute("BEGIN")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for done, (rows, chunk_counts) in enumerate(pool.map(_chunk_rows, _chunks(total)), 1):
            t0 = time.perf_counter()
            conn.executemany(_INSERT, rows)
            if fts == "chunks":
                conn.execute(_INDEX_CHUNK, (rows[0][0], rows[-1][0]))
            insert_s += time.perf_counter() - t0
            for term, n in chunk_counts.items():
                counts[term] += n
            if done % 10 == 0:
                print(f"  {done * CHUNK:>9,} articles, {time.perf_counter() - started:6.1f} s", flush=True)
    conn.execute("COMMIT")
    if fts == "chunks":
        conn.execute(trigger_sql)
    rebuild_s = 0.0
    if fts == "rebuild":
        t0 = time.perf_counter()
        conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
        conn.execute(trigger_sql)
        rebuild_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
    optimize_s = time.perf_counter() - t0
    conn.execute("DELETE FROM articles_fts_config WHERE k IN ('automerge', 'crisismerge')")
    conn.execute("PRAGMA journal_mode=WAL")
    sizes = _sizes(conn, counts.pop("text bytes"), counts.pop("token bytes"))
    conn.close()
    partial.rename(path)
    return {
        "gen_version": GEN_VERSION,
        "articles": total,
        "fts_build": fts,
        "build_s": round(time.perf_counter() - started, 1),
        "insert_s": round(insert_s, 1),
        "fts_rebuild_s": round(rebuild_s, 1),
        "fts_optimize_s": round(optimize_s, 1),
        "db_bytes": path.stat().st_size,
        "sizes": sizes,
        "term_docs": counts,
    }


def _sizes(conn: sqlite3.Connection, text_bytes: int, token_bytes: int) -> dict[str, int]:
    """Bytes of the text, the stored tokens, the full-text index (its shadow tables) and the file."""
    pages = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    index = sum(n for name, n in pages.items() if name.startswith("articles_fts"))
    file_bytes = (
        conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    )
    return {"text": text_bytes, "tokens": token_bytes, "fts_index": index, "file": file_bytes}


def size_line(sizes: dict[str, int]) -> str:
    gib = 2**30
    return (
        f"sizes: text (title, summary, body) {sizes['text'] / gib:.2f} GiB; stored index tokens"
        f" {sizes['tokens'] / gib:.2f} GiB; full-text index {sizes['fts_index'] / gib:.2f} GiB"
        f" ({sizes['fts_index'] / sizes['text']:.2f}× the text); database file {sizes['file'] / gib:.2f} GiB"
    )


# --- what is measured ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of request, with the queries its timed runs cycle through."""

    name: str
    command: str  # as a user would type it
    queries: tuple[str | None, ...]
    limit: int
    deep: bool = False  # a page far back: a cursor in the older half of the table
    backtest: bool = False  # /subscribe: count_matches + find(limit=3) over the last week

    @property
    def in_overall(self) -> bool:
        return not self.backtest


KINDS = (
    Kind("latest5", "/latest", (None,), 5),
    Kind("latest20", "/latest 20", (None,), 20),
    Kind("common", "/search nato | ukraine | election", ("nato", "ukraine", "election"), 5),
    Kind("short_substring", "/search war  (inside toward, warning, ...)", ("war",), 5),
    Kind("rare", "/search kyrgyzstan  (~120 per million)", ("kyrgyzstan",), 5),
    Kind("very_rare", "/search tuvalu  (~6 per million: ~1 page)", ("tuvalu",), 5),
    Kind("phrase", '/search "white house" | "prime minister"', ('"white house"', '"prime minister"'), 5),
    Kind("two_words", "/search ukraine russia", ("ukraine russia",), 5),
    Kind("exclusion", "/search nato -summit | ukraine -russia", ("nato -summit", "ukraine -russia"), 5),
    Kind("cjk", "/search 乌克兰 | 俄罗斯 | 美联储", ("乌克兰", "俄罗斯", "美联储"), 5),
    Kind("cjk_rare", "/search 塔吉克斯坦  (~80 per million)", ("塔吉克斯坦",), 5),
    Kind("cjk_2char", "/search 经济 | 选举  (one bigram)", ("经济", "选举"), 5),
    Kind("cjk_2char_rare", "/search 疟疾  (one bigram, ~80 per million)", ("疟疾",), 5),
    Kind("deep_page", "/search nato | 乌克兰, page far back", ("nato", "乌克兰"), 5, deep=True),
    Kind("latest20_query", "/latest 20 ukraine | 乌克兰", ("ukraine", "乌克兰"), 20),
    Kind("backtest", "/subscribe nato | 乌克兰  (7-day backtest)", ("nato", "乌克兰"), 3, backtest=True),
    Kind("backtest_2char", "/subscribe 经济  (7-day backtest)", ("经济",), 3, backtest=True),
)
DEEP_FRACTIONS = (0.5, 0.35, 0.2, 0.05)  # cursors as a fraction of the newest id


@dataclass(frozen=True, slots=True)
class Case:
    text: str | None
    query: Query | None
    below_id: int | None  # the page starts below this article (and below its sort key, `before`)
    before: int | None = None


@dataclass(slots=True)
class Outcome:
    ids: list[int]
    count: int | None = None  # the backtest's match count
    scanned: int = 0


@dataclass(slots=True)
class SqlClock:
    """Time spent in the driver (statement and fetch), summed over one request."""

    seconds: float = 0.0
    statements: int = 0
    started: list[float] = field(default_factory=list)
    captured: list[tuple[str, Any]] | None = None

    def install(self, engine: AsyncEngine) -> None:
        def before(_conn: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
            self.started.append(time.perf_counter())
            if self.captured is not None:
                self.captured.append((statement, params))

        def after(*_args: Any) -> None:
            self.seconds += time.perf_counter() - self.started.pop()
            self.statements += 1

        event.listen(engine.sync_engine, "before_cursor_execute", before)
        event.listen(engine.sync_engine, "after_cursor_execute", after)

    def reset(self) -> None:
        self.seconds, self.statements = 0.0, 0


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_NAIVE_TERM = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')


def naive_terms(text: str) -> tuple[list[str], list[str]]:
    """What a naive search makes of a query: words and "phrases" to find, -words to avoid."""
    include: list[str] = []
    exclude: list[str] = []
    for m in _NAIVE_TERM.finditer(text):
        negative, term = (m.group(1), m.group(2)) if m.group(2) is not None else (m.group(3), m.group(4))
        if term:
            (exclude if negative else include).append(term)
    return include, exclude


async def _with_cursor(store: db.Store, case: Case) -> Case:
    """The case with the sort key of the article its page starts below, as the pager would hold."""
    if case.below_id is None:
        return case
    async with store.read() as session:
        stmt = sql_text(f"SELECT {SORT_KEY} FROM articles WHERE id = :i")
        before = int((await session.execute(stmt, {"i": case.below_id})).scalar_one())
    return Case(case.text, case.query, case.below_id, before)


async def run_find(store: db.Store, kind: Kind, case: Case, since: datetime) -> Outcome:
    """The bot's back end, called as the handlers call it."""
    if kind.backtest:
        assert case.query is not None
        count = await search.count_matches(store, case.query, since=since)
        page = await search.find(store, case.query, limit=kind.limit, since=since)
        return Outcome([a.id for a, _ in page.items], count, page.scanned)
    page = await search.find(store, case.query, limit=kind.limit, before=case.before)
    return Outcome([a.id for a, _ in page.items], None, page.scanned)


async def run_naive(store: db.Store, kind: Kind, case: Case, since: datetime) -> Outcome:
    """The baseline: one LIKE '%term%' scan over title || summary || body, newest first, no index."""
    a, f = db.Article, db.Feed
    haystack = a.title + a.summary + a.content
    cond = []
    if case.text is not None:
        include, exclude = naive_terms(case.text)
        cond += [haystack.like(_like(t), escape="\\") for t in include]
        cond += [haystack.not_like(_like(t), escape="\\") for t in exclude]
    if case.below_id is not None:  # the generated articles' dates grow with their ids
        cond.append(a.id < case.below_id)
    if kind.backtest:
        cond.append(a.published >= since)
    async with store.read() as session:
        count = None
        if kind.backtest:
            count = int((await session.execute(select(func.count(a.id)).where(*cond))).scalar_one())
        stmt = (
            select(a, f)
            .join(f, f.id == a.feed_id)
            .where(*cond)
            .order_by(a.published.desc(), a.id.desc())
            .limit(kind.limit + 1)
        )
        rows = (await session.execute(stmt)).all()
        items = [(art, feed.display_name) for art, feed in rows[: kind.limit]]
    return Outcome([art.id for art, _ in items], count)


Runner = Callable[[db.Store, Kind, Case, datetime], Awaitable[Outcome]]


def percentile(values: Sequence[float], q: float, weights: Sequence[float] | None = None) -> float:
    """The smallest value with at least q % of the (weighted) samples at or below it."""
    if not values:
        return math.nan
    w = weights or [1.0] * len(values)
    pairs = sorted(zip(values, w, strict=True))
    goal = q / 100 * sum(w) - 1e-9
    acc = 0.0
    for value, weight in pairs:
        acc += weight
        if acc >= goal:
            return value
    return pairs[-1][0]


@dataclass(slots=True)
class Series:
    """One engine's figures for one kind."""

    times: list[float] = field(default_factory=list)  # seconds, timed runs
    first: list[float] = field(default_factory=list)  # seconds, the first run of each case
    sql: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    scanned: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)  # of the first runs

    def p(self, q: float) -> float:
        return percentile(self.times, q)


async def measure(
    store: db.Store,
    clock: SqlClock,
    kind: Kind,
    cases: list[Case],
    runner: Runner,
    since: datetime,
    *,
    runs: int,
    budget: float,
    min_runs: int,
) -> Series:
    series = Series()

    async def once(case: Case) -> tuple[float, Outcome]:
        clock.reset()
        t0 = time.perf_counter()
        outcome = await runner(store, kind, case, since)
        elapsed = time.perf_counter() - t0
        series.sql.append(clock.seconds)
        series.statements.append(clock.statements)
        series.scanned.append(outcome.scanned)
        return elapsed, outcome

    for case in cases:  # first runs, untimed: they warm the caches
        elapsed, outcome = await once(case)
        series.first.append(elapsed)
        series.outcomes.append(outcome)
    series.sql.clear()
    series.statements.clear()
    series.scanned.clear()
    deadline = time.perf_counter() + budget
    for i in range(runs):
        if i >= min_runs and time.perf_counter() > deadline:
            break
        elapsed, _ = await once(cases[i % len(cases)])
        series.times.append(elapsed)
    return series


# --- the run ---------------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _ratio(naive: float, found: float) -> float:
    return round(naive / found, 2) if found > 0 else math.nan


def _hits(a: Series, b: Series) -> str:
    """Articles returned by each engine on the first run of each case, summed."""
    return f"{sum(len(x.ids) for x in a.outcomes)}/{sum(len(y.ids) for y in b.outcomes)}"


def _same(a: Series, b: Series, backtest: bool) -> str:
    """How many first runs returned the same articles (and, for backtests, the same count)."""
    same = sum(
        x.ids == y.ids and (not backtest or x.count == y.count)
        for x, y in zip(a.outcomes, b.outcomes, strict=True)
    )
    return f"{same}/{len(a.outcomes)}"


async def explain(store: db.Store, clock: SqlClock, since: datetime) -> None:
    """The query plans of the statements one request of each kind runs (first batch only)."""
    seen: set[str] = set()
    for kind in KINDS:
        text = kind.queries[0]
        case = Case(text, parse_query(text) if text else None, None)
        clock.captured = []
        await run_find(store, kind, case, since)
        captured, clock.captured = clock.captured, None
        for statement, params in captured:
            if statement in seen:
                continue
            seen.add(statement)
            async with store.engine.connect() as conn:
                plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)).all()
            print(f"\n[{kind.name}] {' '.join(statement.split())}\n  params: {params}")
            for row in plan:
                print(f"  {row[-1]}")


async def bench(path: Path, args: argparse.Namespace, meta: dict[str, Any]) -> dict[str, Any]:
    store = db.Store(db.make_engine(f"sqlite+aiosqlite:///{path}"))
    clock = SqlClock()
    clock.install(store.engine)
    try:
        async with store.read() as session:
            newest = int((await session.execute(select(func.max(db.Article.id)))).scalar_one())
            last = (await session.execute(select(func.max(db.Article.published)))).scalar_one()
        since = last - timedelta(days=7)
        if args.explain:
            await explain(store, clock, since)
            return {}
        kinds = [k for k in KINDS if not args.only or k.name in args.only]
        per_run = args.budget / (2 * len(kinds))
        print(
            "\nsql: time in the database driver per request; stmts: statements per request; scanned:"
            " rows the back end read (Page.scanned; of the find call for backtests); same: first runs"
            " where both engines returned the same articles; items: articles returned, find/naive"
        )
        print(
            f"{'kind':<15} {'n':>4} {'find p50':>9} {'p99':>8} {'first':>8} {'naive p50':>10} {'p99':>8}"
            f" {'×p50':>6} {'×p99':>6} {'sql p50':>8} {'stmts':>5} {'scanned':>7} {'same':>5} {'items':>7}"
            "  command"
        )
        results: dict[str, Any] = {}
        mix: dict[str, list[tuple[float, float]]] = {"find": [], "naive": []}
        for kind in kinds:
            cases = [
                Case(text, parse_query(text) if text else None, round(newest * f) if kind.deep else None)
                for text in kind.queries
                for f in (DEEP_FRACTIONS if kind.deep else (1.0,))
            ]
            cases = [await _with_cursor(store, case) for case in cases]
            common = dict(runs=args.queries, budget=per_run, min_runs=args.min_runs)
            found = await measure(store, clock, kind, cases, run_find, since, **common)
            naive = await measure(store, clock, kind, cases, run_naive, since, **common)
            row = {
                "command": kind.command,
                "n_find": len(found.times),
                "n_naive": len(naive.times),
                "find_p50_ms": _ms(found.p(50)),
                "find_p99_ms": _ms(found.p(99)),
                "find_first_max_ms": _ms(max(found.first)),
                "naive_p50_ms": _ms(naive.p(50)),
                "naive_p99_ms": _ms(naive.p(99)),
                "naive_first_max_ms": _ms(max(naive.first)),
                "ratio_p50": _ratio(naive.p(50), found.p(50)),
                "ratio_p99": _ratio(naive.p(99), found.p(99)),
                "find_sql_p50_ms": _ms(percentile(found.sql, 50)),
                "find_statements_p50": percentile(found.statements, 50),
                "find_rows_scanned_p50": percentile(found.scanned, 50),
                "same_results": _same(found, naive, kind.backtest),
                "items_find_naive": _hits(found, naive),
                "in_overall": kind.in_overall,
            }
            results[kind.name] = row
            if kind.in_overall:
                mix["find"] += [(t, 1 / len(found.times)) for t in found.times]
                mix["naive"] += [(t, 1 / len(naive.times)) for t in naive.times]
            print(
                f"{kind.name:<15} {len(found.times):>4} {row['find_p50_ms']:>9.2f} {row['find_p99_ms']:>8.2f}"
                f" {row['find_first_max_ms']:>8.2f} {row['naive_p50_ms']:>10.2f} {row['naive_p99_ms']:>8.2f}"
                f" {row['ratio_p50']:>6.2f} {row['ratio_p99']:>6.2f} {row['find_sql_p50_ms']:>8.2f}"
                f" {row['find_statements_p50']:>5} {row['find_rows_scanned_p50']:>7}"
                f" {row['same_results']:>5} {row['items_find_naive']:>7}  {kind.command}",
                flush=True,
            )
        overall = {}
        for engine, samples in mix.items():
            if samples:
                times, weights = zip(*samples, strict=True)
                overall[f"{engine}_p50_ms"] = _ms(percentile(times, 50, weights))
                overall[f"{engine}_p99_ms"] = _ms(percentile(times, 99, weights))
        if overall:
            overall["ratio_p50"] = _ratio(overall["naive_p50_ms"], overall["find_p50_ms"])
            overall["ratio_p99"] = _ratio(overall["naive_p99_ms"], overall["find_p99_ms"])
            print(
                f"{'overall':<15} {'':>4} {overall['find_p50_ms']:>9.2f} {overall['find_p99_ms']:>8.2f}"
                f" {'':>8} {overall['naive_p50_ms']:>10.2f} {overall['naive_p99_ms']:>8.2f}"
                f" {overall['ratio_p50']:>6.2f} {overall['ratio_p99']:>6.2f}"
                "  (every /search and /latest kind weighted equally; backtests excluded)"
            )
        return {"kinds": results, "overall": overall}
    finally:
        await store.close()


def schema_head() -> str:
    """The newest migration's revision: a cached file made with an older schema is not reused."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "bot:migrations")
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1_000_000, help="articles stored (default 1,000,000)")
    parser.add_argument(
        "--queries", type=int, default=200, help="timed runs per kind and engine, at most (default 200)"
    )
    parser.add_argument(
        "--budget", type=float, default=300.0, help="seconds for all timed runs, split evenly (default 300)"
    )
    parser.add_argument("--min-runs", type=int, default=5, help="timed runs per kind even over budget")
    parser.add_argument("--rebuild", action="store_true", help="generate the articles again")
    parser.add_argument(
        "--fts-build",
        choices=("chunks", "trigger", "rebuild"),
        default="chunks",
        help="how the FTS index is filled",
    )
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-bench")
    parser.add_argument("--only", nargs="*", help="only these kinds (by name)")
    parser.add_argument("--explain", action="store_true", help="print the back end's query plans and stop")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"search-{args.articles}-v{GEN_VERSION}-schema{schema_head()}.sqlite3"
    meta_path = path.with_suffix(".json")
    meta: dict[str, Any] | None = None
    if path.exists() and meta_path.exists() and not args.rebuild:
        meta = json.loads(meta_path.read_text())
        print(f"reusing {path} (built in {meta['build_s']} s; --rebuild to make it again)")
    else:
        print(f"generating {args.articles:,} articles into {path} ...")
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), meta_path):
            stale.unlink(missing_ok=True)
        meta = build(path, args.articles, args.fts_build)
        meta_path.write_text(json.dumps(meta, ensure_ascii=False))
        print(
            f"built in {meta['build_s']} s (inserts {meta['insert_s']} s, FTS rebuild"
            f" {meta['fts_rebuild_s']} s, optimize {meta['fts_optimize_s']} s),"
            f" {meta['db_bytes'] / 2**30:.2f} GiB"
        )
    print(size_line(meta["sizes"]))
    docs = ", ".join(f"{term} {n:,}" for term, n in meta["term_docs"].items())
    print(f"articles containing each term (substring, either language): {docs}")
    print(
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs; times in ms; × = naive / find"
        " (above 1: the bot's back end is faster)"
    )

    started = time.perf_counter()
    figures = asyncio.run(bench(path, args, meta))
    if args.explain:
        return
    print(f"timed part: {time.perf_counter() - started:.0f} s")
    summary = {
        "bench": "search",
        "articles": meta["articles"],
        "db_bytes": path.stat().st_size,
        "sizes": meta["sizes"],
        "build_s": meta["build_s"],
        "fts_build": meta["fts_build"],
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        **figures,
    }
    print(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
