"""The wall page's layout in a real browser (Debian's Chromium, headless, Playwright): served
by the monitor's own HTTP server and ``/stream`` hub with one state built as the service
builds it (the packaged SPX chain of 2026-08-21), no ``monitor run`` needed.

* At 1600x1000 and 1920x1080: no scrollbar (the document is no larger than the window),
  every chart with axis values (asserted in the DOM: ``text.axis-x``/``text.axis-y`` in
  each SVG, the heatmap's ``data-axis-x``/``data-axis-y``), no visible text under 18 px
  (legible across a room).
* The banner is the headline's own reading: a hand-built fragile state (zero gamma 0.5 %
  below spot, dealers buying the fall and selling the rise) shows ``LONG GAMMA, FRAGILE``
  with where it flips, in the amber of a state about to flip; the engine's label beside it.
* Times a person reads are America/New_York with their zone; strikes without decimals.
"""

from __future__ import annotations

import os
import time

import msgspec
import pytest

from monitor.books import build_books
from monitor.config import load_settings
from monitor.ingest import Pipeline
from monitor.paths import packaged_chain
from monitor.sentences import headline, headline_parts
from monitor.sinks.metrics import Metrics
from monitor.sinks.stream import StreamHub, wall_pages
from monitor.state import build_state
from tests.test_wall_browser import CHROMIUM

MIN_FONT_PX = 18


@pytest.fixture(scope="module")
def state():
    books = build_books(load_settings(), [packaged_chain()])
    s = Pipeline(books).states["SPX"]
    st, profile = build_state(s, ["long_gamma"])
    return {**st, "profile": profile}


def fragile(state: dict) -> dict:
    """The state with zero gamma 0.5 % below spot and the +-1 % flows of a long-gamma book
    (buy $2bn into the fall, sell $2bn into the rise): the headline's reading is fragile."""
    st = {**state, "zero_gamma": state["spot"] * 0.995, "zero_gamma_distance_pct": -0.5}
    st["scenarios"] = [({**sc, "flow_usd": 2e9 if sc["spot_pct"] < 0 else -2e9}
                        if sc.get("spot_pct") in (-1.0, 1.0) and not sc.get("vol_pts")
                        and not sc.get("days") else sc) for sc in state["scenarios"]]
    st["gex_usd_per_pct"] = abs(state["gex_usd_per_pct"])
    st["headline"] = headline(st)
    st.update(headline_parts(st))
    return st


@pytest.fixture(scope="module")
def served(state):
    hub = StreamHub(10, stale_after_s=3600)
    m = Metrics()
    port = m.serve("127.0.0.1", 0, pages=wall_pages(), handlers={"/stream": hub.handle})

    def publish(st: dict) -> None:
        hub.publish("state", "SPX", msgspec.json.encode(
            {**st, "underlying": "SPX", "published_ns": time.time_ns()}))
    yield port, publish
    m.stop()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is needed (Debian package 'chromium'; .ci/run installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def open_wall(browser, port, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(f"http://127.0.0.1:{port}/wall?u=SPX")
    page.wait_for_selector('section.u[data-underlying="SPX"] canvas.heatmap[data-axis-y]',
                           timeout=60_000)
    return page


LAYOUT = """() => {
  const doc = document.scrollingElement;
  const small = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.childNodes.length || ![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
      continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const px = parseFloat(getComputedStyle(el).fontSize);
    if (px < %d) small.push(`${el.tagName}.${el.className}: ${px}px "${el.textContent.trim().slice(0, 30)}"`);
  }
  const charts = {};
  for (const svg of document.querySelectorAll("section.u svg")) {
    charts[svg.getAttribute("class")] = {x: svg.querySelectorAll("text.axis-x").length,
                                         y: svg.querySelectorAll("text.axis-y").length};
  }
  const heat = document.querySelector("canvas.heatmap");
  return {scroll: [doc.scrollHeight, innerHeight, doc.scrollWidth, innerWidth], small, charts,
          heat: [heat.dataset.axisX, heat.dataset.axisY],
          clock: document.getElementById("clock").textContent,
          walls: [...document.querySelectorAll('[data-field="call_wall"], [data-field="put_wall"]')]
                 .map(e => e.textContent)};
}""" % MIN_FONT_PX


@pytest.mark.parametrize("size", [(1600, 1000), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_wall_fits_without_scrolling_with_axis_values_and_legible_text(browser, served,
                                                                           state, size):
    port, publish = served
    publish(state)
    page = open_wall(browser, port, size)
    # two more states, so the session charts have a time axis
    for _ in range(2):
        publish({**state, "as_of_ns": state["as_of_ns"] + 60 * 10**9})
    page.wait_for_function("() => document.querySelectorAll('svg.session polyline').length > 0")
    got = page.evaluate(LAYOUT)
    h, ih, w, iw = got["scroll"]
    assert h <= ih and w <= iw, f"scrolls: document {w}x{h} in a {iw}x{ih} window"
    assert got["small"] == [], got["small"]
    for name in ("levels", "profile", "session", "tape"):
        axes = got["charts"][name]
        assert axes["x"] >= 2 and (name == "levels" or axes["y"] >= 2), (name, axes)
    assert all(got["heat"]) and "ET" in got["heat"][0], got["heat"]
    assert got["clock"].endswith(" ET")
    assert got["walls"] == [f"{state['call_wall']:,.0f}", f"{state['put_wall']:,.0f}"]
    page.close()


def test_a_fragile_state_shows_fragile_on_the_banner(browser, served, state):
    port, publish = served
    st = fragile(state)
    assert st["gamma_state"] == "LONG GAMMA, FRAGILE"
    assert st["headline_short"] == "LONG GAMMA, FRAGILE: flips 0.50% below"
    assert "fragile: zero gamma is 0.50% below spot" in st["headline"]
    publish(st)
    page = open_wall(browser, port, (1920, 1080))
    banner = page.locator('[data-field="headline_short"]')
    page.wait_for_function("() => document.querySelector('[data-field=\"headline_short\"]')"
                           ".textContent.includes('FRAGILE')")
    assert banner.text_content() == "LONG GAMMA, FRAGILE: flips 0.50% below"
    assert "fragile" in banner.get_attribute("class").split()
    assert page.locator('[data-field="regime"]').text_content() == "long gamma"
    # the charm note reads its time in New York
    note = page.locator('[data-field="charm_to_close_note"]').text_content()
    assert note.endswith("ET from time alone") and "UTC" not in note, note
    page.close()
