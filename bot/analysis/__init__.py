"""Deterministic analysis: pure functions over data fetched through the ports."""
