"""job claims: whom a job runs as and which worker runs it; which ingest run holds a clip

Revision ID: 0005_job_claims
Revises: 0004_sessions
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.models

revision = "0005_job_claims"
down_revision = "0004_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_as_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("run_as_cli", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_foreign_key("fk_job_run_as_id_user", "user", ["run_as_id"], ["id"])
    # Jobs queued before this ran as their creator.
    op.execute("UPDATE job SET run_as_id = created_by_id")
    # Plain ALTERs, not a batch: SQLite's batch mode copies the table and would lose the clip table's
    # expression index (ix_clip_dataset_random_rank).
    op.add_column("clip", sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.add_column("clip", sa.Column("claimed_at", db.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Clips mid-processing go back to waiting: the older schema knows no `processing` state.
    op.execute("UPDATE clip SET status = 'pending' WHERE status = 'processing'")
    for column in ("claimed_at", "claimed_by"):  # SQLite >= 3.35 drops a column in place
        op.execute(f"ALTER TABLE clip DROP COLUMN {column}")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint("fk_job_run_as_id_user", type_="foreignkey")
        batch_op.drop_column("attempts")
        batch_op.drop_column("worker")
        batch_op.drop_column("run_as_cli")
        batch_op.drop_column("run_as_id")
