"""Where publish cycles go: the :class:`~monitor.sinks.base.Sink` interface and its
implementations (Redis, Prometheus, desk-chat alerts)."""
