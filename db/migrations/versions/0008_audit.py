"""audit log indexes: the Audit page and `cluelab audit` filter by action and by date

Revision ID: 0008_audit
Revises: 0007_queue_version
"""
from alembic import op

revision = "0008_audit"
down_revision = "0007_queue_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain CREATE INDEX, not a batch: nothing else about the table changes.
    op.create_index("ix_auditlog_action", "auditlog", ["action"], unique=False)
    op.create_index("ix_auditlog_at", "auditlog", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_auditlog_at", table_name="auditlog")
    op.drop_index("ix_auditlog_action", table_name="auditlog")
