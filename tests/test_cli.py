"""The admin's command line: newsbot feeds check / import / export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fakes.feed_server import FeedServer, rss


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


async def test_feeds_check_prints_what_would_be_stored(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.set_feed(
        "/c.xml",
        rss([{"title": "NATO <b>news</b>", "link": "https://e.com/1", "guid": "1"}], title="Checked"),
    )
    proc = await _run_async("feeds", "check", feed_server.url("/c.xml"), "--allow-private", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Checked" in proc.stdout and "NATO news" in proc.stdout and "https://e.com/1" in proc.stdout
    refused = await _run_async("feeds", "check", feed_server.url("/c.xml"), cwd=tmp_path)
    assert refused.returncode == 1 and "refused" in refused.stdout
    assert not list(tmp_path.iterdir()), "check needs no database"


async def _run_async(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    import asyncio

    return await asyncio.to_thread(run, *args, cwd=cwd)


def test_feeds_import_then_export(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "1:abc"\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "b.db"}"\n'
    )
    opml = tmp_path / "in.opml"
    opml.write_text(
        '<opml version="1.0"><body><outline title="A" xmlUrl="https://a.example.com/rss"/>'
        '<outline title="B" xmlUrl="https://user:secret@b.example.com/rss"/>'
        '<outline title="C" xmlUrl="http://169.254.169.254/"/></body></opml>'
    )
    first = run("--config", str(config), "feeds", "import", str(opml), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 added, 0 already present, 1 refused" in first.stdout and "secret" not in first.stdout
    again = run("--config", str(config), "feeds", "import", str(opml), cwd=tmp_path)
    assert "0 added, 2 already present, 1 refused" in again.stdout
    out = run("--config", str(config), "feeds", "export", cwd=tmp_path)
    assert out.returncode == 0 and "https://a.example.com/rss" in out.stdout and "secret" not in out.stdout
