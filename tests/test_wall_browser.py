"""The wall page in a real browser (issue 14): Debian's Chromium (headless, driven by
Playwright; ``.ci/run`` installs the package when missing) opens ``/wall`` of ``monitor
run`` on the embedded default. From the DOM: the regime, spot, zero gamma and GEX shown
equal the Redis state of the same instant (``as_of_ns``), as numbers (``data-value``) and
as the text the page prints. Then the monitor is stopped: the page says so (CONNECTION
LOST or STALE); started again on the same port: the page recovers by itself (LIVE, newer
state). ``WALL_SCREENSHOT=PATH`` also saves a 1920x1080 screenshot (docs/wall.png is made
so). Conditions are waited for (hang guards only), never timed."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
import redis

from tests.redis_server import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STALE_AFTER_S = 4


def start_monitor(port: int, prefix: str, log):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALERFLOW_")}
    env.update(DEALERFLOW_REDIS__PREFIX=prefix, DEALERFLOW_STREAM__STALE_AFTER_S=str(STALE_AFTER_S),
               DEALERFLOW_LOG_FORMAT="json")
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--metrics-port",
                             str(port), "--no-summary"], stdout=log, stderr=subprocess.STDOUT,
                            env=env)


def wait_for(cond, what: str, limit_s: float = 180.0, proc=None):
    deadline = time.monotonic() + limit_s
    while True:
        got = cond()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"monitor exited ({proc.returncode}) while waiting for {what}")
        assert time.monotonic() < deadline, f"hang guard: {what}"
        time.sleep(0.2)


def fmt_level(x: float) -> str:
    return f"{x:,.2f}"


def fmt_money(x: float) -> str:
    a, s = abs(x), "−" if x < 0 else "+"
    for div, unit, nd in ((1e12, "tn", 2), (1e9, "bn", 2), (1e6, "m", 1), (1e3, "k", 1)):
        if a >= div:
            return f"{s}${a / div:.{nd}f}{unit}"
    return f"{s}${a:.0f}"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is needed (Debian package 'chromium'; .ci/run installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


def test_wall_shows_the_redis_state_goes_stale_and_recovers(browser, tmp_path):
    port, prefix = free_port(), f"wall{uuid.uuid4().hex[:6]}"
    r = redis.Redis(decode_responses=True)
    log = open(tmp_path / "monitor.log", "w")
    proc = start_monitor(port, prefix, log)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        key = f"{prefix}-demo:SPX:state"  # the embedded run writes under its own prefix
        wait_for(lambda: r.exists(key), "state in Redis", proc=proc)
        page.goto(f"http://127.0.0.1:{port}/wall?u=SPX")
        panel = page.locator('section.u[data-underlying="SPX"]')
        wait_for(lambda: panel.count() == 1, "the SPX panel", proc=proc)

        def same_instant():
            """(DOM figures, Redis state) read at one as_of_ns, else None."""
            before = r.hget(key, "as_of_ns")
            dom = panel.evaluate("""el => {
                const f = n => el.querySelector(`[data-field="${n}"]`);
                const out = {as_of_ns: el.dataset.asOfNs};
                for (const n of ["regime", "spot", "spot_source", "zero_gamma",
                                 "gex_usd_per_pct",
                                 "hedge_pressure_usd", "charm_to_close_usd",
                                 "settled_vs_live"])
                    out[n] = {value: f(n).dataset.value, text: f(n).textContent};
                out.forward = [...el.querySelectorAll("table.forward tbody tr")].map(tr => ({
                    horizon: tr.dataset.horizon, zg: tr.children[1].dataset.value,
                    gex: tr.children[2].dataset.value}));
                out.heat_cells = Number(el.querySelector("canvas.heatmap").dataset.cells);
                return out; }""")
            state = r.hgetall(key)
            if not (dom["as_of_ns"] == before == state["as_of_ns"]):
                return None
            return dom, state

        dom, state = wait_for(same_instant, "page and Redis at one instant", proc=proc)
        assert dom["regime"]["value"] == state["regime"]
        assert dom["regime"]["text"] == state["regime"].replace("_", " ")
        # the simulator's spot is the feed's own: said by the state, not labelled on the wall
        assert (dom["spot_source"]["value"], dom["spot_source"]["text"]) == (
            state["spot_source"], "") == ("feed", "")
        for name, fmt in (("spot", fmt_level), ("zero_gamma", fmt_level),
                          ("gex_usd_per_pct", fmt_money)):
            shown, stored = float(dom[name]["value"]), float(state[name])
            assert math.isclose(shown, stored, rel_tol=1e-12), name
            assert dom[name]["text"] == fmt(stored), name
        tape = json.loads(state["hedge_pressure_usd"])["total"]  # the tape, issue 15
        assert math.isclose(float(dom["hedge_pressure_usd"]["value"]), tape, rel_tol=1e-12,
                            abs_tol=1e-9)
        assert dom["hedge_pressure_usd"]["text"] == fmt_money(tape)
        # issue 15: charm to the close, settled vs live, the forward table, the heatmap
        charm = float(state["charm_to_close_usd"])
        assert math.isclose(float(dom["charm_to_close_usd"]["value"]), charm, rel_tol=1e-12)
        assert dom["charm_to_close_usd"]["text"] == fmt_money(charm)
        svl = json.loads(state["settled_vs_live"])
        assert dom["settled_vs_live"]["value"] == svl["label"]
        assert dom["settled_vs_live"]["text"] == svl["label"].upper()
        forward = json.loads(state["forward"])
        assert [f["horizon"] for f in dom["forward"]] == [f["horizon"] for f in forward]
        for shown, stored in zip(dom["forward"], forward):
            assert math.isclose(float(shown["gex"]), stored["gex_usd_per_pct"], rel_tol=1e-12)
            if stored["zero_gamma"] is not None:
                assert math.isclose(float(shown["zg"]), stored["zero_gamma"], rel_tol=1e-12)
        assert dom["heat_cells"] > 0
        status = page.locator("#status")
        wait_for(lambda: status.get_attribute("data-state") == "live", "LIVE", proc=proc)
        if os.environ.get("WALL_SCREENSHOT"):
            page.screenshot(path=os.environ["WALL_SCREENSHOT"])

        # the monitor goes away: the page says so by itself
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        wait_for(lambda: status.get_attribute("data-state") in ("disconnected", "stale"),
                 "the page to say the data stopped", limit_s=60)
        assert any(w in status.text_content() for w in ("CONNECTION LOST", "STALE"))
        last = panel.get_attribute("data-as-of-ns")

        # ...and comes back on the same port: the page reconnects and goes live again
        proc = start_monitor(port, prefix, log)
        wait_for(lambda: status.get_attribute("data-state") == "live"
                 and panel.get_attribute("data-as-of-ns") != last, "the page to recover",
                 proc=proc)
        assert "LIVE" in status.text_content()
    finally:
        page.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        log.close()
        for k in r.scan_iter(f"{prefix}-demo:*"):
            r.delete(k)
