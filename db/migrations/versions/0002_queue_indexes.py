"""queue indexes: slot counts per clip, leases per user, uncertainty order per model version

Revision ID: 0002_queue_indexes
Revises: 0001_initial_schema
"""
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


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
