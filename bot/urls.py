"""URL rules: which feed URLs are accepted and in what form, article links' identity, redaction."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import idna

from bot.domain import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


MAX_URL_LENGTH = 2048


_DEFAULT_PORTS = {"http": 80, "https": 443}


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


# Private ranges that a local setup may opt into; is_private alone would also let through
# documentation and benchmarking ranges, which are never a real feed host.
_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*", re.IGNORECASE)


# Characters kept as they are when re-quoting a path or query; everything else is %-encoded.
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


# A URL inside free text (a log line, a repr): it ends at whitespace, a quote, < or >.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`\\]+")


_MASK = "***"


# Query parameters that only say where a click came from: the same article with or without
# them is one story. Matched case-insensitively; names starting with a prefix below go too.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "mc_cid", "mc_eid", "igshid", "igsh", "ref", "ref_src", "ref_url", "_hsenc", "_hsmi",
        "mkt_tok", "wt_mc", "wt_zmc", "cmpid", "ocid", "ncid", "soc_src", "soc_trk", "spm",
    }
)  # fmt: skip


TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")


_REFUSED_PRIVATE = "refused: private address"


def _refused(reason: str) -> FetchError:
    return FetchError(f"refused: {reason}")


def ip_allowed(ip: IPAddress, allow_private: bool) -> bool:
    """Whether a connection to ip is allowed under the address policy."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return ip_allowed(embedded, allow_private)
    if ip.is_unspecified or ip.is_link_local or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return False
    if ip.is_loopback or any(ip in net for net in _PRIVATE_NETS):
        return allow_private
    # Reserved, documentation, benchmarking, "this network" and the like.
    return not ip.is_reserved and ip.is_global


def _looks_numeric(host: str) -> bool:
    # aiohttp treats these as IP literals and skips DNS; the OS then maps forms like
    # 2130706433 or 127.1 to real addresses, so they must be canonical to be judged.
    if ":" in host or host.replace(".", "").isdigit():
        return True
    # WHATWG URL rules: a host whose last label is a number is an IPv4 address (0x7f.1).
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return bool(last) and _NUMERIC_LABEL.fullmatch(last) is not None


def check_host_literal(host: str, allow_private: bool) -> None:
    """Refuse a numeric host that is not a canonical IP literal or whose address is not allowed."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not _looks_numeric(bare):
        return
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        raise _refused("non-canonical numeric host") from None
    if not ip_allowed(ip, allow_private):
        raise FetchError(_REFUSED_PRIVATE)


def _encode_host(host: str) -> str:
    host = host.rstrip(".")
    if not host:
        raise _refused("not a URL")
    if host.isascii():
        host = host.lower()
    else:
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            try:  # IDNA 2003 still covers names that IDNA 2008 rejects (symbols, emoji)
                host = host.encode("idna").decode("ascii").lower()
            except UnicodeError:
                raise _refused("not a URL") from None
    if not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise _refused("not a URL")
    return host


def normalize_feed_url(url: str) -> str:
    """Canonical form of a feed URL, or FetchError('refused: ...') saying why it is not accepted."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _refused("URL too long")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise _refused("not a URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused("not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        # "localhost:8080/x" parses as scheme "localhost"; it is a host without a scheme.
        rest = url.partition(":")[2]
        if _SCHEME.fullmatch(scheme) and not rest[:1].isdigit():
            raise _refused("only http and https URLs")
        raise _refused("not a URL")
    if port == 0:
        raise _refused("not a URL")
    raw_host = parts.hostname
    if not raw_host:
        raise _refused("not a URL")
    if ":" in raw_host:  # IPv6 literal: canonical compressed form
        try:
            host = f"[{ipaddress.IPv6Address(raw_host).compressed}]"
        except ValueError:
            raise _refused("not a URL") from None
    else:
        host = _encode_host(raw_host)
    # Always-refused addresses fail here already; private ones are judged per fetch.
    check_host_literal(host, allow_private=True)
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    path = quote(parts.path, safe=_URL_SAFE) or "/"
    query = quote(parts.query, safe=_URL_SAFE)
    result = urlunsplit((scheme, netloc, path, query, ""))
    if len(result) > MAX_URL_LENGTH:
        raise _refused("URL too long")
    return result


def _is_tracking(param: str) -> bool:
    name = unquote(param.partition("=")[0]).strip().lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_link(url: str) -> str:
    """An article link's identity for comparisons: host lower-cased, default port, fragment,
    credentials and tracking parameters dropped, http folded into https; other parameters keep
    their order. For matching only: show the real link."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")  # lower-cased, without user:password@
    if not host.isascii():
        with contextlib.suppress(idna.IDNAError, UnicodeError):
            host = idna.encode(host, uts46=True).decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit(("https" if scheme == "http" else scheme, netloc, parts.path or "/", query, ""))


def without_credentials(url: str) -> str:
    """The URL without user:password@; the query stays (an OPML file, a base for relative links)."""
    return _USERINFO.sub(r"\1", url, count=1)


def public_url(url: str) -> str:
    """What anyone may see of a feed URL: scheme, host (and port) and path."""
    url = without_credentials(url)
    return url[: min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))]


def _mask(param: str) -> str:
    name, eq, value = param.partition("=")
    if not eq:
        return _MASK if name else name
    return f"{name}={_MASK}" if value else param


def redact(url: str) -> str:
    """The URL for logs and admins' messages: no user:password@, query values masked (an
    `api_key=` or `token=` is a password), names kept so the feed can still be told apart."""
    url = without_credentials(url)
    head, sep, rest = url.partition("?")
    if not sep:
        return url
    query, hash_, fragment = rest.partition("#")
    return f"{head}?{'&'.join(_mask(p) for p in query.split('&'))}{hash_}{fragment}"


def redact_text(text: str) -> str:
    """Every URL in a text redacted (log lines, exception messages, reprs of parameters)."""
    return _URL_IN_TEXT.sub(lambda m: redact(m.group()), text)
