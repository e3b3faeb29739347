"""The job queue adapter (procrastinate)."""
