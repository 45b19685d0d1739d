"""queue version per dataset: changes that reopen filled clips are seen by every server process

Revision ID: 0007_queue_version
Revises: 0006_emotion_llm_shards
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_queue_version"
down_revision = "0006_emotion_llm_shards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset") as batch:
        batch.add_column(sa.Column("queue_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("dataset") as batch:
        batch.drop_column("queue_version")
