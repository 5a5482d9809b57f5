"""Full-text search over titles and summaries; muted subscriptions.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("muted", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("articles") as batch:
        batch.create_index("ix_articles_feed_id", ["feed_id"])
    if op.get_bind().dialect.name == "sqlite":
        # Trigram tokens find CJK and Latin substrings alike; the table reads its text from articles.
        op.execute(
            "CREATE VIRTUAL TABLE articles_fts USING fts5("
            "title, summary, content='articles', content_rowid='id', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
            "INSERT INTO articles_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary); END"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
            "INSERT INTO articles_fts(articles_fts, rowid, title, summary) "
            "VALUES ('delete', old.id, old.title, old.summary); END"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary ON articles BEGIN "
            "INSERT INTO articles_fts(articles_fts, rowid, title, summary) "
            "VALUES ('delete', old.id, old.title, old.summary); "
            "INSERT INTO articles_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary); END"
        )
        op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_articles_text_trgm ON articles "
            "USING gin ((lower(title || ' ' || summary)) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_text_trgm")
    with op.batch_alter_table("articles") as batch:
        batch.drop_index("ix_articles_feed_id")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("muted")
