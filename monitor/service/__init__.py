"""The live service: a source -> the ingest (numba core) -> publish cycles -> sinks
(:class:`Monitor`, in :mod:`monitor.service.monitor`; the core thread, the ingest loop, the
publish cycle, hand-over and health each in their own module) and its assembly from the
settings (:mod:`monitor.service.assembly`)."""

from monitor.service.assembly import (
    EMBEDDED_SOURCE,
    ServiceError,
    demo_settings,
    embedded_prefix,
    embedded_simulator,
    embedded_source,
    make_sinks,
    make_source,
    replay_verdict,
    run_service,
)
from monitor.service.handover import history_gap
from monitor.service.health import readiness_problems
from monitor.service.monitor import SHUTDOWN_CYCLE_S, Monitor
from monitor.service.publish import deliver

__all__ = ["EMBEDDED_SOURCE", "SHUTDOWN_CYCLE_S", "Monitor", "ServiceError", "deliver",
           "demo_settings", "embedded_prefix", "embedded_simulator", "embedded_source",
           "history_gap", "make_sinks", "make_source", "readiness_problems",
           "replay_verdict", "run_service"]
