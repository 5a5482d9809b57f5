"""Storage: SQLAlchemy models and the query functions. The only place with SQL.

Functions take the session first, flush when they must, and never commit: the use
cases own their transactions.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    column,
    delete,
    event,
    func,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain import Alert, EntryDraft, StoredArticle
from bot.query import normalize
from bot.text import title_fingerprint


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))  # the admin's name for it
    title: Mapped[str | None] = mapped_column(String(300))  # the feed's own title
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | gone | removed
    first_polled: Mapped[bool] = mapped_column(Boolean, default=False)
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_notified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def display_name(self) -> str:
        """The admin's name, else the feed's title, else its host."""
        from urllib.parse import urlsplit

        return self.name or self.title or urlsplit(self.url).hostname or self.url


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("feed_id", "key", name="uq_articles_feed_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2048))
    published: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(300), default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    search_text: Mapped[str] = mapped_column(Text, default="")  # the matcher's normalized title + summary
    link_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 of the canonical link
    title_fp: Mapped[str | None] = mapped_column(String(64))  # sha256 of the title's fingerprint


class Chat(Base):
    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(16), default="private")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("chat_id", "query_norm", name="uq_subscriptions_chat_query"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chats.id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(String(500))
    query_norm: Mapped[str] = mapped_column(String(500))
    muted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """The outbox: one row per (chat, article), whatever number of subscriptions matched."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("chat_id", "article_id", name="uq_deliveries_chat_article"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chats.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    terms: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of matched terms
    # pending | sending | sent | failed | dropped | uncertain
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    tg_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


CHUNK = 500  # rows or keys per statement, under every backend's bound-parameter limit


def _insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


# --- engine and schema -----------------------------------------------------


def make_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError(f"SQLite {sqlite3.sqlite_version} is too old: RETURNING needs 3.35")
        engine = create_async_engine(url, connect_args={"timeout": 5})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _upgrade(connection: Connection, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "bot:migrations")
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade_schema(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every Alembic migration not yet applied (up to `revision`: tests of a migration)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


class Store:
    """The engine's sessions, with writes serialized on SQLite (one writer at a time)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = make_sessions(engine)
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; nothing it does is committed."""
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed on success, rolled back on error."""
        if self._write_lock is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock, self.sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


# --- feeds -----------------------------------------------------------------


async def add_feed(session: AsyncSession, url: str, name: str | None, now: datetime) -> tuple[Feed, bool]:
    """Insert a feed unless its URL is stored; returns (feed, created)."""
    stmt = (
        _insert(session, Feed)
        .values(
            url=url,
            name=name,
            state="active",
            first_polled=False,
            next_check_at=now,
            error_count=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(Feed.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    feed = (await session.execute(select(Feed).where(Feed.url == url))).scalar_one()
    if new_id is None and feed.state in ("removed", "gone"):
        # Added again: polled afresh, its next poll a baseline, its old articles still known.
        feed.state, feed.first_polled, feed.next_check_at, feed.error_count = "active", False, now, 0
        feed.name = name or feed.name
        await session.flush()
        return feed, True
    return feed, new_id is not None


async def feed_by_url(session: AsyncSession, url: str) -> Feed | None:
    return (await session.execute(select(Feed).where(Feed.url == url))).scalar_one_or_none()


async def get_feed(session: AsyncSession, feed_id: int) -> Feed | None:
    return await session.get(Feed, feed_id)


async def list_feeds(session: AsyncSession) -> Sequence[Feed]:
    stmt = select(Feed).where(Feed.state != "removed").order_by(Feed.id)
    return (await session.execute(stmt)).scalars().all()


async def due_feeds(session: AsyncSession, now: datetime | None) -> Sequence[Feed]:
    """Active feeds whose next check is due (every active one when `now` is None), most overdue first."""
    stmt = select(Feed).where(Feed.state == "active").order_by(Feed.next_check_at)
    if now is not None:
        stmt = stmt.where(Feed.next_check_at <= now)
    return (await session.execute(stmt)).scalars().all()


async def record_feed_success(
    session: AsyncSession,
    feed_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    etag: str | None,
    last_modified: str | None,
    body_sha256: str | None = None,
    title: str | None = None,
    url: str | None = None,
) -> None:
    """A good poll: validators kept, errors reset, next check scheduled."""
    values: dict[str, Any] = dict(
        next_check_at=next_check_at,
        error_count=0,
        failing_since=None,
        last_success_at=now,
        first_polled=True,
        failure_notified=False,
    )
    if etag is not None or last_modified is not None:
        values.update(etag=etag, last_modified=last_modified)
    if body_sha256 is not None:
        values["body_sha256"] = body_sha256
    if title:
        values["title"] = title[:300]
    if url is not None:
        taken = await session.execute(select(Feed.id).where(Feed.url == url, Feed.id != feed_id))
        if taken.first() is None:
            values["url"] = url
    await session.execute(update(Feed).where(Feed.id == feed_id).values(**values))


async def record_feed_failure(
    session: AsyncSession,
    feed_id: int,
    *,
    now: datetime,
    error: str,
    next_check_at: datetime,
    gone: bool = False,
    notified: bool = False,
) -> None:
    """A failed poll: counted on the row, with when the trouble began."""
    await session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(
            error_count=Feed.error_count + 1,
            last_error=error[:500],
            failing_since=func.coalesce(Feed.failing_since, now),
            next_check_at=next_check_at,
            state="gone" if gone else Feed.state,
            failure_notified=notified,
        )
    )


async def feed_by_id_or_url(session: AsyncSession, ref: str) -> Feed | None:
    ref = ref.strip().lstrip("#")
    if ref.isdigit() and len(ref) < 12:
        return await session.get(Feed, int(ref))
    return await feed_by_url(session, ref)


async def remove_feed(session: AsyncSession, feed_id: int) -> bool:
    """Stop a feed and its queued alerts; its articles and sent history stay (and keep their identity)."""
    result = await session.execute(
        update(Feed).where(Feed.id == feed_id, Feed.state != "removed").values(state="removed")
    )
    article_ids = select(Article.id).where(Article.feed_id == feed_id)
    await session.execute(
        update(Delivery)
        .where(Delivery.status == "pending", Delivery.article_id.in_(article_ids))
        .values(status="dropped", last_error="feed removed")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- articles --------------------------------------------------------------


async def insert_new_articles(
    session: AsyncSession, feed_id: int, drafts: Sequence[EntryDraft], now: datetime
) -> list[StoredArticle]:
    """Store entries not stored before; return only the rows really inserted."""
    if not drafts:
        return []
    seen: set[str] = set()
    rows = []
    # Oldest first, so article ids grow with recency and "newest" is an index scan on the key.
    for d in sorted(drafts, key=lambda d: d.published):
        if d.key in seen:
            continue
        seen.add(d.key)
        rows.append(
            dict(
                feed_id=feed_id,
                key=d.key,
                title=d.title,
                link=d.link,
                published=d.published,
                summary=d.summary,
                content=d.content,
                author=d.author[:300],
                first_seen_at=now,
                search_text=normalize(f"{d.title}\n{d.summary}"),
                link_hash=_sha(d.canonical_link) if d.canonical_link else None,
                title_fp=_sha(fp) if (fp := title_fingerprint(d.title)) else None,
            )
        )
    # Known keys first: most polls of a changed feed bring a few new items among many known ones,
    # and these statements (unlike a multi-row INSERT ... RETURNING) compile once and are reused.
    keys = [r["key"] for r in rows]
    known: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        stmt = select(Article.key).where(
            Article.feed_id == feed_id, Article.key.in_(keys[start : start + CHUNK])
        )
        known.update((await session.execute(stmt)).scalars().all())
    missing = [r for r in rows if r["key"] not in known]
    if not missing:
        return []
    # ON CONFLICT still guards the unique key; one writer per feed makes the read above exact.
    await session.execute(
        _insert(session, Article).on_conflict_do_nothing(index_elements=["feed_id", "key"]), missing
    )
    wanted = [r["key"] for r in missing]
    inserted: list[StoredArticle] = []
    for start in range(0, len(wanted), CHUNK):
        back = select(
            Article.id,
            Article.feed_id,
            Article.title,
            Article.summary,
            Article.content,
            Article.key,
            Article.link_hash,
            Article.title_fp,
        ).where(Article.feed_id == feed_id, Article.key.in_(wanted[start : start + CHUNK]))
        inserted.extend(
            StoredArticle(
                id=r.id,
                feed_id=r.feed_id,
                title=r.title,
                summary=r.summary,
                content=r.content,
                key=r.key,
                link_hash=r.link_hash,
                title_fp=r.title_fp,
            )
            for r in (await session.execute(back)).all()
        )
    return sorted(inserted, key=lambda a: a.id)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def renamed_links(
    session: AsyncSession, feed_id: int, new: Sequence[StoredArticle], current_keys: set[str]
) -> set[str]:
    """Link hashes of new rows that only renamed a stored article (its GUID changed, its link did not).

    The stored article must have vanished from this fetch, and the link must be unique in it, so
    distinct items that share one link (a feed linking everything to its home page) still count.
    """
    counts: dict[str, int] = {}
    for a in new:
        if a.link_hash:
            counts[a.link_hash] = counts.get(a.link_hash, 0) + 1
    unique = [h for h, n in counts.items() if n == 1]
    if not unique:
        return set()
    new_ids = [a.id for a in new]
    stmt = select(Article.link_hash, Article.key).where(
        Article.feed_id == feed_id, Article.link_hash.in_(unique), Article.id.not_in(new_ids)
    )
    return {h for h, key in (await session.execute(stmt)).all() if h and key not in current_keys}


async def chats_alerted_for_same_story(
    session: AsyncSession, article: StoredArticle, since: datetime
) -> set[int]:
    """Chats already alerted (or queued) for the same story from another feed: same link or title."""
    conds = []
    if article.link_hash:
        conds.append(Article.link_hash == article.link_hash)
    if article.title_fp:
        conds.append(Article.title_fp == article.title_fp)
    if not conds:
        return set()
    stmt = (
        select(Delivery.chat_id)
        .join(Article, Article.id == Delivery.article_id)
        .where(or_(*conds), Article.id != article.id, Article.first_seen_at >= since)
    )
    return set((await session.execute(stmt)).scalars().all())


async def get_article(session: AsyncSession, article_id: int) -> Article | None:
    return await session.get(Article, article_id)


async def latest_articles(session: AsyncSession, limit: int) -> Sequence[tuple[Article, str]]:
    """The newest stored articles with their feed's display name."""
    stmt = (
        select(Article, Feed)
        .join(Feed, Feed.id == Article.feed_id)
        .order_by(Article.published.desc(), Article.id.desc())
        .limit(limit)
    )
    return [(a, f.display_name) for a, f in (await session.execute(stmt)).all()]


async def count_articles(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(Article.id)))).scalar_one())


async def articles_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[tuple[Article, str]]:
    """Articles with their feed's display name, newest (highest id) first."""
    if not ids:
        return []
    stmt = select(Article, Feed).join(Feed, Feed.id == Article.feed_id).where(Article.id.in_(list(ids)))
    rows = [(a, f.display_name) for a, f in (await session.execute(stmt)).all()]
    return sorted(rows, key=lambda r: r[0].id, reverse=True)


ArticleText = tuple[int, str, str, str]  # id, title, summary, content


async def first_id_since(session: AsyncSession, since: datetime) -> int | None:
    """The oldest article id first seen at or after `since` (ids grow with time), to bound a scan."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's planner would walk the primary key; the first-seen index answers this at once.
        stmt: Any = text(
            "SELECT min(id) FROM articles INDEXED BY ix_articles_first_seen WHERE first_seen_at >= :since"
        ).bindparams(bindparam("since", type_=UTCDateTime()))
    else:
        stmt = select(func.min(Article.id)).where(Article.first_seen_at >= bindparam("since"))
    value = (await session.execute(stmt, {"since": since})).scalar()
    return int(value) if value is not None else None


TRIGRAM_LENGTH = 3  # the shortest needle the trigram index (FTS5 / pg_trgm) serves


async def article_texts(
    session: AsyncSession, *, needle: str | None, below_id: int | None, low_id: int | None, limit: int
) -> list[ArticleText]:
    """Stored articles whose normalized title and summary contain `needle` (all when None), newest first.

    Ids run from just below `below_id` down to `low_id`. A needle of 3 or more characters goes through
    the trigram index, which then drives the order and stops after `limit` rows; a shorter one is a
    plain substring test. Either way the index only narrows: callers verify every row with the matcher.
    """
    columns = (Article.id, Article.title, Article.summary, Article.content)
    bounds = []
    if below_id is not None:
        bounds.append(Article.id < below_id)
    if low_id is not None:
        bounds.append(Article.id >= low_id)
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {}
    if needle is not None and len(needle) >= TRIGRAM_LENGTH and dialect == "sqlite":
        # An FTS5 string: the needle is quoted, so nothing in it is query syntax.
        params["phrase"] = '"' + needle.replace('"', '""') + '"'
        fts = table("articles_fts", column("rowid"))
        stmt = (
            select(*columns)
            .select_from(fts.join(Article, Article.id == fts.c.rowid))
            .where(text("articles_fts MATCH :phrase"), *bounds)
            .order_by(fts.c.rowid.desc())
        )
    elif needle is not None and dialect == "sqlite":
        stmt = (
            select(*columns)
            .where(func.instr(Article.search_text, needle) > 0, *bounds)
            .order_by(Article.id.desc())
        )
    elif needle is not None:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = Article.search_text.like(f"%{escaped}%", escape="\\")
        stmt = select(*columns).where(condition, *bounds).order_by(Article.id.desc())
    else:
        stmt = select(*columns).where(*bounds).order_by(Article.id.desc())
    rows = (await session.execute(stmt.limit(limit), params)).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


# --- chats and subscriptions -----------------------------------------------


async def upsert_chat(
    session: AsyncSession, chat_id: int, chat_type: str, language: str | None, now: datetime
) -> Chat:
    """Register a chat, or mark a known one active again (a /start after a block)."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        chat = Chat(id=chat_id, type=chat_type, active=True, paused=False, language=language, created_at=now)
        session.add(chat)
    else:
        chat.active = True
        chat.type = chat_type
    await session.flush()
    return chat


async def get_chat(session: AsyncSession, chat_id: int) -> Chat | None:
    return await session.get(Chat, chat_id)


async def set_chat_paused(session: AsyncSession, chat_id: int, paused: bool) -> None:
    await session.execute(update(Chat).where(Chat.id == chat_id).values(paused=paused))


async def deactivate_chat(session: AsyncSession, chat_id: int) -> None:
    """A chat that blocked the bot: inactive, and its queued alerts dropped."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(active=False))
    await session.execute(
        update(Delivery)
        .where(Delivery.chat_id == chat_id, Delivery.status == "pending")
        .values(status="dropped", last_error="chat inactive")
    )


async def migrate_chat(session: AsyncSession, old_id: int, new_id: int, now: datetime) -> None:
    """Move a group's subscriptions and queued alerts to its new supergroup id."""
    old = await session.get(Chat, old_id)
    if old is None:
        return
    if await session.get(Chat, new_id) is None:
        session.add(
            Chat(
                id=new_id,
                type="supergroup",
                active=True,
                paused=old.paused,
                language=old.language,
                created_at=now,
            )
        )
        await session.flush()
    existing = set(
        (await session.execute(select(Subscription.query_norm).where(Subscription.chat_id == new_id)))
        .scalars()
        .all()
    )
    for sub in (await session.execute(select(Subscription).where(Subscription.chat_id == old_id))).scalars():
        if sub.query_norm in existing:
            await session.delete(sub)
        else:
            sub.chat_id = new_id
    taken = set(
        (await session.execute(select(Delivery.article_id).where(Delivery.chat_id == new_id))).scalars().all()
    )
    for row in (await session.execute(select(Delivery).where(Delivery.chat_id == old_id))).scalars():
        if row.article_id in taken:
            await session.delete(row)
        else:
            row.chat_id = new_id
    await session.flush()
    await session.delete(old)
    await session.flush()


async def add_subscription(
    session: AsyncSession, chat_id: int, query: str, query_norm: str, now: datetime
) -> tuple[Subscription, bool]:
    """Insert a subscription unless the chat has the same one; returns (sub, created)."""
    stmt = (
        _insert(session, Subscription)
        .values(chat_id=chat_id, query=query, query_norm=query_norm, created_at=now)
        .on_conflict_do_nothing(index_elements=["chat_id", "query_norm"])
        .returning(Subscription.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    sub = (
        await session.execute(
            select(Subscription).where(Subscription.chat_id == chat_id, Subscription.query_norm == query_norm)
        )
    ).scalar_one()
    return sub, new_id is not None


async def count_subscriptions(session: AsyncSession, chat_id: int) -> int:
    stmt = select(func.count(Subscription.id)).where(Subscription.chat_id == chat_id)
    return int((await session.execute(stmt)).scalar_one())


async def list_subscriptions(session: AsyncSession, chat_id: int) -> Sequence[Subscription]:
    stmt = select(Subscription).where(Subscription.chat_id == chat_id).order_by(Subscription.id)
    return (await session.execute(stmt)).scalars().all()


async def remove_subscriptions(
    session: AsyncSession, chat_id: int, *, sub_id: int | None = None, query_norm: str | None = None
) -> list[Subscription]:
    """Delete the chat's subscriptions by id, by query, or all; returns what was removed."""
    stmt = select(Subscription).where(Subscription.chat_id == chat_id)
    if sub_id is not None:
        stmt = stmt.where(Subscription.id == sub_id)
    if query_norm is not None:
        stmt = stmt.where(Subscription.query_norm == query_norm)
    subs = list((await session.execute(stmt)).scalars().all())
    for sub in subs:
        await session.delete(sub)
    await session.flush()
    return subs


async def receptive_chats(session: AsyncSession, chat_ids: Iterable[int]) -> set[int]:
    """Those of the chats that are active and not paused."""
    ids = list(set(chat_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        stmt = select(Chat.id).where(
            Chat.id.in_(ids[start : start + 500]), Chat.active.is_(True), Chat.paused.is_(False)
        )
        found.update((await session.execute(stmt)).scalars().all())
    return found


async def active_subscriptions(session: AsyncSession) -> list[tuple[int, int, str]]:
    """(subscription id, chat id, query) of every active, unpaused chat."""
    stmt = (
        select(Subscription.id, Subscription.chat_id, Subscription.query)
        .join(Chat, Chat.id == Subscription.chat_id)
        .where(Chat.active.is_(True), Chat.paused.is_(False), Subscription.muted.is_(False))
        .order_by(Subscription.id)
    )
    return [(r[0], r[1], r[2]) for r in (await session.execute(stmt)).all()]


async def get_subscription(session: AsyncSession, chat_id: int, sub_id: int) -> Subscription | None:
    """A subscription of this chat (never another chat's, whatever id is asked for)."""
    stmt = select(Subscription).where(Subscription.id == sub_id, Subscription.chat_id == chat_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_subscription_muted(session: AsyncSession, sub: Subscription, muted: bool) -> None:
    sub.muted = muted
    await session.flush()


async def chat_languages(session: AsyncSession) -> dict[int, str]:
    """Chats that chose a reply language with /lang."""
    stmt = select(Chat.id, Chat.language).where(Chat.language.is_not(None))
    return {r[0]: str(r[1]) for r in (await session.execute(stmt)).all()}


async def set_chat_language(session: AsyncSession, chat_id: int, language: str) -> None:
    await session.execute(update(Chat).where(Chat.id == chat_id).values(language=language))


# --- the outbox ------------------------------------------------------------


async def enqueue_alerts(session: AsyncSession, alerts: Iterable[Alert], now: datetime) -> int:
    """Write alerts to the outbox; a (chat, article) already there is left alone."""
    rows = [
        dict(
            chat_id=a.chat_id,
            article_id=a.article_id,
            terms=json.dumps(list(a.terms), ensure_ascii=False),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for a in alerts
    ]
    count = 0
    for start in range(0, len(rows), 500):
        stmt = (
            _insert(session, Delivery)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing(index_elements=["chat_id", "article_id"])
            .returning(Delivery.id)
        )
        count += len((await session.execute(stmt)).all())
    return count


async def due_deliveries(
    session: AsyncSession, now: datetime, *, exclude_chats: Iterable[int], limit: int
) -> Sequence[Delivery]:
    """Pending rows that are due, oldest first, for chats not already in flight."""
    stmt = (
        select(Delivery)
        .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    excluded = list(exclude_chats)
    if excluded:
        stmt = stmt.where(Delivery.chat_id.not_in(excluded))
    return (await session.execute(stmt)).scalars().all()


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    delivery: Delivery
    article: Article
    feed_name: str
    chat: Chat


async def delivery_context(session: AsyncSession, delivery_id: int) -> DeliveryContext | None:
    """A pending row with what it takes to render and address it."""
    stmt = (
        select(Delivery, Article, Feed, Chat)
        .join(Article, Article.id == Delivery.article_id)
        .join(Feed, Feed.id == Article.feed_id)
        .join(Chat, Chat.id == Delivery.chat_id)
        .where(Delivery.id == delivery_id)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    delivery, article, feed, chat = row
    return DeliveryContext(delivery, article, feed.display_name, chat)


async def next_delivery_time(session: AsyncSession) -> datetime | None:
    stmt = select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending")
    value = (await session.execute(stmt)).scalar_one_or_none()
    if isinstance(value, datetime):
        return UTCDateTime().process_result_value(value, session.get_bind().dialect)
    return None


async def claim_delivery(session: AsyncSession, delivery_id: int) -> bool:
    """Move a pending row to 'sending'; False when someone else took it first."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "pending")
        .values(status="sending", attempts=Delivery.attempts + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def finish_delivery(
    session: AsyncSession,
    delivery_id: int,
    status: str,
    *,
    now: datetime,
    error: str | None = None,
    message_id: int | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Record a send's outcome on its row."""
    values: dict[str, Any] = {"status": status, "last_error": error[:500] if error else None}
    if status == "sent":
        values.update(sent_at=now, tg_message_id=message_id)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


async def mark_interrupted_sends(session: AsyncSession) -> int:
    """Rows left 'sending' by a killed process: never resent, counted as uncertain."""
    result = await session.execute(
        update(Delivery).where(Delivery.status == "sending").values(status="uncertain")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delivery_counts(session: AsyncSession) -> dict[str, int]:
    stmt = select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


@dataclass(frozen=True, slots=True)
class Stats:
    chats: dict[str, int]
    subscriptions: int
    feeds: dict[str, int]
    articles: int
    deliveries_24h: dict[str, int]


async def stats(session: AsyncSession, now: datetime) -> Stats:
    """Counts for /stats."""
    chat_rows = (
        await session.execute(
            select(Chat.active, Chat.paused, func.count(Chat.id)).group_by(Chat.active, Chat.paused)
        )
    ).all()
    chats = {"active": 0, "paused": 0, "blocked": 0}
    for active, paused, n in chat_rows:
        chats["blocked" if not active else "paused" if paused else "active"] += int(n)
    feed_rows = (
        await session.execute(select(Feed.state, Feed.error_count).where(Feed.state != "removed"))
    ).all()
    feeds = {"healthy": 0, "failing": 0, "gone": 0}
    for state, errors in feed_rows:
        feeds["gone" if state == "gone" else "failing" if errors else "healthy"] += 1
    since = now - timedelta(hours=24)
    delivery_rows = (
        await session.execute(
            select(Delivery.status, func.count(Delivery.id))
            .where(Delivery.created_at >= since)
            .group_by(Delivery.status)
        )
    ).all()
    subs = int((await session.execute(select(func.count(Subscription.id)))).scalar_one())
    return Stats(
        chats=chats,
        subscriptions=subs,
        feeds=feeds,
        articles=await count_articles(session),
        deliveries_24h={status: int(n) for status, n in delivery_rows},
    )


async def prune(session: AsyncSession, now: datetime, *, retention_days: int) -> tuple[int, int]:
    """Drop old article bodies and finished deliveries; article rows (their identity) stay forever."""
    cutoff = now - timedelta(days=retention_days)
    bodies = await session.execute(
        update(Article)
        .where(Article.first_seen_at < cutoff, (Article.summary != "") | (Article.content != ""))
        .values(summary="", content="")
    )
    done = await session.execute(
        delete(Delivery).where(Delivery.created_at < cutoff, Delivery.status.not_in(["pending", "sending"]))
    )
    return int(bodies.rowcount), int(done.rowcount)  # type: ignore[attr-defined]
