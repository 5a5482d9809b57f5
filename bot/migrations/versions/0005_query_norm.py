"""Recompute subscriptions.query_norm with the matching engine's parser.

The key that makes a chat's subscriptions unique is the query's normal form; the engine's parser
writes it differently from the first matcher's (sorted operands, phrases for joined pieces). A
stored query that no longer parses keeps its old key: it matches nothing and /list still shows it,
so its owner can remove it. Two queries of one chat that now share a key are one subscription: the
oldest stays.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.domain import UserInputError
from bot.matching import parse_query

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, chat_id, query, query_norm FROM subscriptions ORDER BY id")).all()
    keys: dict[tuple[int, str], int] = {}
    new_norms: dict[int, str] = {}
    for sub_id, chat_id, query, old in rows:
        try:
            norm = parse_query(query).norm
        except UserInputError:
            norm = old
        keys.setdefault((chat_id, norm), sub_id)
        new_norms[sub_id] = norm
    doomed = [sub_id for sub_id, chat_id, _, _ in rows if keys[(chat_id, new_norms[sub_id])] != sub_id]
    for start in range(0, len(doomed), 500):
        bind.execute(
            sa.text("DELETE FROM subscriptions WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": doomed[start : start + 500]},
        )
    changed = [
        {"i": sub_id, "n": new_norms[sub_id]}
        for sub_id, chat_id, _, old in rows
        if new_norms[sub_id] != old and keys[(chat_id, new_norms[sub_id])] == sub_id
    ]
    # Two passes through a key no query has, so a swap of keys never trips the unique constraint.
    for start in range(0, len(changed), 1000):
        batch = changed[start : start + 1000]
        bind.execute(
            sa.text("UPDATE subscriptions SET query_norm = :t WHERE id = :i"),
            [{"i": c["i"], "t": f"(migration 0005: subscription {c['i']})"} for c in batch],
        )
    for start in range(0, len(changed), 1000):
        bind.execute(
            sa.text("UPDATE subscriptions SET query_norm = :n WHERE id = :i"), changed[start : start + 1000]
        )


def downgrade() -> None:
    raise NotImplementedError("0005 is not reversible: restore a backup taken before the upgrade")
