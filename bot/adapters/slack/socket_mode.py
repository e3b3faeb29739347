"""Socket Mode's edge: the payload checks ``/slack/events`` makes (``bot.adapters.http.slack_edge``)
made before Bolt reads a request that came over the WebSocket.

Bolt reads fields of a request before any middleware runs (``actions[0]`` of a click, for
instance), so a payload of a shape Slack does not send would fail inside Bolt with a traceback;
here it is dropped with its reason logged, and acknowledged so that Slack does not send it again.
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.adapters.slack.payloads import WrongShape, check_command, check_event, check_interaction
from bot.observability.metrics import SLACK_REQUESTS

log = logging.getLogger(__name__)

_CHECKS = {"events_api": check_event, "interactive": check_interaction, "slash_commands": check_command}


class CheckedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, refusing payloads no listener could read."""

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        check = _CHECKS.get(req.type)
        try:
            if check is None:
                raise WrongShape(f"not a Socket Mode request Tugboat takes ({req.type!r})")
            check(req.payload)
        except WrongShape as exc:
            SLACK_REQUESTS.labels(outcome="wrong_shape").inc()
            log.warning("dropped a Socket Mode request: %s", exc)  # the reason names fields, not values
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        super().handle(client, req)
