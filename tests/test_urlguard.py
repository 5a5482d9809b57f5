"""Address guard: URL normalization, the IP policy, redaction and the filtering resolver."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.domain import FetchError
from bot.feeds import guard
from bot.feeds.guard import AddressRefusedError, GuardedResolver
from bot.urls import (
    canonical_link,
    check_host_literal,
    ip_allowed,
    normalize_feed_url,
    redact,
    without_credentials,
)

ACCEPTED = [
    # RELIABILITY §2 input 25: one feed, one spelling
    ("http://Example.COM/feed.xml", "http://example.com/feed.xml", "lower-case-host"),
    ("HTTPS://example.com:443/feed", "https://example.com/feed", "default-https-port"),
    ("http://example.com:80/feed", "http://example.com/feed", "default-http-port"),
    ("http://example.com./feed", "http://example.com/feed", "trailing-dot"),
    ("http://example.com", "http://example.com/", "empty-path"),
    ("http://example.com/feed#top", "http://example.com/feed", "fragment-dropped"),
    ("  http://example.com/feed \n", "http://example.com/feed", "surrounding-space"),
    ("http://example.com:8080/a?b=c", "http://example.com:8080/a?b=c", "custom-port-and-query"),
    ("http://Bücher.example/", "http://xn--bcher-kva.example/", "idn-punycode"),
    ("http://例え.テスト/rss", "http://xn--r8jz45g.xn--zckzah/rss", "idn-japanese"),
    ("http://example.com/ä?q=ü", "http://example.com/%C3%A4?q=%C3%BC", "non-ascii-path-quoted"),
    ("http://example.com/a%20b", "http://example.com/a%20b", "escapes-kept"),
    ("http://my_host.example/", "http://my_host.example/", "underscore-host"),
    # input 24: credentials are kept for the fetch, redacted for display
    ("http://user:secret@Host.example/feed", "http://user:secret@host.example/feed", "userinfo-kept"),
    # literals that are canonical pass here; private ones are judged per fetch
    ("http://93.184.216.34/feed", "http://93.184.216.34/feed", "public-ipv4"),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/x", "loopback-judged-later"),
    ("http://[2606:4700:0:0::1111]/x", "http://[2606:4700::1111]/x", "ipv6-compressed"),
    ("http://[::1]:8080/", "http://[::1]:8080/", "ipv6-loopback-judged-later"),
]

REFUSED = [
    # input 22
    ("file:///etc/passwd", "refused: only http and https URLs", "file"),
    ("ftp://x", "refused: only http and https URLs", "ftp"),
    ("gopher://x", "refused: only http and https URLs", "gopher"),
    ("javascript:x", "refused: only http and https URLs", "javascript"),
    ("data:text/html,<b>x</b>", "refused: only http and https URLs", "data"),
    ("http://", "refused: not a URL", "no-host"),
    ("http:///feed", "refused: not a URL", "empty-host"),
    ("not a url", "refused: not a URL", "words"),
    ("", "refused: not a URL", "empty"),
    ("example.com/feed", "refused: not a URL", "no-scheme"),
    ("localhost:8080/feed", "refused: not a URL", "host-port-no-scheme"),
    ("http://exa mple.com/", "refused: not a URL", "space-in-host"),
    ("http://example.com/\r\nX-Injected: 1", "refused: not a URL", "header-injection"),
    ("http://example.com:99999/", "refused: not a URL", "port-out-of-range"),
    ("http://example.com:0/", "refused: not a URL", "port-zero"),
    ("http://-bad-.example/", "refused: not a URL", "bad-label"),
    ("http://example.com/" + "a" * 5000, "refused: URL too long", "5000-chars"),
    # input 23: numeric hosts the OS would map somewhere unexpected
    ("http://2130706433/", "refused: non-canonical numeric host", "decimal-ip"),
    ("http://127.1/", "refused: non-canonical numeric host", "short-ip"),
    ("http://0177.0.0.1/", "refused: non-canonical numeric host", "octal-ip"),
    ("http://0x7f.0.0.1/", "refused: non-canonical numeric host", "hex-ip"),
    ("http://1.2.3.4.5/", "refused: non-canonical numeric host", "five-parts"),
    ("http://[::ffff:169.254.169.254]/", "refused: private address", "mapped-metadata"),
    ("http://169.254.169.254/latest/meta-data/", "refused: private address", "metadata"),
    ("http://[fe80::1]/", "refused: private address", "ipv6-link-local"),
    ("http://0.0.0.0/", "refused: private address", "unspecified"),
    ("http://[::]/", "refused: private address", "ipv6-unspecified"),
    ("http://224.0.0.1/", "refused: private address", "multicast"),
    ("http://255.255.255.255/", "refused: private address", "broadcast"),
    ("http://240.0.0.1/", "refused: private address", "reserved"),
    ("http://[64:ff9b::a9fe:a9fe]/", "refused: private address", "nat64-metadata"),
    ("http://[2002:a9fe:a9fe::1]/", "refused: private address", "6to4-metadata"),
]


@pytest.mark.parametrize(("url", "expected"), [c[:2] for c in ACCEPTED], ids=[c[2] for c in ACCEPTED])
def test_normalize_accepts(url: str, expected: str) -> None:
    assert normalize_feed_url(url) == expected
    assert normalize_feed_url(expected) == expected  # idempotent


@pytest.mark.parametrize(("url", "reason"), [c[:2] for c in REFUSED], ids=[c[2] for c in REFUSED])
def test_normalize_refuses(url: str, reason: str) -> None:
    with pytest.raises(FetchError) as info:
        normalize_feed_url(url)
    assert str(info.value) == reason


def test_same_feed_spelled_differently_normalizes_once() -> None:
    spellings = [
        "http://NEWS.example.com/rss",
        "http://news.example.com.:80/rss",
        "HTTP://news.example.com/rss#latest",
    ]
    assert {normalize_feed_url(u) for u in spellings} == {"http://news.example.com/rss"}


IPS = [
    ("93.184.216.34", False, True, "public"),
    ("2606:4700::1111", False, True, "public-v6"),
    ("127.0.0.1", False, False, "loopback"),
    ("127.0.0.1", True, True, "loopback-allowed"),
    ("10.1.2.3", False, False, "rfc1918-10"),
    ("172.16.0.1", True, True, "rfc1918-172-allowed"),
    ("192.168.1.1", False, False, "rfc1918-192"),
    ("100.64.0.1", False, False, "cgnat"),
    ("100.64.0.1", True, True, "cgnat-allowed"),
    ("fd00::1", False, False, "ula"),
    ("fd00::1", True, True, "ula-allowed"),
    ("::1", True, True, "v6-loopback-allowed"),
    ("::1", False, False, "v6-loopback"),
    ("169.254.169.254", True, False, "link-local-always"),
    ("fe80::1", True, False, "v6-link-local-always"),
    ("0.0.0.0", True, False, "unspecified-always"),
    ("224.0.0.1", True, False, "multicast-always"),
    ("ff02::1", True, False, "v6-multicast-always"),
    ("255.255.255.255", True, False, "broadcast-always"),
    ("240.0.0.1", True, False, "reserved-always"),
    ("192.0.2.1", True, False, "documentation"),
    ("::ffff:127.0.0.1", False, False, "mapped-loopback"),
    ("::ffff:93.184.216.34", False, True, "mapped-public"),
    ("64:ff9b::7f00:1", False, False, "nat64-loopback"),
    ("2002:7f00:1::", False, False, "6to4-loopback"),
    ("2002:a9fe:a9fe::", True, False, "6to4-link-local"),
]


@pytest.mark.parametrize(("ip", "allow_private", "allowed"), [c[:3] for c in IPS], ids=[c[3] for c in IPS])
def test_ip_allowed(ip: str, allow_private: bool, allowed: bool) -> None:
    assert ip_allowed(ipaddress.ip_address(ip), allow_private) is allowed


@pytest.mark.parametrize(
    ("host", "allow_private", "error"),
    [
        ("example.com", False, None),
        ("127.0.0.1", False, "refused: private address"),
        ("127.0.0.1", True, None),
        ("[::1]", True, None),
        ("::1", False, "refused: private address"),
        ("2130706433", True, "refused: non-canonical numeric host"),
        ("10.0.0.010", True, "refused: non-canonical numeric host"),
    ],
    ids=["name", "loopback", "loopback-allowed", "bracketed-v6", "bare-v6", "decimal", "leading-zero"],
)
def test_check_host_literal(host: str, allow_private: bool, error: str | None) -> None:
    if error is None:
        check_host_literal(host, allow_private)
    else:
        with pytest.raises(FetchError, match=error):
            check_host_literal(host, allow_private)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:secret@host/feed", "http://host/feed"),
        ("https://token@host:8443/x?y=1", "https://host:8443/x?y=1"),
        ("http://host/feed?mail=a@b", "http://host/feed?mail=a@b"),
        ("http://host/p@th", "http://host/p@th"),
        ("http://u:p@ss@host/", "http://host/"),
        ("not a url", "not a url"),
    ],
    ids=["user-password", "token-only", "at-in-query", "at-in-path", "at-in-password", "garbage"],
)
def test_without_credentials(url: str, shown: str) -> None:
    assert without_credentials(url) == shown
    assert "secret" not in redact(url)


class _FixedResolver(AbstractResolver):
    def __init__(self, *ips: str) -> None:
        self.ips = ips

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=ip, port=port, family=family, proto=0, flags=0)
            for ip in self.ips
        ]

    async def close(self) -> None:
        pass


async def test_resolver_drops_refused_addresses() -> None:
    resolver = GuardedResolver(False, _FixedResolver("10.0.0.1", "93.184.216.34", "169.254.169.254"))
    assert [r["host"] for r in await resolver.resolve("rebind.example", 80)] == ["93.184.216.34"]


async def test_resolver_refuses_when_nothing_is_left() -> None:
    resolver = GuardedResolver(False, _FixedResolver("127.0.0.1", "::1"))
    with pytest.raises(AddressRefusedError):
        await resolver.resolve("localhost", 80)
    await resolver.close()


async def test_resolver_allows_private_when_configured_but_not_after_public_hop() -> None:
    resolver = GuardedResolver(True, _FixedResolver("192.168.1.5"))
    assert len(await resolver.resolve("nas.lan", 80)) == 1
    token = guard.public_only.set(True)
    try:
        with pytest.raises(AddressRefusedError):
            await resolver.resolve("nas.lan", 80)
    finally:
        guard.public_only.reset(token)


CANONICAL = [
    ("https://example.com/a", "https://example.com/a", "already-canonical"),
    ("HTTPS://Example.COM/A/B", "https://example.com/A/B", "host-lowered-path-kept"),
    ("http://example.com/a", "https://example.com/a", "http-folds-into-https"),
    ("http://example.com:80/a", "https://example.com/a", "default-http-port"),
    ("https://example.com:443/a", "https://example.com/a", "default-https-port"),
    ("https://example.com:8443/a", "https://example.com:8443/a", "custom-port-kept"),
    ("https://example.com./a", "https://example.com/a", "trailing-dot"),
    ("https://example.com", "https://example.com/", "empty-path"),
    ("https://example.com/a#comments", "https://example.com/a", "fragment"),
    ("https://user:pw@example.com/a", "https://example.com/a", "credentials"),
    ("https://example.com/a?utm_source=rss&utm_medium=feed&UTM_Campaign=x", "https://example.com/a", "utm"),
    ("https://example.com/a?id=7&fbclid=abc&gclid=1&mc_cid=2&mc_eid=3&igshid=4&ref=rss",
     "https://example.com/a?id=7", "click-ids"),
    ("https://example.com/a?b=2&utm_source=x&a=1", "https://example.com/a?b=2&a=1", "order-kept"),
    ("https://example.com/a?page=2&page=3", "https://example.com/a?page=2&page=3", "repeats-kept"),
    ("https://example.com/a?&&x=&", "https://example.com/a?x=", "empty-pieces"),
    ("https://heise.example/meldung/1?wt_mc=rss.red.ho.ho.rdf.beitrag", "https://heise.example/meldung/1",
     "heise-wt_mc"),
    ("https://example.com/a?referrer=me", "https://example.com/a?referrer=me", "ref-prefix-not-a-match"),
    ("http://Bücher.example/a", "https://xn--bcher-kva.example/a", "idn"),
    ("http://[2606:4700::1111]:80/x", "https://[2606:4700::1111]/x", "ipv6"),
    ("http://example.com:99999/a", "http://example.com:99999/a", "unparsable-port-unchanged"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "expected"), [c[:2] for c in CANONICAL], ids=[c[2] for c in CANONICAL])
def test_canonical_link(url: str, expected: str) -> None:
    assert canonical_link(url) == expected
    assert canonical_link(expected) == expected or "99999" in url  # idempotent


def test_canonical_link_tells_different_articles_apart() -> None:
    links = ["https://x.example/a", "https://x.example/a/", "https://x.example/b", "https://x.example/a?id=2",
             "https://y.example/a", "https://x.example:8080/a"]  # fmt: skip
    assert len({canonical_link(u) for u in links}) == len(links)
