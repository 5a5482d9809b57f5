"""The address guard at connection time: a resolver that drops refused addresses after DNS."""

from __future__ import annotations

import contextvars
import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from bot.urls import _REFUSED_PRIVATE, ip_allowed

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
