"""One process per database: a second bot on the same data would double every alert."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

ADVISORY_KEY = 0x6E657773  # "news"


class AlreadyRunning(Exception):
    """Another newsbot process holds this database."""


class ProcessLock:
    """flock on `<db file>.lock` for SQLite; an advisory lock on its own connection for PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._file: IO[str] | None = None
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> None:
        url = make_url(self.engine.url)
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if not database or database == ":memory:":
                return
            path = Path(database + ".lock")
            handle = open(path, "a+")  # noqa: SIM115 - held for the process lifetime
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise AlreadyRunning(f"another newsbot is running on {database}") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            self._file = handle
            return
        conn = await self.engine.connect()
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})).scalar()
        await conn.commit()
        if not got:
            await conn.close()
            raise AlreadyRunning("another newsbot is running on this PostgreSQL database")
        self._conn = conn

    async def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            await self._conn.close()
            self._conn = None
