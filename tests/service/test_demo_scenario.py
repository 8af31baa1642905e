"""The embedded demo scenarios show the regime changes they script (the selloff: short
gamma, feedback sell-off, exhaustion, in order; the melt-up: vanna tailwind), through the
real pipeline and regime engine, fed in lockstep with the publish cycles."""

from __future__ import annotations

import asyncio

import pytest

from monitor.service import Monitor, demo_settings, embedded_simulator
from monitor.sources.memory import MemorySource
from tests.service.helpers import Lockstep, books, make_settings, run_until


def run_scenario(name: str) -> list[dict]:
    settings = make_settings()
    settings.embedded.scenario = name
    settings.embedded.rate_ticks_per_s = 40000.0  # denser quotes: less staleness noise
    settings = demo_settings(settings)
    assert settings.regimes.window_s == 4.0  # the demo's compressed windows
    settings.intervals.publish_ms = 20.0
    b = books(settings)
    sim = embedded_simulator(settings, b)
    batches = list(sim.session(24.0, batch=20000))  # 0.5 s of market time each
    items = Lockstep(batches)
    mon = Monitor(settings, MemorySource(items), b)
    items.monitor = mon
    assert asyncio.run(run_until(mon, sum(len(x) for x in batches), timeout=300)) == 0
    return [e["to"] for e in mon.events if e["to"]]


def test_selloff_scenario_shows_short_gamma_feedback_and_exhaustion_in_order():
    seen = run_scenario("selloff")
    for label in ("short_gamma", "feedback_selloff", "exhaustion"):
        assert label in seen, seen
    assert seen.index("short_gamma") <= seen.index("feedback_selloff") < seen.index("exhaustion")


def test_melt_up_scenario_shows_the_vanna_tailwind():
    assert "vanna_tailwind" in run_scenario("melt_up")


def test_demo_settings_leave_kafka_runs_alone():
    s = make_settings("127.0.0.1:9092")
    s.embedded.scenario = "selloff"
    assert demo_settings(s).regimes.window_s == s.regimes.window_s
    with pytest.raises(ValueError):
        type(s.embedded).model_validate({"scenario": "crash"})
