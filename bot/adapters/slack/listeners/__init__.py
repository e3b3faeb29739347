"""Bolt listeners, one module per kind of request: slash commands, buttons and forms, events."""
