"""Link and title fingerprints for renamed GUIDs and cross-feed duplicates; failure notices.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("link_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("title_fp", sa.String(length=64), nullable=True))
        batch.create_index("ix_articles_feed_link", ["feed_id", "link_hash"])
        batch.create_index("ix_articles_link_hash", ["link_hash"])
        batch.create_index("ix_articles_title_fp", ["title_fp"])
        batch.create_index("ix_articles_first_seen", ["first_seen_at"])
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(
            sa.Column("failure_notified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.create_index("ix_deliveries_article", ["article_id"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_article")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("failure_notified")
    with op.batch_alter_table("articles") as batch:
        for name in (
            "ix_articles_first_seen",
            "ix_articles_title_fp",
            "ix_articles_link_hash",
            "ix_articles_feed_link",
        ):
            batch.drop_index(name)
        batch.drop_column("title_fp")
        batch.drop_column("link_hash")
