"""Search reads bodies, through an index of words and CJK bigrams instead of trigrams.

`articles.search_text` becomes the index tokens of title, summary and body (`fulltext.search_text`):
a word per Latin word, a bigram per pair of neighbouring CJK characters. A trigram index over
every body would be several times the text; tokens stay within about its size, and a 2-character
CJK term is one token the index serves. Existing rows are re-indexed in batches.

SQLite: FTS5 over those tokens with the `ascii` tokenizer, which splits on ASCII spaces and
punctuation only, so each stored token (CJK bigrams included) is one FTS token. PostgreSQL: a GIN
index over the tokens as lexemes (`array_to_tsvector`), replacing the pg_trgm index.

Lists are in date order: an index on the sort key (publication second, then id) on both engines,
and on SQLite the FTS rowid is that key, so matches come out newest published first.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.matching.fulltext import search_text

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
TRIGGERS = ("articles_fts_insert", "articles_fts_delete", "articles_fts_update")


def backfill(bind: sa.Connection) -> int:
    """Recompute search_text for every article, a batch of ids at a time; returns the rows done."""
    done, last = 0, 0
    select = sa.text("SELECT id, title, summary, content FROM articles WHERE id > :last ORDER BY id LIMIT :n")
    update = sa.text("UPDATE articles SET search_text = :t WHERE id = :i")
    while rows := bind.execute(select, {"last": last, "n": BATCH}).all():
        bind.execute(update, [{"i": r[0], "t": search_text(r[1], r[2] or "", r[3] or "")} for r in rows])
        done += len(rows)
        last = rows[-1][0]
    return done


# Date order as one integer, as bot/db/articles.py computes it: whole seconds, then the id.
SQLITE_KEY = "((CAST(strftime('%s', {row}published) AS INTEGER) << 31) | {row}id)"
PG_KEY = "((floor(extract(epoch FROM published AT TIME ZONE 'UTC'))::bigint << 31) | id)"


def _sqlite() -> None:
    key, new, old = (SQLITE_KEY.format(row=row) for row in ("", "new.", "old."))
    op.execute(f"CREATE INDEX ix_articles_sort_key ON articles ({key})")
    # The FTS rowid is the sort key, so the index hands out matches newest first and a cursor
    # bounds it; a view gives FTS5 the key for 'rebuild'.
    op.execute(
        f"CREATE VIEW articles_search (sort_key, search_text) AS SELECT {key}, search_text FROM articles"
    )
    op.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5("
        "search_text, content='articles_search', content_rowid='sort_key', tokenize='ascii')"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
        f"INSERT INTO articles_fts(rowid, search_text) VALUES ({new}, new.search_text); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
        "INSERT INTO articles_fts(articles_fts, rowid, search_text) "
        f"VALUES ('delete', {old}, old.search_text); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF search_text, published ON articles BEGIN "
        "INSERT INTO articles_fts(articles_fts, rowid, search_text) "
        f"VALUES ('delete', {old}, old.search_text); "
        f"INSERT INTO articles_fts(rowid, search_text) VALUES ({new}, new.search_text); END"
    )
    op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
        backfill(bind)
        _sqlite()
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_search_trgm")
        backfill(bind)
        op.execute(
            "CREATE INDEX ix_articles_search_tokens ON articles "
            "USING gin (array_to_tsvector(string_to_array(search_text, ' ')))"
        )
        op.execute(f"CREATE INDEX ix_articles_sort_key ON articles ({PG_KEY})")


def downgrade() -> None:
    raise NotImplementedError("0008 is not reversible: restore a backup taken before the upgrade")
