"""The regime engine on hand-built observations (synthetic numbers): each label's rule,
hysteresis (noise around a threshold does not flap), minimum dwell, persistence."""

import datetime as dt

import numpy as np

from monitor.config import RegimeSettings
from monitor.regimes.engine import Observation, RegimeEngine

T0 = int(dt.datetime(2026, 8, 3, 15, 0, tzinfo=dt.timezone.utc).timestamp() * 1e9)  # Monday
S = 1_000_000_000


def obs(t_s, spot=100.0, gex=1e9, iv=15.0, vex=1e9, gross=1e10, **kw):
    return Observation(ts_ns=T0 + int(t_s * S), spot=spot, gex_usd_per_pct=gex,
                       gross_gex_usd_per_pct=gross, vex_usd_per_vol_pt=vex,
                       cex_usd_per_day=0.0, atm_iv_pts=iv, **kw)


def cfg(**kw):
    base = dict(window_s=10, min_dwell_s=0, sample_s=1, vanna_iv_change_pts=1.0,
                vanna_min_flow_usd=5e8, feedback_spot_pct=-1.0, feedback_iv_pts=1.0,
                exhaustion_min_history=5, exhaustion_rollover_pts=1.0,
                exhaustion_put_selling_contracts=1000, charm_sessions=3,
                charm_min_expiring_share=0.2)
    base.update(kw)
    return RegimeSettings(**base)


def run(engine, observations):
    out = []
    for o in observations:
        out.extend(engine.update(o))
    return out


def test_gamma_sign_with_dead_band_and_sentence():
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(0, gex=1e9), obs(1, gex=-1e8), obs(2, gex=-4.1e9)])
    # -1e8 is inside the 2 % x 1e10 = 2e8 band: no flip; -4.1e9 flips
    assert [x["to"] for x in ev] == ["long_gamma", "short_gamma"]
    # without the full-revaluation flows the sentence is the local GEX, and says so
    assert ev[1]["message"] == ("Dealers short gamma (-$4.10bn per 1%, locally): about $4.10bn "
                                "to sell into a 1% fall and to buy into a 1% rise (linear "
                                "estimate)")
    # with them (as the service feeds the engine) it states the full revaluation
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(0, gex=-4.1e9, flow_down_usd=-4.5e9, flow_up_usd=3.8e9, zero_gamma=90.0)])
    assert ev[0]["message"] == ("Dealers short gamma (-$4.10bn per 1%, locally): into a 1% fall "
                                "they sell $4.50bn, into a 1% rise they buy $3.80bn (full "
                                "revaluation); feedback risk: their hedging adds to the move")
    assert abs(ev[0]["zero_gamma_distance_pct"] + 10.0) < 1e-12
    assert ev[0]["flow_spot_down_1pct_usd"] == -4.5e9


def test_noise_around_zero_gamma_does_not_flap():
    e = RegimeEngine("SPX", cfg())
    rng = np.random.default_rng(0)
    gex = 1.5e8 * rng.standard_normal(500)  # noise within +-3 sd of the 2e8 band
    gex = np.clip(gex, -1.9e8, 1.9e8)
    ev = run(e, [obs(i * 0.1, gex=g) for i, g in enumerate(gex)])
    assert len([x for x in ev if x["regime"] == "gamma"]) == 1  # the first label only


def test_vanna_tailwind_sign_from_vex_and_iv_change():
    # dealers long vanna (VEX > 0): IV down 2 pts -> their delta falls by 2 x VEX -> they BUY
    e = RegimeEngine("SPX", cfg())
    ev = run(e, [obs(t, iv=15.0 - 0.2 * t, vex=1e9) for t in range(11)])
    tail = [x for x in ev if x["regime"] == "vanna"]
    assert tail and tail[0]["to"] == "vanna_tailwind"
    assert "buying about $" in tail[0]["message"]
    # dealers short vanna (VEX < 0): the same IV fall makes them SELL: no tailwind
    e2 = RegimeEngine("SPX", cfg())
    ev2 = run(e2, [obs(t, iv=15.0 - 0.2 * t, vex=-1e9) for t in range(11)])
    assert not [x for x in ev2 if x["to"] == "vanna_tailwind"]
    # IV up with dealers long vanna: headwind (dealers sell)
    e3 = RegimeEngine("SPX", cfg())
    ev3 = run(e3, [obs(t, iv=15.0 + 0.2 * t, vex=1e9) for t in range(11)])
    assert [x["to"] for x in ev3 if x["regime"] == "vanna"] == ["vanna_headwind"]


def test_vanna_hysteresis_holds_between_exit_and_entry_thresholds():
    e = RegimeEngine("SPX", cfg(window_s=100))
    ivs = [15.0, 14.5, 13.9, 14.3, 14.1, 14.4, 14.2]  # entry at -1.1; wiggles stay below -0.5
    ev = run(e, [obs(t, iv=v) for t, v in enumerate(ivs)])
    assert [x["to"] for x in ev if x["regime"] == "vanna"] == ["vanna_tailwind"]
    ev = run(e, [obs(10, iv=14.8)])  # back above -0.5: exits
    assert [x["to"] for x in ev if x["regime"] == "vanna"] == [None]


def test_minimum_dwell_delays_a_flip_back():
    e = RegimeEngine("SPX", cfg(min_dwell_s=5))
    ev = run(e, [obs(0, gex=1e9), obs(1, gex=-1e9), obs(2, gex=1e9), obs(3, gex=-1e9),
                 obs(6, gex=-1e9)])
    # the flip wanted at 1 s and 3 s waits until 5 s have passed since the label began
    assert [((x["ts_ns"] - T0) // S, x["to"]) for x in ev] == [(0, "long_gamma"),
                                                                (6, "short_gamma")]


def selloff_path():
    """Melt-up history, then a short-gamma sell-off, then IV rolling over with put selling."""
    steps = [obs(t, spot=100.0, gex=2e9, iv=14.0 + 0.01 * (t % 3)) for t in range(10)]
    for k in range(1, 6):  # spot -2.5 %, IV +5 over 5 s, dealers short gamma
        steps.append(obs(10 + k, spot=100.0 - 0.5 * k, gex=-3e9 - 1e9 * k, iv=14.0 + k))
    sold = 0.0
    for k in range(1, 6):  # IV off its peak, customers selling puts
        sold += 800
        steps.append(obs(15 + k, spot=97.5, gex=-8e9 + 1e8 * k, iv=19.0 - 0.5 * k,
                         customer_puts_sold=sold))
    return steps


def test_feedback_selloff_then_exhaustion_in_order():
    e = RegimeEngine("SPX", cfg())
    ev = run(e, selloff_path())
    order = [x["to"] for x in ev if x["to"]]
    assert order.index("short_gamma") < order.index("feedback_selloff") < order.index(
        "exhaustion")
    ex = next(x for x in ev if x["to"] == "exhaustion")
    assert "put seller" in ex["message"] and ex["puts_sold"] >= 1000


def test_no_exhaustion_without_sellers_or_gamma_recovery():
    e = RegimeEngine("SPX", cfg())
    path = [o for o in selloff_path()]
    for o in path[15:]:
        o.customer_puts_sold = 0.0
        o.gex_usd_per_pct = -8e9  # no recovery either
    assert "exhaustion" not in [x["to"] for x in run(e, path)]


def test_charm_window_before_quad_witching_says_mechanical():
    # 2026-06-15 is 3 sessions before the 2026-06-18 quarterly expiration (Juneteenth shift)
    t = int(dt.datetime(2026, 6, 15, 20, 0, tzinfo=dt.timezone.utc).timestamp() * 1e9)
    e = RegimeEngine("SPX", cfg())
    ev = e.update(Observation(ts_ns=t, spot=7500, gex_usd_per_pct=1e9,
                              gross_gex_usd_per_pct=1e10, vex_usd_per_vol_pt=0,
                              cex_usd_per_day=-2e9, atm_iv_pts=15, expiration_share=0.4))
    charm = [x for x in ev if x["regime"] == "charm"][0]
    assert charm["to"] == "charm_window" and charm["mechanical"] is True
    assert "2026-06-18 quarterly" in charm["message"]
    assert "expiration holding 40% of gross gamma" in charm["message"]
    assert "says nothing about direction" in charm["message"]
    # a week earlier: out of the window
    e2 = RegimeEngine("SPX", cfg())
    ev2 = e2.update(Observation(ts_ns=t - 7 * 86400 * S, spot=7500, gex_usd_per_pct=1e9,
                                gross_gex_usd_per_pct=1e10, vex_usd_per_vol_pt=0,
                                cex_usd_per_day=0, atm_iv_pts=15, expiration_share=0.4))
    assert not [x for x in ev2 if x["regime"] == "charm"]


def test_state_round_trip_keeps_history():
    e = RegimeEngine("SPX", cfg())
    path = selloff_path()
    run(e, path[:14])
    import msgspec

    e2 = RegimeEngine("SPX", cfg())
    e2.restore(msgspec.json.decode(msgspec.json.encode(e.to_dict())))
    assert run(e2, path[14:]) == run(e, path[14:])
