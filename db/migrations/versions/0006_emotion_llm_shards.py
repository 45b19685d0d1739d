"""predict shards: slices of a sharded predict run that workers (one per GPU) claim

Revision ID: 0006_emotion_llm_shards
Revises: 0005_job_claims
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.models

revision = "0006_emotion_llm_shards"
down_revision = "0005_job_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictshard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("clip_ids", sa.JSON(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("predicted_ids", sa.JSON(), nullable=False),
        sa.Column("failed", sa.JSON(), nullable=False),
        sa.Column("claimed_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"]),
        sa.ForeignKeyConstraint(["model_version_id"], ["modelversion.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan", "position", name="uq_predictshard_plan_position"),
    )
    op.create_index("ix_predictshard_plan", "predictshard", ["plan"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_predictshard_plan", table_name="predictshard")
    op.drop_table("predictshard")
