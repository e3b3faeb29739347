"""Prometheus: PromQL over HTTP through prometheus-api-client."""

from bot.adapters.prometheus.client import PrometheusMetrics
from bot.ports.promql import Matcher, quote, selector

__all__ = ["Matcher", "PrometheusMetrics", "quote", "selector"]
