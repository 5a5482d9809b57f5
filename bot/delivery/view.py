"""What an alert shows, read from its outbox row and the article."""

from __future__ import annotations

import json

from bot import db, matching, render
from bot.domain import UserInputError


def alert_view(
    ctx: db.DeliveryContext, subs: list[tuple[int, str]]
) -> tuple[render.AlertView, list[tuple[int, str]]]:
    """What the alert shows, and which of the chat's subscriptions it answers (for its buttons)."""
    article = ctx.article
    doc = matching.Document.of(article.title, article.summary, article.content)
    matched = []
    for sub_id, text in subs:
        try:
            if matching.parse_query(text).matches(doc):
                matched.append((sub_id, text))
        except UserInputError:
            continue
    terms = json.loads(ctx.delivery.terms)
    pieces: list[tuple[str, bool]] = []
    if terms:
        for body in (article.summary, article.content, article.title):
            if body and (pieces := matching.snippet(body, terms)) and any(hit for _, hit in pieces):
                break
            pieces = []
    view = render.AlertView(
        title=article.title,
        link=article.link,
        feed_name=ctx.feed_name,
        published=article.published,
        summary=article.summary or article.content,
        terms=terms,
        snippet=pieces,
    )
    return view, matched
