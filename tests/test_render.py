"""Alerts are escaped Telegram HTML within the limits, whatever the feed sends."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest

from bot import render
from bot.i18n import translator

EN = translator("en")

WHEN = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def view(**kw: object) -> render.AlertView:
    base: dict[str, object] = dict(
        title="NATO meets",
        link="https://example.com/a",
        feed_name="World",
        published=WHEN,
        summary="Ministers met. They talked.",
        terms=["nato"],
    )
    base.update(kw)
    return render.AlertView(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "title",
    ["<script>alert(1)</script>", "AT&amp;T & <b>", "a < b > c", "\"quoted\" 'single'", "&nbsp;&#0;"],
    ids=["script", "amp", "lt-gt", "quotes", "entities"],
)
def test_feed_text_is_escaped_once(title: str) -> None:
    out = render.alert_html(EN, view(title=title))
    assert html.escape(title, quote=True) in out
    assert "<script>" not in out


@pytest.mark.parametrize(
    ("link", "shown"),
    [
        ("javascript:alert(1)", False),
        ("data:text/html,x", False),
        ("https://u:p@example.com/", False),
        ('https://example.com/?q="x"&y=<1>', True),
        (None, False),
    ],
    ids=["javascript", "data", "credentials", "quotes", "none"],
)
def test_only_safe_links_are_linked(link: str | None, shown: bool) -> None:
    out = render.alert_html(EN, view(link=link))
    assert ("<a href=" in out) == shown
    if shown and link:
        assert f'href="{html.escape(link, quote=True)}"' in out


def test_huge_fields_stay_within_telegram_limit() -> None:
    out = render.alert_html(
        EN,
        view(title="T" * 200_000, summary="word " * 1_000_000, feed_name="F" * 5000, terms=["x" * 50] * 100),
    )
    assert render.utf16_len(html.unescape(out)) <= 1200
    assert render.utf16_len(out) <= render.MAX_MESSAGE


def test_plain_fallback_has_the_same_facts() -> None:
    out = render.alert_plain(EN, view(title="<b>NATO</b> & co"))
    assert "<b>NATO</b> & co" in out and "https://example.com/a" in out and "nato" in out


def test_split_message_respects_limit() -> None:
    lines = [f"#{i} " + "x" * 100 for i in range(500)]
    parts = render.split_message(lines)
    assert len(parts) > 1 and all(render.utf16_len(p) <= render.MAX_MESSAGE for p in parts)
    assert "\n".join(parts) == "\n".join(lines)
