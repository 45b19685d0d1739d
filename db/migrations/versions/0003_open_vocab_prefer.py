"""open-vocabulary emotion word sets; preference studies

Adds `emotion_words` (a JSON list of open-vocabulary emotion words) to reference, prediction,
annotation and consensus; `kind` (rating | preference) to study; and the preferenceanswer table
that holds A/B/same answers of preference studies in each pair's canonical order.

Revision ID: 0003_open_vocab_prefer
Revises: 0002_queue_indexes
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.models

revision = "0003_open_vocab_prefer"
down_revision = "0002_queue_indexes"
branch_labels = None
depends_on = None

WORD_TABLES = ("reference", "prediction", "annotation", "consensus")


def upgrade() -> None:
    for table in WORD_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            # Existing rows get an empty set; the server default only fills them.
            batch_op.add_column(sa.Column("emotion_words", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default="rating"))
    op.create_table(
        "preferenceanswer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("first_item_id", sa.Integer(), nullable=False),
        sa.Column("second_item_id", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("shown_first", sa.Boolean(), nullable=False),
        sa.Column("choice", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("preferred_item_id", sa.Integer(), nullable=True),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"]),
        sa.ForeignKeyConstraint(["clip_id"], ["clip.id"]),
        sa.ForeignKeyConstraint(["rater_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["first_item_id"], ["studyitem.id"]),
        sa.ForeignKeyConstraint(["second_item_id"], ["studyitem.id"]),
        sa.ForeignKeyConstraint(["preferred_item_id"], ["studyitem.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("study_id", "rater_id", "first_item_id", "second_item_id", "repeat",
                            name="uq_preference_answer"),
    )
    with op.batch_alter_table("preferenceanswer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_preferenceanswer_study_id"), ["study_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_preferenceanswer_rater_id"), ["rater_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("preferenceanswer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_preferenceanswer_rater_id"))
        batch_op.drop_index(batch_op.f("ix_preferenceanswer_study_id"))
    op.drop_table("preferenceanswer")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("kind")
    for table in reversed(WORD_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("emotion_words")
