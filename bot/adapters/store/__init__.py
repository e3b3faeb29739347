"""The durable store: proposals, approvals, the audit trail, incidents, processed keys.

SQLite by default, PostgreSQL in production; the schema is upgraded on open (Alembic)."""

from bot.adapters.store.migrate import upgrade
from bot.adapters.store.sql import SqlStore

__all__ = ["SqlStore", "upgrade"]
