"""The regime engine at the edges of its rules (synthetic numbers, hand-computed): each
threshold's side at the exact value, the hold zone of the hysteresis, the exhaustion
conditions with IV halved and GEX half-way back, and the sentences' numbers."""


from monitor.regimes.engine import Observation, RegimeEngine, _duration
from tests.regimes.test_engine import T0, S, cfg, obs, run


def test_gamma_flips_only_past_the_band_not_at_it():
    # band = 0.5 x 4e8 = 2e8 exactly: at -2e8 the label holds, just past it it flips
    e = RegimeEngine("SPX", cfg(gamma_dead_band_frac=0.5))
    ev = run(e, [obs(0, gex=1e9, gross=4e8), obs(1, gex=-2e8, gross=4e8)])
    assert [x["to"] for x in ev] == ["long_gamma"]
    ev = run(e, [obs(2, gex=-2.0000001e8, gross=4e8)])
    assert [x["to"] for x in ev] == ["short_gamma"]


def test_vanna_tailwind_at_exactly_the_threshold():
    # IV 15.0 -> 14.0 is a fall of exactly 1.0 pt (the threshold); VEX 1e9 -> flow +1e9 >= 5e8
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(0, iv=15.0), obs(1, iv=14.0)])
    assert [x["to"] for x in ev if x["regime"] == "vanna"] == ["vanna_tailwind"]


def test_iv_up_with_dealers_short_vanna_is_no_vanna_label():
    # VEX -1e9, IV +2: flow = -VEX x dIV = +2e9 (dealers buy) while IV ROSE: neither label
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(0, iv=15.0, vex=-1e9), obs(1, iv=17.0, vex=-1e9)])
    assert [x for x in ev if x["regime"] == "vanna"] == []


def test_vanna_headwind_holds_in_its_hysteresis_zone():
    # enter at +1.2 pts (>= 1.0), then +0.7 (< 1.0 but >= 0.5 x 1.0): holds; +0.4: ends
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(0, iv=15.0), obs(1, iv=16.2), obs(2, iv=15.7)])
    assert [x["to"] for x in ev if x["regime"] == "vanna"] == ["vanna_headwind"]
    assert e.labels["vanna"] == "vanna_headwind"
    ev = run(e, [obs(3, iv=15.4)])
    assert [x["to"] for x in ev if x["regime"] == "vanna"] == [None]


def test_episode_history_is_the_premium_before_the_window():
    # premium sampled each 1 s from t=0; window 10 s; the sell-off starts at t=30, so the
    # history is the samples before the window's first observation (t=20): t=0..19, 20 of them
    e = RegimeEngine("SPX", cfg())
    steady = [obs(t, gex=-5e9, iv=15.0) for t in range(30)]
    run(e, steady)
    run(e, [obs(30, spot=98.0, gex=-5e9, iv=17.0)])
    assert e.labels["feedback"] == "feedback_selloff"
    assert e.window[0][0] == T0 + 20 * S
    assert len(e.episode["history"]) == 20


def _episode_engine(**ep):
    """An engine that has seen a sell-off (the episode written by hand)."""
    e = RegimeEngine("SPX", cfg(exhaustion_memory_s=600, exhaustion_min_history=1))
    e.episode = {"start_ns": T0, "ended_ns": T0 + 5 * S, "iv_peak": 30.0, "premium_peak": 30.0,
                 "premium_start": 15.0, "gex_trough": -1e10, "history": [15.0, 16.0]}
    e.episode.update(ep)
    return e


def _ctx(t_s, iv, gex, puts_sold=0.0):
    return {"o": obs(t_s, iv=iv, gex=gex), "puts_sold": puts_sold, "premium": iv}


def test_exhaustion_counts_iv_halved_as_rolled_over():
    # peak 30, now 10: 20 pts off the peak (>= 1.0); sellers present
    e = _episode_engine()
    c = _ctx(60, iv=10.0, gex=-1e10, puts_sold=5000)
    assert e._exhaustion(c) == "exhaustion"
    assert c["exhaustion"]["iv_off_peak_pts"] == 20.0


def test_exhaustion_gamma_half_way_back_is_recovered():
    # trough -1e10, now -4e9: back by 6e9 >= 0.25 x 1e10; no put selling
    e = _episode_engine()
    c = _ctx(60, iv=28.0, gex=-4e9)
    assert e._exhaustion(c) == "exhaustion"
    assert c["exhaustion"]["gex_recovered"] is True
    c = _ctx(60, iv=28.0, gex=-8e9)  # back by 2e9 < 2.5e9: not recovered, no sellers
    assert _episode_engine()._exhaustion(c) is None


def test_exhaustion_memory_is_elapsed_time_across_a_power_of_two():
    # the episode starts 5 s before a multiple of 2**40 ns and is checked 5 s after it:
    # 10 s elapsed, well inside the 600 s memory, so a label in force holds
    base = (T0 >> 40 << 40) + (1 << 40)
    e = _episode_engine(start_ns=base - 5 * S)
    e.labels["exhaustion"] = "exhaustion"
    o = Observation(ts_ns=base + 5 * S, spot=100.0, gex_usd_per_pct=-1e10,
                    gross_gex_usd_per_pct=1e10, vex_usd_per_vol_pt=0.0, cex_usd_per_day=0.0,
                    atm_iv_pts=30.0)
    assert e._exhaustion({"o": o, "puts_sold": 0.0, "premium": 30.0}) == "exhaustion"
    o.ts_ns = base - 5 * S + 601 * S  # past the memory
    assert e._exhaustion({"o": o, "puts_sold": 0.0, "premium": 30.0}) is None


def test_durations_in_words():
    assert [_duration(s) for s in (59, 60, 90, 3600, 5400, 7200, 86400, 172800)] == [
        "59 s", "1 min", "1.5 min", "1 h", "1.5 h", "2 h", "1 days", "2 days"]


def test_the_window_drops_every_observation_older_than_it_not_only_one():
    # observations at 0, 1, 2 s then 20 s (window 10 s): at 20 s the window starts at the
    # last observation at or before 20 - 10 = 10 s, the one of 2 s; IV is measured from it
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(0, iv=10.0), obs(1, iv=11.0), obs(2, iv=15.0), obs(20, iv=15.2)])
    assert e.window[0][0] == T0 + 2 * S
    # the headwind of +5 pts at 2 s ends at 20 s: +0.2 pts from 15.0 (from 10.0: +5.2)
    assert [x["to"] for x in ev if x["regime"] == "vanna"] == ["vanna_headwind", None]


def test_the_premium_is_sampled_once_per_sample_interval():
    # observations every 0.5 s, sample_s 1: samples at 0, 1, 2 s only
    e = RegimeEngine("SPX", cfg())
    run(e, [obs(t / 2, iv=15.0 + t) for t in range(5)])
    assert [(ts - T0) / S for ts, _ in e.premium] == [0.0, 1.0, 2.0]
    assert [p for _, p in e.premium] == [15.0, 17.0, 19.0]


def test_minimum_dwell_is_elapsed_event_time_across_a_power_of_two():
    # long gamma set 2 s before a multiple of 2**40 ns; negative GEX 2 s and 9 s after it
    # is held (4 s, 11 s... of a 12 s dwell), 12 s after it flips (14 s >= 12 s)
    base = (T0 >> 40 << 40) + (1 << 40)
    e = RegimeEngine("SPX", cfg(min_dwell_s=12))

    def at(ns, gex):
        return Observation(ts_ns=ns, spot=100.0, gex_usd_per_pct=gex, gross_gex_usd_per_pct=1e10,
                           vex_usd_per_vol_pt=0.0, cex_usd_per_day=0.0, atm_iv_pts=15.0)
    assert [x["to"] for x in e.update(at(base - 2 * S, 1e9))] == ["long_gamma"]
    assert e.update(at(base + 2 * S, -5e9)) == []
    assert e.update(at(base + 9 * S, -5e9)) == []
    assert [x["to"] for x in e.update(at(base + 12 * S, -5e9))] == ["short_gamma"]


def test_vanna_headwind_ends_when_the_flow_turns_even_with_iv_still_up():
    # headwind entered at +1.2 pts with VEX +1e9 (flow -1.2e9); then IV +0.7 (inside the
    # hold zone) but VEX -1e9: flow +7e8 is no headwind: the label ends
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(0, iv=15.0), obs(1, iv=16.2), obs(2, iv=15.7, vex=-1e9)])
    assert [x["to"] for x in ev if x["regime"] == "vanna"] == ["vanna_headwind", None]


def test_iv_up_less_than_the_threshold_is_no_headwind():
    # +0.6 pts with VEX 1e9: flow -6e8 passes the flow threshold, the IV change does not
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(0, iv=15.0), obs(1, iv=15.6)])
    assert [x for x in ev if x["regime"] == "vanna"] == []


def test_no_episode_without_a_sell_off():
    e = RegimeEngine("SPX", cfg())
    run(e, [obs(t, gex=-5e9, iv=15.0) for t in range(5)])
    assert e.labels["feedback"] is None and e.episode is None


def test_exhaustion_threshold_without_history_is_two_feedback_steps_over_the_start():
    # history too short (2 < 50): threshold = premium_start 15 + 2 x 1.5 = 18; a peak of
    # 17 is not extreme, 18 is (IV 5 pts off the peak, sellers present)
    def engine(peak):
        e = RegimeEngine("SPX", cfg(exhaustion_memory_s=600, exhaustion_min_history=50,
                                    feedback_iv_pts=1.5))
        e.episode = {"start_ns": T0, "ended_ns": None, "iv_peak": 30.0,
                     "premium_peak": peak, "premium_start": 15.0, "gex_trough": -1e10,
                     "history": [15.0, 16.0]}
        return e
    c = _ctx(60, iv=25.0, gex=-1e10, puts_sold=5000)
    assert engine(17.0)._exhaustion(c) is None
    assert c["exhaustion"]["premium_threshold"] == 18.0
    assert engine(18.0)._exhaustion(_ctx(60, iv=25.0, gex=-1e10, puts_sold=5000)) == "exhaustion"


def test_exhaustion_needs_an_iv_and_a_peak_and_a_real_roll_over():
    sellers = dict(gex=-1e10, puts_sold=5000)
    # IV 0.5 pts off its peak of 30 (< 1.0): not rolled over
    c = _ctx(60, iv=29.5, **sellers)
    assert _episode_engine()._exhaustion(c) is None
    assert c["exhaustion"]["iv_off_peak_pts"] is None
    # no IV now, or no IV peak: nothing to roll over from, no exhaustion (and no error)
    o = obs(60, iv=None, gex=-1e10)
    assert _episode_engine()._exhaustion({"o": o, "puts_sold": 5000, "premium": 30.0}) is None
    assert _episode_engine(iv_peak=None)._exhaustion(_ctx(60, iv=10.0, **sellers)) is None
