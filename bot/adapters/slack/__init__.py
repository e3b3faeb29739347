"""Slack: Block Kit messages and the Bolt app."""
