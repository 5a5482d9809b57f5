"""Shared value types and error types. A leaf: imports nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class DeliveryStatus(StrEnum):
    """Where an outbox row stands; stored as its value."""

    PENDING = "pending"  # waiting for its turn (or for its retry time)
    SENDING = "sending"  # claimed: its request is on the wire
    SENT = "sent"
    FAILED = "failed"  # refused for good (a 400 we cannot fix, or our own bug, repeated)
    DROPPED = "dropped"  # not sent on purpose: the chat blocked us, paused, or the feed was removed
    UNCERTAIN = "uncertain"  # was on the wire when a process died: may have arrived, never resent


class FeedState(StrEnum):
    """A feed's life; stored as its value."""

    ACTIVE = "active"
    GONE = "gone"  # answered 410: no longer polled
    REMOVED = "removed"  # removed by an admin; the row stays for article identity


class NewsbotError(Exception):
    """Base of our expected errors; the message is short and safe to show."""


class UserInputError(NewsbotError):
    """A chat command's arguments are wrong; the message is the reply."""


class FetchError(NewsbotError):
    """A feed could not be fetched: 'HTTP 404', 'timeout', 'too large', ..."""


class ParseError(NewsbotError):
    """A feed was fetched but is not a usable feed: 'not a feed', 'invalid XML'."""


class ConfigError(NewsbotError):
    """The configuration is invalid; the message names the key."""


class StartupError(NewsbotError):
    """The bot cannot start on what the configuration names; the message names the key and why."""


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """One feed entry normalized to plain values, ready to store."""

    key: str  # stable identity within the feed (sha256 hex)
    title: str  # plain text
    link: str | None  # absolute http(s) URL or None
    published: datetime  # aware UTC; the fetch time when the feed gives none
    summary: str = ""  # plain text
    content: str = ""  # plain text
    author: str = ""
    # False when the feed gives no usable date (none, unreadable, too far ahead): published is then
    # the fetch time.
    dated: bool = True
    guid: str | None = None  # the feed's own id for the entry (RSS guid, Atom id, JSON Feed id), stripped
    # Identity of `link` for comparisons only (urls.canonical_link): tracking parameters and the
    # fragment dropped, http folded into https. Display `link`, never this.
    canonical_link: str | None = None
    # Set when other entries of this fetch share the GUID: the plain GUID key (which only the entry
    # already stored under it keeps) and this entry's key by its own content (link, title, summary).
    guid_key: str | None = None
    content_key: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document."""

    title: str
    entries: list[EntryDraft]
    bozo: bool = False  # feedparser could parse it, but it was not well-formed
    ttl_seconds: float | None = None  # RSS <ttl> (or sy:updatePeriod/Frequency) as seconds, unclamped


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one successful HTTP fetch (200 or 304)."""

    status: int  # 200, or 304 when unchanged
    url: str  # final URL after redirects
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None  # set when every redirect hop was permanent (301/308)
    # Seconds the response stays fresh: Cache-Control s-maxage / max-age minus Age; None when
    # absent or with no-store / no-cache. Unclamped: the poller keeps it within its bounds.
    max_age: float | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as the matcher sees it: id plus plain text."""

    id: int
    feed_id: int
    title: str
    summary: str
    content: str
    key: str = ""
    link_hash: str | None = None  # sha256 of the canonical link
    title_fp: str | None = None  # sha256 of the title's fingerprint, when the title is distinctive


class Alert(NamedTuple):
    """One message owed to one chat for one article: the chat's matched terms, merged, and the
    ids of the chat's subscriptions that matched it (empty when the maker did not know them).

    A named tuple: bot.matching.index.alerts builds one at C speed, and an article at a
    million subscriptions makes thousands of these (bench/match.py).
    """

    chat_id: int
    article_id: int
    terms: tuple[str, ...]
    subscriptions: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the admins should hear about a feed, once: it is failing, recovered, gone, flooding."""

    kind: str  # failing | recovered | gone | flood
    feed_id: int
    feed_name: str
    url: str
    error: str = ""
    since: datetime | None = None
    count: int = 0  # failures so far, or new items in the flooding poll
