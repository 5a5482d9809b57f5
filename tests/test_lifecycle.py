"""The real process: starts, answers, refuses a twin, stops on SIGTERM within 10 s, never logs the token."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from tests.fakes.bot_api import FakeBotApi
from tests.fakes.feed_server import FeedServer, rss


def write_config(path: Path, api: FakeBotApi, feed_url: str, db_url: str) -> None:
    path.write_text(
        "[telegram]\n"
        f'token = "{api.token}"\n'
        f'api_base_url = "{api.root}"\n'
        "admins = [1001]\n"
        "[database]\n"
        f'url = "{db_url}"\n'
        "[polling]\n"
        "interval_seconds = 1\n"
        "allow_private_addresses = true\n"
        "[[feeds]]\n"
        'name = "World"\n'
        f'url = "{feed_url}"\n'
    )


async def spawn(config: Path, log_level: str = "DEBUG") -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "--log-level",
        log_level,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


class Output:
    """A child's stdout and stderr, read as they come: a full pipe would block the child's logging."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.data = bytearray()
        assert proc.stdout is not None and proc.stderr is not None
        self.tasks = [asyncio.create_task(self._drain(s)) for s in (proc.stdout, proc.stderr)]

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.data += chunk

    async def text(self) -> str:
        """Everything the child wrote, once it has closed its pipes."""
        await asyncio.gather(*self.tasks)
        return self.data.decode()


async def test_process_runs_refuses_a_twin_and_stops_cleanly_without_telegram(
    tmp_path: Path, bot_api: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/world.xml", rss([{"title": "Old news", "guid": "1"}], title="World"))
    config = tmp_path / "config.toml"
    write_config(config, bot_api, feed_server.url("/world.xml"), f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    proc = await spawn(config)
    output = Output(proc)
    try:
        await bot_api.wait_for_call("getUpdates", timeout=30)
        bot_api.add_message(77, "/subscribe nato")
        await bot_api.wait_for_sent(1, chat_id=77, timeout=10)
        async with asyncio.timeout(15):  # the first poll (the baseline) has fetched the old body
            while feed_server.hits("/world.xml") < 1:
                await asyncio.sleep(0.05)
        # The interval is 1 s: a new item is polled and alerted without any help.
        feed_server.set_feed(
            "/world.xml",
            rss([{"title": "NATO news", "guid": "2"}, {"title": "Old news", "guid": "1"}], title="World"),
        )
        alert = (await bot_api.wait_for_sent(2, chat_id=77, timeout=15))[-1]
        assert "NATO news" in alert.text

        twin = await spawn(config, log_level="INFO")
        _, twin_err = await asyncio.wait_for(twin.communicate(), timeout=30)
        assert twin.returncode == 1
        assert len(twin_err.decode().strip().splitlines()) == 1 and "another newsbot" in twin_err.decode()

        # Telegram goes away with a poll and sends possibly in flight: the stop still takes < 10 s.
        feed_server.set_feed("/world.xml", rss([{"title": "NATO late", "guid": "3"}], title="World"))
        await bot_api.stop()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=15)
        assert proc.returncode == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = await output.text()
    assert "newsbot stopped" in log
    assert bot_api.token not in log and bot_api.token.split(":")[1] not in log
