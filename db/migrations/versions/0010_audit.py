"""audit log indexes: the Audit page and `cluelab audit` filter by action and by date

Revision ID: 0010_audit
Revises: 0009_charts
"""
from alembic import op

revision = "0010_audit"
down_revision = "0009_charts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain CREATE INDEX, not a batch: nothing else about the table changes.
    op.create_index("ix_auditlog_action", "auditlog", ["action"], unique=False)
    op.create_index("ix_auditlog_at", "auditlog", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_auditlog_at", table_name="auditlog")
    op.drop_index("ix_auditlog_action", table_name="auditlog")
