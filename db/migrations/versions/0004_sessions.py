"""sign-in sessions and attempts; usernames unique whatever their case

Revision ID: 0004_sessions
Revises: 0003_open_vocab_prefer
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.models

revision = "0004_sessions"
down_revision = "0003_open_vocab_prefer"
branch_labels = None
depends_on = None


def upgrade() -> None:
    clashes = op.get_bind().execute(sa.text(
        'SELECT lower(username) FROM "user" GROUP BY lower(username) HAVING count(*) > 1')).scalars().all()
    if clashes:
        raise RuntimeError("usernames now ignore case, and these differ only in case: "
                           + ", ".join(sorted(clashes)) + ". Rename one of each pair in the user table, then upgrade.")
    op.create_index("uq_user_username_lower", "user", [sa.text("lower(username)")], unique=True)

    op.create_table(
        "signinsession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("cookie_set_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signinsession_user_id", "signinsession", ["user_id"])
    op.create_index("ix_signinsession_token_hash", "signinsession", ["token_hash"], unique=True)

    op.create_table(
        "signinattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signinattempt_at", "signinattempt", ["at"])
    op.create_index("ix_signinattempt_username_at", "signinattempt", ["username", "at"])
    op.create_index("ix_signinattempt_client_at", "signinattempt", ["client", "at"])


def downgrade() -> None:
    op.drop_table("signinattempt")
    op.drop_table("signinsession")
    op.drop_index("uq_user_username_lower", table_name="user")
