"""clip filters and coverage: a clip's annotations by status, its current consensus, from indexes only

Revision ID: 0009_charts
Revises: 0008_speed
"""
from alembic import op

revision = "0009_charts"
down_revision = "0008_speed"
branch_labels = None
depends_on = None

# name -> (table, columns)
INDEXES = {
    # Counting one clip's submitted (or skipped) annotations: the clips page's annotation filter, coverage.
    "ix_annotation_clip_status": ("annotation", ["clip_id", "status"]),
    # Whether one clip has a current consensus: the consensus filter, coverage.
    "ix_consensus_clip_current": ("consensus", ["clip_id", "is_current"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False, if_not_exists=True)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table, if_exists=True)
