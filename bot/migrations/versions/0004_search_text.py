"""Search the matcher's normalized text, so /search finds what alerts match (accents, full-width, case).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.matching.normalization import normalize

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = ("articles_fts_insert", "articles_fts_delete", "articles_fts_update")


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title, summary FROM articles")).all()
    for start in range(0, len(rows), 1000):
        bind.execute(
            sa.text("UPDATE articles SET search_text = :t WHERE id = :i"),
            [{"i": r[0], "t": normalize(f"{r[1]}\n{r[2]}")} for r in rows[start : start + 1000]],
        )
    if bind.dialect.name == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
        op.execute(
            "CREATE VIRTUAL TABLE articles_fts USING fts5("
            "search_text, content='articles', content_rowid='id', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
            "INSERT INTO articles_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
            "INSERT INTO articles_fts(articles_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_update AFTER UPDATE OF search_text ON articles BEGIN "
            "INSERT INTO articles_fts(articles_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            "INSERT INTO articles_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_text_trgm")
        op.execute("CREATE INDEX ix_articles_search_trgm ON articles USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    raise NotImplementedError("0004 is not reversible: restore a backup taken before the upgrade")
