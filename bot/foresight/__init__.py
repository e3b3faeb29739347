"""Numeric engines: streaming anomaly scores and load forecasts."""
