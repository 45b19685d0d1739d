"""latest submission index: caches of lead pages ask "did anything change?" with one index lookup

Revision ID: 0008_speed
Revises: 0007_queue_version
"""
from alembic import op

revision = "0008_speed"
down_revision = "0007_queue_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # max(submitted_at) reads the index's last entry (db.queries.consensus.data_version). Drafts leave it NULL
    # and autosaves never change it, so the annotate hot path keeps PostgreSQL's HOT updates.
    op.create_index("ix_annotation_submitted_at", "annotation", ["submitted_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_annotation_submitted_at", table_name="annotation")
