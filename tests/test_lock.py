"""One process per database: another name for the same SQLite file is the same database."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import db
from bot.lock import AlreadyRunning, ProcessLock


def _symlink(real: Path, other: Path) -> None:
    other.symlink_to(real)


def _hardlink(real: Path, other: Path) -> None:
    os.link(real, other)


@pytest.mark.parametrize("make_name", [_symlink, _hardlink], ids=["symlink", "hard-link"])
async def test_another_name_for_the_sqlite_file_is_already_running(
    tmp_path: Path, make_name: Callable[[Path, Path], None]
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    real = tmp_path / "data" / "newsbot.db"
    first_engine = db.make_engine(f"sqlite+aiosqlite:///{real}")
    await db.upgrade_schema(first_engine)  # the file exists, as a hard link needs
    other = tmp_path / "elsewhere" / "alias.db"
    make_name(real, other)
    other_engine = db.make_engine(f"sqlite+aiosqlite:///{other}")
    first, second = ProcessLock(first_engine), ProcessLock(other_engine)
    try:
        await first.acquire()
        with pytest.raises(AlreadyRunning, match="another newsbot"):
            await second.acquire()
        await first.release()
        await second.acquire()  # the same file, free again
        with pytest.raises(AlreadyRunning):
            await ProcessLock(first_engine).acquire()
    finally:
        await first.release()
        await second.release()
        await first_engine.dispose()
        await other_engine.dispose()


async def test_a_new_database_file_is_locked_from_the_start(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    lock = ProcessLock(engine)
    try:
        await lock.acquire()  # before the schema exists, as at a first start
        await db.upgrade_schema(engine)
        with pytest.raises(AlreadyRunning):
            await ProcessLock(engine).acquire()
    finally:
        await lock.release()
        await engine.dispose()
