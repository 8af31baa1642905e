"""Desk-chat alerts: regime events to Slack, Microsoft Teams and generic JSON webhooks.

* :mod:`~monitor.sinks.alerts.format`: one event -> each target's payload (pure);
* :mod:`~monitor.sinks.alerts.delivery`: :class:`AlertSender` (queues, dedup, rate
  limits, data-quality holds, retries; never blocks the caller);
* :mod:`~monitor.sinks.alerts.sink`: :class:`AlertSink`, the service's publish cycles in.
"""

from monitor.sinks.alerts.delivery import (
    TARGET_KINDS,
    AlertSender,
    alert_sender_for,
    alert_sender_from_settings,
    parse_retry_after,
)
from monitor.sinks.alerts.format import (
    FORMATTERS,
    describe,
    format_generic,
    format_slack,
    format_teams,
    held_note,
    level,
    usd,
)
from monitor.sinks.alerts.sink import AlertSink

__all__ = [
    # formats
    "FORMATTERS", "describe", "format_slack", "format_teams", "format_generic", "held_note",
    "usd", "level",
    # delivery
    "TARGET_KINDS", "AlertSender", "alert_sender_from_settings", "alert_sender_for",
    "parse_retry_after",
    # the sink
    "AlertSink",
]
