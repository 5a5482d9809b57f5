"""Benchmark: /search and /latest over many stored articles on SQLite, against a naive LIKE scan.

    .venv/bin/python bench/search.py [--articles 1000000] [--queries 200] [--rebuild]

The back end measured is `bot.search.find` (and, as an extra, the /subscribe backtest:
`count_matches` plus `find(..., since=...)`), called exactly as the handlers call it, through
`bot.db.Store` on a file made by `bot.db.upgrade_schema`. The baseline, timed in the same run on
the same file and connection pool, is what a naive implementation would do: one
`WHERE title || summary LIKE '%term%' ... ORDER BY id DESC LIMIT k` query, no full-text index and
no matcher.

The articles (~60 % English, ~40 % Chinese; a title and a ~300-character summary drawn from
Zipf-distributed vocabularies, query terms injected at fixed document frequencies, spread over
50 feeds, `published` increasing) are generated once per article count into the temp directory
and reused by later runs; `--rebuild` makes them again.

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
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db, search
from bot.matcher import Query, parse_query

GEN_VERSION = 1  # bump when the generated data changes, so cached files are not reused
SEED = 20_240_601
FEEDS = 50
ENGLISH_SHARE = 0.6
CHUNK = 10_000  # articles per generated chunk
SPAN = timedelta(days=365)  # the articles' publication times cover a year ending at END
END = datetime(2026, 1, 1, tzinfo=UTC)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime on SQLite

# --- vocabularies ----------------------------------------------------------------------------

# The head of the English Zipf list, most frequent first; a pseudo-word tail follows.
_EN_HEAD = """
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
""".split()

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
_ZH_HEAD = """
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
""".split()
_ZH_CHARS = (
    "人民国家中大年出会时行方法经动生产作地于成分部同就可下定政市理业开当发展主公用工学以"
    "全事实者高合明面所新力气多日体电关本家重期化进现量都两军之心而前外长意平十起表种加点"
    "路力能利子看资交民北南西东通问题区城强世界金制品水科技权思治变信记院报美日统计设施"
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


def _english_vocab(rng: random.Random) -> list[str]:
    onsets = "b c d f g h j k l m n p r s t v w br cr dr fl gr pl pr sh st str th tr ch".split()
    vowels = "a e i o u ai ea ee ie oo ou".split()
    codas = [""] * 6 + "n r s t l m nd nt st ck ng rt".split()
    suffixes = [""] * 8 + "s ed ing er ers tion ation ly al ment ist ity".split()
    head = list(dict.fromkeys(_EN_HEAD))
    seen = set(head)
    tail: list[str] = []
    while len(tail) < 30_000:
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.choice((1, 2, 2, 3)))
        )
        word += rng.choice(suffixes)
        if len(word) > 2 and word not in seen:
            seen.add(word)
            tail.append(word)
    return head + tail


def _chinese_vocab(rng: random.Random) -> list[str]:
    head = list(dict.fromkeys(_ZH_HEAD))
    seen = set(head)
    tail: list[str] = []
    while len(tail) < 20_000:
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
    return _LANGS


def _inject(rng: random.Random, words: list[str], lang: _Language) -> None:
    for topic in lang.topics:
        if rng.random() < topic.share:
            words.insert(rng.randrange(len(words) + 1), topic.text)
            for companion, p in topic.companions:
                if rng.random() < p:
                    words.insert(rng.randrange(len(words) + 1), companion)


def _english_text(rng: random.Random, lang: _Language) -> tuple[str, str]:
    title = rng.choices(lang.vocab, cum_weights=lang.cum, k=rng.randint(6, 12))
    summary = rng.choices(lang.vocab, cum_weights=lang.cum, k=rng.randint(40, 60))
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


def _chunk_rows(args: tuple[int, int, int]) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Rows for articles [start, stop) of `total`, and how many contain each counted term."""
    start, stop, total = args
    langs = _languages()
    rng = random.Random(SEED * 1_000_003 + start)
    step = SPAN.total_seconds() / total
    begin = END - SPAN
    counts = dict.fromkeys(COUNTED, 0)
    rows: list[tuple[Any, ...]] = []
    for i in range(start, stop):
        english = rng.random() < ENGLISH_SHARE
        lang = langs["en" if english else "zh"]
        title, summary = (_english_text if english else _chinese_text)(rng, lang)
        feed_id = rng.choices(lang.feeds, cum_weights=lang.feed_cum)[0]
        published = begin + timedelta(seconds=(i + rng.random() * 0.9) * step)
        seen = published + timedelta(seconds=rng.uniform(30, 1200))
        key = hashlib.sha256(f"{feed_id}:{i}".encode()).hexdigest()
        link = f"https://news{feed_id}.example/{published:%Y/%m/%d}/{i}"
        author = "" if rng.random() < 0.5 else f"Reporter {rng.randrange(300)}"
        haystack = (title + " " + summary).lower()
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
                "",
                author,
                seen.strftime(SQLITE_TIME),
            )
        )
    return rows, counts
