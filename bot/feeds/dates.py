"""Entry dates: the publisher's time as aware UTC, or None when the feed gives no usable one.

A date is read by its numbers and its zone. Day and month words may be in any of the common
European languages (a small table), and the Chinese, Japanese and Korean forms are read too.
Nothing here asks the clock: a string that names no day is no date, so the answer never depends
on when or where the bot runs (feedparser's ISO 8601 reader fills missing parts from the clock).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

__all__ = ["entry_date", "iso_date", "read_date", "struct_time_date"]

# "2020/1/10 14:23:00", "2017-2-14 00:12 +8": numeric dates that feedparser misreads (as 1 Nov).
_NUMERIC_DATE = re.compile(
    r"\s*(\d{4})([/-])(\d{1,2})\2(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*(?:(Z|UTC|GMT)|([+-])(\d{1,2})(?::?(\d{2}))?)?\s*",
    re.IGNORECASE,
)

# RFC 822 by its numbers: "[weekday,] day month year [time] [zone]", any words for day and month.
_RFC822 = re.compile(
    r"\s*(?:[^\W\d_]+\.?\s*,?\s*)?(\d{1,2})\.?[\s-]*([^\W\d_]+)\.?[\s,-]*(\d{4}|\d{2})"
    r"(?:[\s,]+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?"
    r"\s*(?:([+-])(\d{2}):?(\d{2})|([A-Za-z]{1,5}))?\s*(?:\([^)]*\))?\s*"
)

# 2022年11月16日 00:38, 2004년 05월 28일 오후 01:31:15, 2024年6月25日(火) 14時7分.
_CJK = re.compile(
    r"\s*(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]\s*"
    r"(?:[(（][^)）]{1,4}[)）]|[^\d\s:+-]{1,3}(?=\s))?\s*(오전|오후|上午|下午|午前|午後)?\s*"
    r"(?:(\d{1,2})\s*[:時时시点點]\s*(\d{1,2})\s*[分분]?\s*(?::?\s*(\d{1,2})\s*[秒초]?)?)?"
    r"\s*(?:([+-])(\d{2}):?(\d{2}))?\s*"
)

_AFTERNOON = frozenset({"오후", "下午", "午後"})

# Month words by their first four letters, else three, casefolded without accents: English,
# German, Dutch, French, Italian, Spanish, Portuguese and the Scandinavian languages.
_MONTH_WORDS = (
    "jan gen ene", "feb fev", "mar mrt", "apr avr abr", "may mai mag mei maj", "jun giu juin",
    "jul lug juil", "aug ago aou", "sep set", "oct okt out ott", "nov", "dec dez dic",
)  # fmt: skip
_MONTHS = {word: n for n, words in enumerate(_MONTH_WORDS, 1) for word in words.split()}

# Zone names in RFC 822 dates as feeds write them; any other name counts as UTC (RFC 5322 4.3).
_ZONES = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "CET": 1, "CEST": 2, "MEZ": 1, "MESZ": 2, "BST": 1, "WEST": 1, "EET": 2, "EEST": 3,
    "MSK": 3, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "AEST": 10, "AEDT": 11,
}  # fmt: skip


def struct_time_date(value: Any) -> datetime | None:
    """A feedparser time tuple (UTC) as an aware datetime, or None."""
    try:
        return datetime(*value[:6]).replace(tzinfo=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def entry_date(e: Any) -> datetime | None:
    """The published (else updated) date of a feedparser entry."""
    # dict.get: FeedParserDict warns when "updated" silently falls back to "published"
    for field in ("published", "updated"):
        raw = dict.get(e, field)
        if isinstance(raw, str) and raw.strip():
            known, when = _read(raw)
            # A form only feedparser knows (asctime, Greek, Hungarian) keeps its reading.
            return when if known else struct_time_date(dict.get(e, f"{field}_parsed"))
    return None


def read_date(text: str) -> datetime | None:
    """A date string as aware UTC: numeric, RFC 3339, RFC 822 in European languages, or CJK."""
    return _read(text)[1]


def _read(text: str) -> tuple[bool, datetime | None]:
    """(whether the form is one of ours, the date); a form of ours that does not add up is no date."""
    for pattern, read in ((_NUMERIC_DATE, _numeric), (_CJK, _cjk), (_RFC822, _rfc822)):
        match = pattern.fullmatch(text)
        if match is not None and (pattern is not _RFC822 or _month(match.group(2)) is not None):
            return True, read(match)
    try:
        when = datetime.fromisoformat(text.strip()).replace(microsecond=0)  # as feedparser gave them
    except ValueError:
        # Junk after a date ("...-06:00Textra"), a bare number ("22013"), a date without a day.
        return not text.strip()[:1].isalpha(), None
    return True, when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso_date(value: Any) -> datetime | None:
    """A JSON Feed date: RFC 3339, or RFC 822 as some feeds write it."""
    return read_date(value) if isinstance(value, str) else None


def _month(word: str) -> int | None:
    plain = "".join(c for c in unicodedata.normalize("NFD", word.casefold()) if c.isalpha() and c.isascii())
    return _MONTHS.get(plain[:4]) or _MONTHS.get(plain[:3])


def _when(year: int, month: int, day: int, time: tuple[str | None, ...], zone: timedelta) -> datetime | None:
    hour, minute, second = (int(part or 0) for part in time)
    try:
        when = datetime(year, month, day, hour, minute, second, tzinfo=timezone(zone))
    except (ValueError, OverflowError):
        return None
    return when.astimezone(UTC)


def _offset(sign: str | None, hours: str | None, minutes: str | None) -> timedelta:
    offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    return -offset if sign == "-" else offset


def _numeric(match: re.Match[str]) -> datetime | None:
    """Y/M/D or Y-M-D dates with optional time and offset (UTC when none is given)."""
    year, _, month, day, hour, minute, second, _, sign, off_h, off_m = match.groups()
    return _when(int(year), int(month), int(day), (hour, minute, second), _offset(sign, off_h, off_m))


def _cjk(match: re.Match[str]) -> datetime | None:
    """Year 年 month 月 day 日 [time] [offset]; UTC when no offset is given, as for numeric dates."""
    year, month, day, half, hour, minute, second, sign, off_h, off_m = match.groups()
    if half in _AFTERNOON and hour is not None and int(hour) < 12:
        hour = str(int(hour) + 12)
    return _when(int(year), int(month), int(day), (hour, minute, second), _offset(sign, off_h, off_m))


def _rfc822(match: re.Match[str]) -> datetime | None:
    day, month_word, year, hour, minute, second, sign, off_h, off_m, name = match.groups()
    month = _month(month_word) or 0  # known: _read checked it
    full_year = int(year) if len(year) == 4 else int(year) + (2000 if int(year) < 50 else 1900)
    zone = _offset(sign, off_h, off_m) if name is None else timedelta(hours=_ZONES.get(name.upper(), 0))
    return _when(full_year, month, int(day), (hour, minute, second), zone)
