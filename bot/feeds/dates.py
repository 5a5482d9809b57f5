"""Entry dates: the publisher's time as aware UTC, or None when the feed gives no usable one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

# "2020/1/10 14:23:00", "2017-2-14 00:12 +8": numeric dates that feedparser misreads (as 1 Nov).
_NUMERIC_DATE = re.compile(
    r"\s*(\d{4})([/-])(\d{1,2})\2(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*(?:(Z|UTC|GMT)|([+-])(\d{1,2})(?::?(\d{2}))?)?\s*",
    re.IGNORECASE,
)


def struct_time_date(value: Any) -> datetime | None:
    """A feedparser time tuple (UTC) as an aware datetime, or None."""
    try:
        return datetime(*value[:6]).replace(tzinfo=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def entry_date(e: Any) -> datetime | None:
    """The published (else updated) date of a feedparser entry."""
    # dict.get: FeedParserDict warns when "updated" silently falls back to "published"
    raw = dict.get(e, "published") or dict.get(e, "updated")
    if isinstance(raw, str) and _NUMERIC_DATE.fullmatch(raw):
        return numeric_date(raw)  # feedparser reads these as 1 November; invalid ones are no date
    return struct_time_date(dict.get(e, "published_parsed")) or struct_time_date(
        dict.get(e, "updated_parsed")
    )


def numeric_date(value: Any) -> datetime | None:
    """Y/M/D or Y-M-D dates with optional time and offset (UTC when none is given)."""
    match = _NUMERIC_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, _, month, day, hour, minute, second, _, sign, off_h, off_m = match.groups()
    try:
        offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        zone = timezone(-offset if sign == "-" else offset)
        when = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=zone
        )
    except ValueError:
        return None
    return when.astimezone(UTC)


def iso_date(value: Any) -> datetime | None:
    """A JSON Feed date: RFC 3339, or RFC 822 as some feeds write it."""
    text = value.strip() if isinstance(value, str) else ""
    for read in (datetime.fromisoformat, parsedate_to_datetime):  # RFC 3339, then RFC 822 as seen
        try:
            when = read(text)
        except (TypeError, ValueError, IndexError):
            continue
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return None
