"""One process per database: a second bot on the same data would double every alert."""

from __future__ import annotations

import fcntl
import os

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

ADVISORY_KEY = 0x6E657773  # "news"


class AlreadyRunning(Exception):
    """Another newsbot process holds this database."""


class ProcessLock:
    """flock on the SQLite database file; an advisory lock on its own connection for PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._fd: int | None = None
        self._conn: AsyncConnection | None = None
        self._pg_engine: AsyncEngine | None = None

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

    async def release(self) -> None:
        """Let go; on SQLite call it after the engine is disposed (see _lock_sqlite)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            await self._conn.close()
            self._conn = None
        await self._dispose()

    async def _dispose(self) -> None:
        if self._pg_engine is not None:
            await self._pg_engine.dispose()
            self._pg_engine = None
