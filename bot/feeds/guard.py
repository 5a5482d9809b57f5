"""The address guard at connection time: a resolver that drops refused addresses after DNS, and
responses that know the address their connection reached."""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket

from aiohttp import ClientResponse
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.connector import Connection
from aiohttp.resolver import ThreadedResolver

from bot.urls import _REFUSED_PRIVATE, IPAddress, ip_allowed

# Set while following a redirect away from a public address: from then on private
# addresses are refused even when allow_private is on (a public site may not point us inward).
public_only: contextvars.ContextVar[bool] = contextvars.ContextVar("public_only", default=False)


class AddressRefusedError(OSError):
    """A host resolved only to addresses the policy refuses."""


class GuardedResolver(AbstractResolver):
    """Resolver that drops refused addresses after DNS, so rebinding cannot reach them."""

    def __init__(self, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self._allow_private = allow_private
        self._inner = inner if inner is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve host and keep only the addresses the policy allows."""
        allow_private = self._allow_private and not public_only.get()
        kept: list[ResolveResult] = []
        for result in await self._inner.resolve(host, port, family):
            try:
                ip = ipaddress.ip_address(result["host"])
            except ValueError:
                continue
            if ip_allowed(ip, allow_private):
                kept.append(result)
        if not kept:
            raise AddressRefusedError(_REFUSED_PRIVATE)
        return kept

    async def close(self) -> None:
        """Release the wrapped resolver."""
        await self._inner.close()


class PeerResponse(ClientResponse):
    """A response that remembers the address its connection actually reached (None when the
    transport names none). Kept from the start: an empty body hands the connection back at once."""

    peer: IPAddress | None = None

    async def start(self, connection: Connection) -> ClientResponse:
        """Note the peer's address, then read the response as usual."""
        transport = connection.transport
        peername = transport.get_extra_info("peername") if transport is not None else None
        if isinstance(peername, tuple) and peername:
            with contextlib.suppress(ValueError):  # a Unix socket's path, say
                self.peer = ipaddress.ip_address(peername[0])
        return await super().start(connection)


def reached_public(response: ClientResponse) -> bool:
    """Whether response came from a public address; an address we cannot tell counts as public
    (the stricter reading: no way into private networks after it)."""
    peer = response.peer if isinstance(response, PeerResponse) else None
    return peer is None or ip_allowed(peer, allow_private=False)
