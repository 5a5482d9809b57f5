"""One process per database: a second bot on the same data would double every alert."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.db.engine import error_reason
from bot.domain import NewsbotError

logger = logging.getLogger(__name__)

ADVISORY_KEY = 0x6E657773  # "news"

HEARTBEAT_SECONDS = 5.0  # how often the lock's connection is asked whether it still holds it
CHECK_TIMEOUT = 10.0  # a check that hangs this long (a dropped route) counts as a lost lock

# Whether this very backend still holds the lock: a terminated backend fails the query, and a
# session that was replaced behind our back would answer false.
_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :k AND objsubid = 1)"
)


class AlreadyRunning(Exception):
    """Another newsbot process holds this database."""


class LockLost(NewsbotError):
    """The database lock was lost while running; the process stopped."""


class ProcessLock:
    """flock on the SQLite database file; an advisory lock on its own, checked connection for
    PostgreSQL, where on_lost is called (once) when a check finds the lock gone."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.heartbeat = heartbeat
        self.on_lost = on_lost
        self.lost: str | None = None  # why, once the lock was lost
        self._fd: int | None = None
        self._conn: AsyncConnection | None = None
        self._pg_engine: AsyncEngine | None = None
        self._watch: asyncio.Task[None] | None = None

    async def acquire(self) -> None:
        url = make_url(self.engine.url)
        if url.get_backend_name() == "sqlite":
            self._lock_sqlite(url.database or "")
            return
        # Its own engine: the lock outlives the store's pool, whose disposal comes first at a stop.
        self._pg_engine = create_async_engine(self.engine.url, poolclass=NullPool)
        conn = await self._pg_engine.connect()
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})).scalar()
        await conn.commit()
        if not got:
            await conn.close()
            await self._dispose()
            raise AlreadyRunning("another newsbot is running on this PostgreSQL database")
        self._conn = conn
        self._watch = asyncio.create_task(self._check_forever(conn), name="lock-heartbeat")

    def _lock_sqlite(self, database: str) -> None:
        """flock the database file itself: the kernel knows it by device and inode, so a symlink,
        a hard link or another spelling of the path meets the same lock, and no side file can
        go stale. Linux keeps flock apart from SQLite's own fcntl locks; as closing any
        descriptor of the file drops this process's fcntl locks, release() runs only after
        the engine is disposed, and a refused acquire closes it before any SQLite connection."""
        if not database or database == ":memory:":
            return
        fd = os.open(database, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(f"another newsbot is running on {database}") from None
        self._fd = fd

    async def _check_forever(self, conn: AsyncConnection) -> None:
        """Ask every heartbeat whether the lock is still ours; when not, say so once and call on_lost.
        The query also keeps the session from looking idle to idle_session_timeout."""
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                async with asyncio.timeout(CHECK_TIMEOUT):
                    held = bool((await conn.execute(_HELD, {"k": ADVISORY_KEY})).scalar())
                    await conn.commit()
            except TimeoutError:
                reason = f"no answer within {CHECK_TIMEOUT:.0f}s"
            except (SQLAlchemyError, OSError) as exc:
                reason = error_reason(exc)
            else:
                if held:
                    continue
                reason = "the server no longer holds it"
            self.lost = reason
            logger.error("database lock lost, stopping: %s", reason)
            if self.on_lost is not None:
                self.on_lost()
            return

    async def release(self) -> None:
        """Let go; on SQLite call it after the engine is disposed (see _lock_sqlite)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            if self.lost is None:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                await conn.close()
            else:  # the session is gone; only its remains are left to drop
                with contextlib.suppress(SQLAlchemyError, OSError):
                    await conn.invalidate()
        await self._dispose()

    async def _dispose(self) -> None:
        if self._pg_engine is not None:
            await self._pg_engine.dispose()
            self._pg_engine = None
