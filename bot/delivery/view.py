"""What an alert shows, read from its outbox row and the article."""

from __future__ import annotations

import json

from bot import db, matching, render


def matched_ids(delivery: db.Delivery) -> list[int]:
    """The ids of the subscriptions whose match queued this row (none for a row it cannot read)."""
    try:
        ids = json.loads(delivery.subscription_ids)
    except (TypeError, ValueError):
        return []
    return [i for i in ids if type(i) is int] if isinstance(ids, list) else []


def alert_view(ctx: db.DeliveryContext) -> render.AlertView:
    """What the alert shows: the article, and a snippet around the terms its match found."""
    article = ctx.article
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
    return view
