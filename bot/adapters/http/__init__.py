"""The HTTP surface: Slack's request URL, the Alertmanager webhook, health and metrics."""
