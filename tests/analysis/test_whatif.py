"""`whatif` against hand-computed single-contract books (signs and magnitudes), the flow
curve, ES-equivalents and % of ADV, the chart, input parsing, and the live path through
the real Redis at 127.0.0.1:6379 (own key prefix, cleaned up).

Reference book (as in tests/core/test_signs.py): dealer short 1 ATM put (classic model,
OI 1), S = F = K = 100, T = 1 year, sigma = 20 %, r = q = 0, multiplier 100. Then
N(0.1) = 0.539827837277029 and, by hand:

    put delta          = N(0.1) - 1                       = -0.460172163
    GEX  = -1*100*gamma*100^2*0.01                        = -198.476274 $ per 1 %
    VEX  = -1*100*vanna*100*0.01                          = -19.8476274 $ per vol pt
    CEX  = -1*100*charm*100/365                           = +0.5437706 $ per day
    flow_shares(scenario) = -n M (delta' - delta) = 100 (delta' - delta)
"""

from __future__ import annotations

import asyncio
import math
import uuid

import pytest
from redis import Redis

from monitor.analysis.live import load_live
from monitor.analysis.whatif import whatif
from monitor.books import book_from_chain, build_books, encode_checkpoint, position_models
from monitor.chain.loaders import write_canonical
from monitor.config import RedisSettings, Settings, UnderlyingSettings
from monitor.core.book import Book
from monitor.ingest import Pipeline
from monitor.options import parse_curve_range, parse_days, parse_spot_pct, parse_vol_pts
from monitor.render.plot import plot_flow_curve
from monitor.render.whatif import render_whatif
from monitor.sinks.redis_sink import RedisSink
from tests.redis_server import free_port
from tests.synth import make_chain

N1 = 0.539827837277029
PUT_DELTA = N1 - 1.0
GEX = -198.476274
VEX = -19.8476274
CEX = 0.5437706
SHARED_URL = "redis://127.0.0.1:6379/0"


def N(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def put_delta(S: float, sigma: float = 0.2, T: float = 1.0, K: float = 100.0) -> float:
    """Black-76 put delta with r = q = 0 (F = S)."""
    s = sigma * math.sqrt(T)
    return N((math.log(S / K) + 0.5 * s * s) / s) - 1.0


def call_delta(S: float, sigma: float = 0.2, T: float = 1.0, K: float = 100.0) -> float:
    return put_delta(S, sigma, T, K) + 1.0


def one(is_call=False, strike=100.0, oi=1.0, underlying="TEST"):
    chain = make_chain([(strike, 1.0, is_call, 0.2, oi)], underlying=underlying)
    return Book(chain, model="classic", multiplier=100.0, rate=0.0, div_yield=0.0)


ES_ADV = UnderlyingSettings(es_multiplier=50.0, adv_shares=1e6)


# -- hand-computed scenarios ------------------------------------------------------------------
def test_spot_down_two_pct_dealer_short_put_sells_by_hand():
    r = whatif(one(), spot_pct=-2.0, settings=ES_ADV)
    shares = 100.0 * (put_delta(98.0) - PUT_DELTA)  # n = -1: -n M (delta' - delta)
    assert shares < 0  # short gamma: dealers sell into the fall
    assert r["flow_shares"] == pytest.approx(shares, rel=1e-9)
    assert r["flow_usd"] == pytest.approx(shares * 100.0, rel=1e-9)  # valued at today's S
    assert r["flow_usd_linear"] == pytest.approx(-GEX * -2.0, rel=1e-7)  # -(GEX x)
    assert r["flow_usd_linear"] == pytest.approx(-396.952548, rel=1e-7)
    assert r["dealers"] == "sell"
    # ES-equivalents: shares / es_multiplier = flow_usd / (50 S); % ADV: 100 shares / ADV
    assert r["flow_es_contracts"] == pytest.approx(shares / 50.0, rel=1e-9)
    assert r["flow_es_contracts"] == pytest.approx(r["flow_usd"] / (50.0 * 100.0), rel=1e-12)
    assert r["flow_pct_adv"] == pytest.approx(100.0 * shares / 1e6, rel=1e-9)
    assert r["spot"] == 100.0 and r["spot_after"] == pytest.approx(98.0)
    assert (r["spot_pct"], r["vol_pts"], r["days"]) == (-2.0, 0.0, 0.0)
    assert r["es_multiplier"] == 50.0 and r["adv_shares"] == 1e6


def test_mixed_scenario_spot_vol_days_by_hand():
    """Spot -2 %, vol +3 pts, 1 day: S' = 98, sigma' = 23 %, T' = 1 - 1/365."""
    r = whatif(one(), spot_pct=-2.0, vol_pts=3.0, days=1.0, settings=ES_ADV)
    T1 = 1.0 - 1.0 / 365.0
    shares = 100.0 * (put_delta(98.0, sigma=0.23, T=T1) - PUT_DELTA)
    assert r["flow_shares"] == pytest.approx(shares, rel=1e-9)
    assert r["flow_usd"] == pytest.approx(100.0 * shares, rel=1e-9)
    # linear: -(GEX (-2) + VEX 3 + CEX 1) = -(396.9525 - 59.5429 + 0.5438)
    linear = -(GEX * -2.0 + VEX * 3.0 + CEX * 1.0)
    assert linear == pytest.approx(-337.953, rel=1e-5)
    assert r["flow_usd_linear"] == pytest.approx(linear, rel=1e-6)
    # the vol rise makes the short-put dealer BUY back some of what the fall sells
    spot_only = whatif(one(), spot_pct=-2.0)["flow_usd"]
    assert spot_only < r["flow_usd"] < 0


def test_vol_only_and_days_only_signs():
    b = one()
    up = whatif(b, vol_pts=2.0)
    assert up["flow_usd"] > 0 and up["flow_usd_linear"] == pytest.approx(-VEX * 2.0, rel=1e-7)
    assert whatif(b, vol_pts=-2.0)["flow_usd"] < 0
    d = whatif(b, days=1.0)
    assert d["flow_usd_linear"] == pytest.approx(-CEX, rel=1e-6)  # dealers sell a little
    shares = 100.0 * (put_delta(100.0, T=1.0 - 1.0 / 365.0) - PUT_DELTA)
    assert d["flow_shares"] == pytest.approx(shares, rel=1e-8)


def test_dealer_long_call_buys_the_dip_by_hand():
    r = whatif(one(is_call=True), spot_pct=-2.0)
    shares = -100.0 * (call_delta(98.0) - N1)  # n = +1: -n M (delta' - delta)
    assert shares > 0 and r["dealers"] == "buy"
    assert r["flow_shares"] == pytest.approx(shares, rel=1e-9)
    assert r["flow_usd_linear"] == pytest.approx(198.476274 * 2.0, rel=1e-7)


def test_es_and_adv_null_when_not_configured():
    r = whatif(one(), spot_pct=-2.0)  # defaults: es_multiplier 0, adv_shares 0
    assert r["flow_es_contracts"] is None and r["flow_pct_adv"] is None
    assert r["es_multiplier"] is None and r["adv_shares"] is None
    # a full Settings: TEST is not configured (defaults), SPX is (es_multiplier 50)
    assert whatif(one(), -2.0, settings=Settings())["flow_es_contracts"] is None
    spx = whatif(one(underlying="SPX"), -2.0, settings=Settings())
    assert spx["flow_es_contracts"] == pytest.approx(spx["flow_shares"] / 50.0, rel=1e-12)


# -- curve and levels -------------------------------------------------------------------------
def test_curve_passes_through_the_scenario_and_gex_by_hand():
    b = one()
    r = whatif(b, spot_pct=-2.0, vol_pts=3.0, days=1.0)
    pcts = [p["spot_pct"] for p in r["curve"]]
    assert len(pcts) == 21 and pcts[0] == -5.0 and pcts[-1] == 5.0 and -2.0 in pcts
    assert r["curve_range"] == [-5.0, 5.0]
    at = r["curve"][pcts.index(-2.0)]
    assert at["flow_usd"] == pytest.approx(r["flow_usd"], rel=1e-12)
    assert at["flow_usd_linear"] == pytest.approx(r["flow_usd_linear"], rel=1e-12)
    assert at["spot"] == pytest.approx(98.0)
    for p in r["curve"]:
        assert p["flow_shares"] == pytest.approx(p["flow_usd"] / 100.0, rel=1e-12)
    # GEX on the curve: current IV and T at the moved spot, by hand at S' = 98:
    # n M gamma(98) S'^2 0.01 with gamma = phi(d1) / (S' sigma)
    d1 = (math.log(0.98) + 0.02) / 0.2
    phi = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    assert at["gex_usd_per_pct"] == pytest.approx(-100.0 * phi / (98 * 0.2) * 98**2 * 0.01,
                                                  rel=1e-9)
    mid = r["curve"][pcts.index(0.0)]
    assert mid["gex_usd_per_pct"] == pytest.approx(GEX, rel=1e-7)
    # pure spot curve: flat at the current spot, dealers sell below and buy above
    flat = whatif(b)
    f0 = flat["curve"][10]
    assert f0["spot_pct"] == 0.0 and f0["flow_usd"] == pytest.approx(0.0, abs=1e-9)
    assert all(p["flow_usd"] < 0 for p in flat["curve"][:10])
    assert all(p["flow_usd"] > 0 for p in flat["curve"][11:])


def test_scenario_off_the_grid_is_added_to_the_curve():
    r = whatif(one(), spot_pct=-2.25, curve_range=(-3.0, 3.0), curve_points=7)
    pcts = [p["spot_pct"] for p in r["curve"]]
    assert pcts == [-3.0, -2.25, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert r["curve"][1]["flow_usd"] == pytest.approx(r["flow_usd"], rel=1e-12)
    out = whatif(one(), spot_pct=-8.0)  # outside the range: not added
    assert len(out["curve"]) == 21


def test_levels_single_put_and_two_contract_book():
    r = whatif(one())
    assert r["zero_gamma"] is None and r["zero_gamma_distance_pct"] is None
    assert r["call_wall"] is None and r["put_wall"] == 100.0
    assert r["gex_usd_per_pct"] == pytest.approx(GEX, rel=1e-7)
    b = two()
    r2 = whatif(b)
    assert r2["call_wall"] == 110.0 and r2["put_wall"] == 90.0
    assert r2["zero_gamma"] is not None and 90.0 < r2["zero_gamma"] < 110.0


def two():
    """Dealers long 1 call K = 110 (OI 1), short 2 puts K = 90 (OI 2): GEX changes sign."""
    chain = make_chain([(110.0, 0.25, True, 0.2, 1.0), (90.0, 0.25, False, 0.2, 2.0)])
    return Book(chain, model="classic", multiplier=100.0, rate=0.0, div_yield=0.0)


def test_render_and_bad_arguments():
    r = whatif(one(), -2.0, 3.0, 1.0, settings=ES_ADV)
    text = render_whatif(r)
    assert "dealers SELL" in text and "ES equivalents" in text and "spot -2%" in text
    with pytest.raises(ValueError, match="days"):
        whatif(one(), days=-1.0)
    with pytest.raises(ValueError, match="spot_pct"):
        whatif(one(), spot_pct=-100.0)
    with pytest.raises(ValueError, match="curve points"):
        whatif(one(), curve_points=1)
    with pytest.raises(ValueError, match="curve range"):
        whatif(one(), curve_range=(5.0, -5.0))


# -- parsing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("-2%", -2.0), ("+1.5%", 1.5), ("-2", -2.0),
                                        (" 3 % ", 3.0), ("0", 0.0), ("-0.25%", -0.25)])
def test_parse_spot(text, value):
    assert parse_spot_pct(text) == value


@pytest.mark.parametrize("text,match", [("abc", "cannot read --spot"), ("2%%", "cannot read"),
                                        ("", "cannot read"), ("-100%", "-100"),
                                        ("nan", "cannot read"), ("5800", None)])
def test_parse_spot_errors(text, match):
    if match is None:  # a plain number is a percent: 5800 % is allowed (if silly)
        assert parse_spot_pct(text) == 5800.0
        return
    with pytest.raises(ValueError, match=match):
        parse_spot_pct(text)


def test_parse_vol_days_range():
    assert parse_vol_pts("+3") == 3.0 and parse_vol_pts("-2pts") == -2.0
    assert parse_vol_pts("1.5pt") == 1.5
    with pytest.raises(ValueError, match="without '%'"):
        parse_vol_pts("+3%")
    with pytest.raises(ValueError, match="cannot read --vol"):
        parse_vol_pts("up")
    assert parse_days("1") == 1.0 and parse_days("0.5") == 0.5 and parse_days("2d") == 2.0
    with pytest.raises(ValueError, match="0 or more"):
        parse_days("-1")
    with pytest.raises(ValueError, match="cannot read --days"):
        parse_days("tomorrow")
    assert parse_curve_range("-5:5") == (-5.0, 5.0)
    assert parse_curve_range("-10%..+3%") == (-10.0, 3.0)
    with pytest.raises(ValueError, match="LO:HI"):
        parse_curve_range("5")
    with pytest.raises(ValueError, match="below"):
        parse_curve_range("3:-3")


def test_missing_chain_file(tmp_path):
    with pytest.raises(ValueError, match="chain file not found"):
        book_from_chain(tmp_path / "nope.csv", Settings())


def test_chain_file_round_trip(tmp_path):
    """From a chain file: the book the live service would build; same numbers as a book
    built by hand with the same settings."""
    path = write_canonical(two().chain, tmp_path / "TEST.csv")
    settings = Settings()
    b = book_from_chain(path, settings)
    r = whatif(b, -2.0, settings=settings)
    assert r["source"] == {"kind": "chain", "chain_path": str(path), "checkpoint": None}
    assert r["flow_usd"] != 0.0
    direct = Book(b.chain, multiplier=100.0, rate=settings.pricing.rate)
    assert r["flow_usd"] == pytest.approx(whatif(direct, -2.0)["flow_usd"], rel=1e-12)


# -- the chart --------------------------------------------------------------------------------
def test_plot_writes_a_png(tmp_path):
    r = whatif(two(), spot_pct=-2.0, vol_pts=3.0, days=1.0, curve_range=(-15, 15),
               curve_points=61)
    out = plot_flow_curve(r, tmp_path / "flow.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a real chart, not an empty canvas
    # levels off the chart and missing levels are fine too
    r1 = whatif(one(), curve_range=(-1, 1))
    assert plot_flow_curve(r1, tmp_path / "one.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="cannot write chart"):
        plot_flow_curve(r1, tmp_path / "no_such_dir" / "x.png")


# -- live: Redis ------------------------------------------------------------------------------
@pytest.fixture
def live_settings(shared_redis):
    prefix = f"dealerflow_test_{uuid.uuid4().hex[:12]}"
    yield Settings(redis=RedisSettings(url=shared_redis, prefix=prefix))
    raw = Redis.from_url(shared_redis)
    keys = list(raw.scan_iter(match=f"{prefix}:*"))
    if keys:
        raw.delete(*keys)
    raw.close()


def publish(settings, root: str, state: dict, checkpoint: bytes | None) -> None:
    async def go():
        sink = RedisSink(settings.redis)
        assert await sink.start()
        await sink.publish(root, state, [])
        if checkpoint is not None:
            assert await sink.save_blob(root, "checkpoint", checkpoint)
        await sink.close()

    asyncio.run(go())


def test_live_book_from_state_and_checkpoint(tmp_path, live_settings):
    """The service's keys written from a book that moved away from its chain file (new
    spot and clock, a new quote, new open interest), read back through load_live: the
    rebuilt book gives the same what-if as the moved book itself."""
    settings = live_settings
    path = write_canonical(two().chain, tmp_path / "TEST.csv.gz")
    books = build_books(settings, [path])
    pipe = Pipeline(books, models=position_models(settings, books))
    s = pipe.states["TEST"]
    b = s.book
    put, call = (0, 1) if not b.c.is_call[0] else (1, 0)  # book rows (sorted by strike)
    s.clock_ns = b.now_ns + 3600 * 10**9
    b.oi[put] = 5.0  # the put's open interest: 2 -> 5
    s.reweight([put])
    b.update_quote(call, b.c.bid[call] * 1.1, b.c.ask[call] * 1.1)  # the call's IV rises
    b.refresh(now_ns=s.clock_ns, spot=101.0)  # the service's re-evaluation
    expected = whatif(b, -2.0, 3.0, 1.0, settings=settings)
    state = {"underlying": "TEST", "spot": b.spot, "as_of_ns": b.now_ns,
             "chain_path": str(path), "regimes": "short_gamma"}
    publish(settings, "TEST", state, encode_checkpoint(s.checkpoint()))

    live = load_live(settings, "test")
    assert live.checkpoint and live.notes == [] and live.state["regimes"] == "short_gamma"
    assert live.book.spot == 101.0 and live.book.now_ns == b.now_ns
    assert live.book.c.pos[put] == -5.0 and live.book.c.iv[call] == pytest.approx(b.c.iv[call])
    got = whatif(live.book, -2.0, 3.0, 1.0, settings=settings, source=live.source,
                 notes=live.notes)
    assert got["source"] == {"kind": "redis", "chain_path": str(path), "checkpoint": True}
    for key in ("flow_usd", "flow_usd_linear", "flow_shares", "gex_usd_per_pct",
                "zero_gamma", "spot"):
        assert got[key] == pytest.approx(expected[key], rel=1e-12), key
    assert [p["flow_usd"] for p in got["curve"]] == pytest.approx(
        [p["flow_usd"] for p in expected["curve"]], rel=1e-12)
    # the file alone would have said something else
    assert whatif(book_from_chain(path, settings), -2.0, 3.0, 1.0)["flow_usd"] != pytest.approx(
        got["flow_usd"], rel=1e-6)


def test_live_without_checkpoint_reprices_the_file_at_the_published_spot(tmp_path,
                                                                         live_settings):
    path = write_canonical(two().chain, tmp_path / "TEST.csv")
    clock = two().now_ns + 600 * 10**9
    publish(live_settings, "TEST", {"underlying": "TEST", "spot": 99.0, "as_of_ns": clock,
                                    "chain_path": str(path)}, None)
    live = load_live(live_settings, "TEST")
    assert not live.checkpoint and "no book checkpoint" in live.notes[0]
    assert live.book.spot == 99.0 and live.book.now_ns == clock
    r = whatif(live.book, -1.0, source=live.source, notes=live.notes)
    assert r["source"]["checkpoint"] is False and "no book checkpoint" in r["notes"][-1]


def test_live_errors(tmp_path, live_settings):
    with pytest.raises(ValueError, match="no published state for SPX"):
        load_live(live_settings, "SPX")  # nothing under this test's prefix
    publish(live_settings, "TEST", {"underlying": "TEST", "spot": 100.0}, None)
    with pytest.raises(ValueError, match="no chain_path"):
        load_live(live_settings, "TEST")
    publish(live_settings, "TEST", {"chain_path": str(tmp_path / "gone.csv")}, None)
    with pytest.raises(ValueError, match="chain file not found"):
        load_live(live_settings, "TEST")
    # a checkpoint of another chain (3 contracts) does not fit this one (2)
    path = write_canonical(two().chain, tmp_path / "TEST.csv")
    other = make_chain([(90.0, 0.25, False, 0.2, 1.0), (100.0, 0.25, False, 0.2, 1.0),
                        (110.0, 0.25, True, 0.2, 1.0)])
    ob = {"TEST": Book(other, multiplier=100.0)}
    cp = Pipeline(ob).states["TEST"].checkpoint()
    publish(live_settings, "TEST", {"chain_path": str(path)}, encode_checkpoint(cp))
    with pytest.raises(ValueError, match="does not fit chain file"):
        load_live(live_settings, "TEST")
    with pytest.raises(ValueError, match="needs an underlying root"):
        load_live(live_settings, " ")


def test_live_redis_down():
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = Settings(redis=RedisSettings(url=url, prefix="x"))
    with pytest.raises(ValueError, match=r"cannot read Redis at redis://127\.0\.0\.1"):
        load_live(settings, "SPX")
