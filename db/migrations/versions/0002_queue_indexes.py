"""queue indexes: slot counts per clip, leases per user, uncertainty order per model version

Revision ID: 0002_queue_indexes
Revises: 0001_initial_schema
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_queue_indexes"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None

# name -> (table, columns)
INDEXES = {
    # Counting a clip's taken slots reads only this index.
    "ix_assignment_clip_state_expires": ("assignment", ["clip_id", "state", "expires_at"]),
    # A user's live leases (resume) and lead progress.
    "ix_assignment_user_state": ("assignment", ["user_id", "state"]),
    # Least-certain-first for the active model version, walked backwards in index order.
    "ix_prediction_version_uncertainty": ("prediction", ["model_version_id", "uncertainty", "clip_id"]),
    # Ready clips of a dataset in id order (sequential strategy, counts).
    "ix_clip_dataset_status_id": ("clip", ["dataset_id", "status", "id"]),
    # The few clips whose overlap a lead raised (open-slot counts).
    "ix_clip_dataset_overlap_override": ("clip", ["dataset_id", "overlap_override"]),
    # "Done today" and the annotator's own history.
    "ix_annotation_user_status_submitted": ("annotation", ["user_id", "status", "submitted_at"]),
}


# The random strategy's permutation of clip ids; the query spells it the same way
# (db.queries.assignments.RANDOM_RANK_SQL), so both backends walk this index.
RANDOM_RANK_SQL = "(CAST(id AS BIGINT) * 2654435761) % 4294967291"


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False)
    op.create_index("ix_clip_dataset_random_rank", "clip", [sa.text("dataset_id"), sa.text(f"({RANDOM_RANK_SQL})")])


def downgrade() -> None:
    op.drop_index("ix_clip_dataset_random_rank", table_name="clip")
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
