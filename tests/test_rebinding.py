"""DNS rebinding: "a public site may not redirect into private networks" is judged on the
address the connection really reached, never on a second lookup of the name."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from aiohttp import ClientSession, UnixConnector, web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.domain import FetchError
from bot.feeds import FetchLimits, fetch, guard, make_http_session
from tests.fakes.feed_server import FeedServer, rss

LOCAL = FetchLimits(allow_private=True, total_timeout=5)
PUBLIC = "93.184.216.34"


class Rebinding(AbstractResolver):
    """A name server that gives the loopback address the first time and a public one after."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        address = "127.0.0.1" if len(self.lookups) == 1 else PUBLIC
        return [
            ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0)
        ]

    async def close(self) -> None:
        pass


async def test_the_redirect_rule_judges_the_address_the_connection_used(feed_server: FeedServer) -> None:
    feed_server.set_redirect("/go", f"http://127.0.0.1:{feed_server.port}/feed.xml")
    feed_server.set_feed("/feed.xml", rss([{"title": "inside", "guid": "1"}]))
    resolver = Rebinding()
    async with make_http_session(LOCAL, resolver) as http:
        result = await fetch(http, f"http://rebind.example:{feed_server.port}/go", LOCAL)
    # The origin was reached on loopback, so a private target is fine (private is allowed);
    # a later answer for the same name, public this time, changes nothing.
    assert result.status == 200 and feed_server.hits("/feed.xml") == 1
    assert resolver.lookups == ["rebind.example"]


@pytest.mark.parametrize("target", ["127.0.0.1", "[::1]", "10.1.2.3"], ids=["loopback", "ipv6", "rfc1918"])
async def test_an_origin_whose_address_is_unknown_counts_as_public(
    tmp_path: Path, feed_server: FeedServer, target: str
) -> None:
    """A transport without an IP peer (a Unix socket here) gets the stricter reading."""
    app = web.Application()
    location = f"http://{target}:{feed_server.port}/x"

    async def redirect(_: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": location})

    app.router.add_get("/go", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    path = str(tmp_path / "origin.sock")
    await web.UnixSite(runner, path).start()
    feed_server.set_feed("/x", rss([]))
    try:
        connector = UnixConnector(path)
        async with ClientSession(connector=connector, response_class=guard.PeerResponse) as http:
            with pytest.raises(FetchError, match=r"^refused: private address$"):
                await fetch(http, "http://origin.example/go", LOCAL)
    finally:
        await runner.cleanup()
    assert feed_server.requests == []
    assert guard.public_only.get() is False  # the flag belongs to that one fetch
