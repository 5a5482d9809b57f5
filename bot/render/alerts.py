"""An alert as Telegram HTML, and as plain text when the HTML is refused. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.i18n import Translator
from bot.render.markup import clip, esc, safe_link
from bot.text import summarize

TITLE_BUDGET = 300


SUMMARY_BUDGET = 300


TERMS_BUDGET = 200


SNIPPET_BUDGET = 200


@dataclass(frozen=True, slots=True)
class AlertView:
    """What an alert shows, all plain text."""

    title: str
    link: str | None
    feed_name: str
    published: datetime
    summary: str
    terms: Sequence[str]
    snippet: Sequence[tuple[str, bool]] = ()  # (text, is a matched term) pieces of one sentence


def _alert_parts(view: AlertView, tr: Translator) -> tuple[str, str, str, str]:
    title = clip(view.title or tr("(untitled)"), TITLE_BUDGET)
    meta = f"{clip(view.feed_name, 100)} · {view.published:%Y-%m-%d %H:%M} UTC"
    budget = SUMMARY_BUDGET - (150 if view.snippet else 0)
    summary = summarize(view.summary, budget) if view.summary else ""
    terms = clip(", ".join(view.terms), TERMS_BUDGET)
    return title, meta, summary, terms


def _snippet_pieces(view: AlertView) -> list[tuple[str, bool]]:
    """The snippet cut to its budget, piece by piece, so a cut never splits an entity."""
    pieces: list[tuple[str, bool]] = []
    left = SNIPPET_BUDGET
    for text, hit in view.snippet:
        if left <= 0:
            break
        piece = text[:left]
        pieces.append((piece, hit))
        left -= len(piece)
    return pieces


def alert_html(tr: Translator, view: AlertView) -> str:
    """The alert as Telegram HTML: linked bold title, feed and time, snippet, summary, matched terms."""
    title, meta, summary, terms = _alert_parts(view, tr)
    link = safe_link(view.link)
    head = f'<b><a href="{esc(link)}">{esc(title)}</a></b>' if link else f"<b>{esc(title)}</b>"
    lines = [head, f"<i>{esc(meta)}</i>"]
    pieces = _snippet_pieces(view)
    if pieces:
        lines += ["", "» " + "".join(f"<b>{esc(t)}</b>" if hit else esc(t) for t, hit in pieces)]
    if summary:
        lines += ["", esc(summary)]
    lines += ["", tr("🔎 Matched: {terms}", terms=f"<b>{esc(terms)}</b>")]
    return "\n".join(lines)


def alert_plain(tr: Translator, view: AlertView) -> str:
    """The same alert as plain text, for the fallback after a parse error."""
    title, meta, summary, terms = _alert_parts(view, tr)
    lines = [title]
    link = safe_link(view.link)
    if link:
        lines.append(link)
    lines.append(meta)
    pieces = _snippet_pieces(view)
    if pieces:
        lines += ["", "» " + "".join(t for t, _ in pieces)]
    if summary:
        lines += ["", summary]
    lines += ["", tr("🔎 Matched: {terms}", terms=terms)]
    return "\n".join(lines)
