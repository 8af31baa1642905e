"""Databento OPRA records -> ticks (monitor/sources/databento.py), on the vendor's real
sample records (tests/fixtures/databento, Apache-2.0) and on DBN files written with the
vendor's own record classes (tests/dbn_files.py)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pytest

from monitor.chain import load_chain
from monitor.sources.databento import DbnTranslator, chain_at_end, iter_ticks
from monitor.sources.dbn_file import read_dbn
from monitor.wire.schema import OpenInterest, OptionQuote, OptionTrade
from tests import dbn_files as W

FIX = Path(__file__).parents[1] / "fixtures" / "databento"
SYM = "AAPL250221C00250000"
PACKAGED_SPX = Path(__file__).parents[2] / "monitor" / "data" / "SPX_2026-08-21.csv.gz"


def _ticks(translator, name):
    return [t for ts in iter_ticks(read_dbn(FIX / f"test_data.{name}.dbn.zst"), translator)
            for t in ts]


def test_the_vendors_samples_decode_into_exactly_the_ticks_they_mean():
    tr = DbnTranslator()
    assert _ticks(tr, "definition") == []
    assert tr.instruments[16783963].symbol == SYM
    assert (tr.instruments[16783963].strike, tr.instruments[16783963].is_call) == (250.0, True)
    # open interest: four exchanges send 57,924; it is one open interest, not 4 x 57,924
    assert _ticks(tr, "statistics") == [OpenInterest("2025-02-20", SYM, 57924.0)]
    assert tr.counts["open_interest_repeat"] == 3
    # cbbo-1s: the first second had no quote (undefined bid/ask): no tick, counted
    assert _ticks(tr, "cbbo-1s") == [
        OptionQuote(1740061801000000000, SYM, 0.10, 0.25, 1.0, 4.0),
        OptionQuote(1740061802000000000, SYM, 0.18, 0.21, 5.0, 51.0),
        OptionQuote(1740061803000000000, SYM, 0.22, 0.24, 9.0, 13.0)]
    assert tr.counts["no_quote"] == 1
    # mbp-1 is one venue's book, never the consolidated quote
    assert _ticks(tr, "mbp-1") == []
    assert tr.counts["venue_quote"] == 4
    prints = [OptionTrade(1740061800817866523, SYM, 0.24, 1.0),
              OptionTrade(1740061801631988096, SYM, 0.20, 2.0),
              OptionTrade(1740061801644892784, SYM, 0.19, 1.0),
              OptionTrade(1740061801745727547, SYM, 0.19, 4.0)]
    assert _ticks(tr, "trades") == prints
    assert _ticks(tr, "tbbo") == prints  # trades alone: their book is one venue's
    assert tr.counts["unknown_instrument"] == 0


def test_records_without_a_definition_are_counted_never_guessed():
    tr = DbnTranslator()
    assert _ticks(tr, "cbbo-1s") == []
    assert tr.counts["unknown_instrument"] == 4
    assert "16783963" in tr.samples["unknown_instrument"]


def _translate(records, underlyings=None):
    tr = DbnTranslator(underlyings)
    return tr.translate_all(records), tr


def test_every_schema_in_one_file_in_and_out_of_order(tmp_path):
    c, p = "SPXW260821C07600000", "SPXW260821P07600000"
    ts = 1_787_000_000_000_000_000
    recs = [W.cmbp1(1, ts - 10, 5.0, 5.5),  # before its definition
            W.definition(1, c, ts), W.definition(2, p, ts + 1),
            W.definition(3, "QQQ260821C00500000", ts + 2),  # another underlying
            W.open_interest(1, 1200, ts + 3, 37), W.open_interest(1, 1200, ts + 3, 31),
            W.open_interest(1, 1300, ts + 3, 23),  # the same day, another quantity
            W.cmbp1(1, ts + 5, 10.0, 10.4, 3, 4), W.cbbo_1s(2, ts + 6, 8.0, 8.2),
            W.cmbp1(3, ts + 7, 1.0, 1.1),
            W.tcbbo(1, ts + 8, 10.4, 7, 10.1, 10.4),  # the quote in force, then the print
            W.cbbo_1s(2, ts + 9, float("nan"), float("nan")),  # an empty second
            W.cmbp1(99, ts + 10, 1.0, 1.1),  # an id never defined
            dbn.ErrorMsg(ts_event=ts + 11, err="Symbol resolution failed for FOO"),
            dbn.SystemMsg(ts_event=ts + 12, msg="Heartbeat"),
            dbn.SystemMsg(ts_event=ts + 13, msg="Subscription request 1 succeeded")]
    path = W.write(tmp_path / "all.dbn", recs)
    f = read_dbn(path)
    assert f.cut_bytes == 0 and len(f.records) == len(recs)
    tr = DbnTranslator(["SPX"])
    ticks = [t for ts_ in iter_ticks(f, tr) for t in ts_]
    assert ticks == [OpenInterest("2026-08-17", c, 1200.0),
                     OptionQuote(ts + 5, c, 10.0, 10.4, 3.0, 4.0),
                     OptionQuote(ts + 6, p, 8.0, 8.2, 1.0, 1.0),
                     OptionQuote(ts + 8, c, 10.1, 10.4, 5.0, 5.0),
                     OptionTrade(ts + 8, c, 10.4, 7.0)]
    assert dict(tr.counts) == {"unknown_instrument": 2, "other_underlying": 1,
                               "open_interest_repeat": 1, "open_interest_conflict": 1,
                               "no_quote": 1, "vendor_error": 1, "vendor_system": 2}
    # the heartbeat is counted only; the error and the acknowledgement are for the log
    assert tr.vendor_messages == [
        ("vendor_error", "Symbol resolution failed for FOO (code unset)"),
        ("vendor_system", "Subscription request 1 succeeded (code unset)")]


def test_definition_update_delisting_and_a_mismatch():
    ts = 1_787_000_000_000_000_000
    c = "SPXW260821C07600000"
    ticks, tr = _translate([
        W.definition(1, c, ts),
        W.cmbp1(1, ts + 1, 10.0, 10.4),
        # the strike of id 1 changes: the symbol is the new one's, the old quote forgotten
        W.definition(1, "SPXW260821C07650000", ts + 2, dbn.SecurityUpdateAction.MODIFY),
        W.cmbp1(1, ts + 3, 10.0, 10.4),
        W.definition(1, "SPXW260821C07650000", ts + 4, dbn.SecurityUpdateAction.DELETE),
        W.cmbp1(1, ts + 5, 9.0, 9.4),  # after the delisting
        # class put, symbol a call: the OSI symbol is what counts
        W.definition(2, "SPXW260821C07700000", ts + 6, is_call=False),
        W.definition(3, "SPXW260821C07700000", ts + 7, strike=7701.0)])
    assert ticks == [OptionQuote(ts + 1, c, 10.0, 10.4, 10.0, 10.0),
                     OptionQuote(ts + 3, "SPXW260821C07650000", 10.0, 10.4, 10.0, 10.0)]
    assert dict(tr.counts) == {"definition_update": 1, "delisted": 1,
                               "unknown_instrument": 1, "definition_mismatch": 2}
    assert tr.instruments[2].is_call and tr.instruments[3].strike == 7700.0


def test_sentinel_and_bad_prices_are_counted_not_numbers():
    ts = 1_787_000_000_000_000_000
    c = "SPXW260821C07600000"
    ticks, tr = _translate([
        W.definition(1, c, ts), W.cmbp1(1, ts + 1, float("nan"), 10.0),
        W.cmbp1(1, ts + 2, -1.0, 10.0), W.tcbbo(1, ts + 3, float("nan"), 1, 9.0, 10.0)])
    assert ticks == [OptionQuote(ts + 3, c, 9.0, 10.0, 5.0, 5.0)]
    assert dict(tr.counts) == {"no_quote": 1, "bad_price": 2}


def test_a_file_cut_mid_record_keeps_the_whole_records_and_says_so(tmp_path):
    ts = 1_787_000_000_000_000_000
    recs = [W.definition(1, "SPXW260821C07600000", ts), W.cmbp1(1, ts + 1, 1.0, 1.2),
            W.cmbp1(1, ts + 2, 1.1, 1.2)]
    whole = W.metadata() + b"".join(bytes(r) for r in recs)
    path = tmp_path / "cut.dbn"
    path.write_bytes(whole[:-7])
    f = read_dbn(path)
    assert len(f.records) == 2 and f.cut_bytes == len(bytes(recs[-1])) - 7
    tr = DbnTranslator()
    assert len([t for ts_ in iter_ticks(f, tr) for t in ts_]) == 1
    assert tr.counts["cut_record"] == 1 and "cut.dbn" in tr.samples["cut_record"]


def _snapshot(*args) -> dict:
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "snapshot", *map(str, args),
                          "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


TOTALS = ("dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day",
          "zero_gamma", "call_wall", "put_wall")


@pytest.fixture(scope="module")
def spx_dbn(tmp_path_factory):
    """The packaged real SPX chain (CBOE, 2026-08-21) as OPRA records: definitions, open
    interest from three venues, one consolidated quote per two-sided contract."""
    chain = load_chain(PACKAGED_SPX)
    path = W.write(tmp_path_factory.mktemp("dbn") / "spx.dbn.zst".replace(".zst", ""),
                   W.chain_records(chain))
    return chain, path


def test_snapshot_of_a_dbn_file_equals_the_chains_at_the_same_spot(spx_dbn):
    chain, path = spx_dbn
    got = _snapshot(path, "--spot", chain.spot)
    want = _snapshot(PACKAGED_SPX, "--spot", chain.spot)
    assert got["contracts_total"] == want["contracts_total"] == len(chain)
    assert got["contracts_used"] == want["contracts_used"] > 0.9 * len(chain)
    assert got["as_of"] == want["as_of"]
    for key in TOTALS:
        assert got[key] == pytest.approx(want[key], rel=1e-9), key
    assert got["spot_source"] == want["spot_source"] == "given (--spot)"


def test_snapshot_of_a_dbn_file_implies_the_spot_from_parity(spx_dbn):
    chain, path = spx_dbn
    got = _snapshot(path)
    want = _snapshot(PACKAGED_SPX)
    assert got["spot_source"].startswith("implied_parity (")
    assert want["spot_source"] == "chain file"
    assert abs(got["spot"] / chain.spot - 1) < 1e-3
    assert got["gex_usd_per_pct"] == pytest.approx(want["gex_usd_per_pct"], rel=0.01)
    assert abs(got["zero_gamma"] - want["zero_gamma"]) < 1e-3 * chain.spot


def test_chain_at_end_refuses_what_it_cannot_use(tmp_path):
    not_dbn = tmp_path / "x.dbn"
    not_dbn.write_text("strike,bid\n")
    with pytest.raises(Exception, match="not a DBN file"):
        read_dbn(not_dbn)
    ts = 1_787_000_000_000_000_000
    two = W.write(tmp_path / "two.dbn", [W.definition(1, "SPXW260821C07600000", ts),
                                         W.definition(2, "QQQ260821C00500000", ts)])
    with pytest.raises(Exception, match=r"2 underlyings \(QQQ, SPX\); name one"):
        chain_at_end(two)
    chain, _ = chain_at_end(two, underlying="QQQ")
    assert chain.symbols() == ["QQQ260821C00500000"] and chain.spot != chain.spot
    none = W.write(tmp_path / "none.dbn", [W.cmbp1(1, ts, 1.0, 1.1)])
    with pytest.raises(Exception, match="no option definitions"):
        chain_at_end(none)


def test_the_docs_list_every_reason():
    from monitor.sources.databento import REASONS
    text = (Path(__file__).parents[2] / "docs" / "databento.md").read_text()
    for reason, meaning in REASONS.items():
        assert f"| `{reason}` | {meaning} |" in text, reason


def test_an_expiration_unset_or_a_day_early_and_a_quote_repeated():
    ts = 1_787_000_000_000_000_000
    c = "SPXW260821C07600000"
    day_early = int(np.datetime64("2026-08-20", "ns").astype(np.int64))
    ticks, tr = _translate([
        W.definition(1, c, ts, expiration=dbn.UNDEF_TIMESTAMP),  # unset: the symbol's date
        W.definition(2, "SPXW260821P07600000", ts, expiration=day_early),  # contradicts it
        W.cmbp1(1, ts + 1, 10.0, 10.4),
        W.cmbp1(1, ts + 2, 10.0, 10.4),  # the quote in force again: no new tick
        W.cmbp1(1, ts + 3, 10.0, float("nan")),  # no ask: no quote
        W.cmbp1(1, ts + 4, 10.1, 10.4)])
    assert ticks == [OptionQuote(ts + 1, c, 10.0, 10.4, 10.0, 10.0),
                     OptionQuote(ts + 4, c, 10.1, 10.4, 10.0, 10.0)]
    assert dict(tr.counts) == {"definition_mismatch": 1, "no_quote": 1}
    assert "expiration 2026-08-20" in tr.samples["definition_mismatch"]
    assert tr.instruments[1].expiry == tr.instruments[2].expiry == dt.date(2026, 8, 21)


def test_a_dbn_file_is_known_by_its_bytes_under_any_name(tmp_path):
    import zstandard

    from monitor.sources.dbn_file import is_dbn
    raw = W.metadata() + bytes(W.definition(1, "SPXW260821C07600000", 1))
    (tmp_path / "plain.bin").write_bytes(raw)
    (tmp_path / "packed.bin").write_bytes(zstandard.ZstdCompressor().compress(raw))
    (tmp_path / "chain.csv").write_text("strike,dte,cp\n")
    (tmp_path / "other.zst").write_bytes(zstandard.ZstdCompressor().compress(b"strike,dte"))
    assert [is_dbn(tmp_path / n) for n in ("plain.bin", "packed.bin", "chain.csv",
                                           "other.zst")] == [True, True, False, False]


def test_open_interest_dates_at_new_york_midnight_and_counts():
    # 2026-08-21 04:00:00 UTC is midnight in New York (EDT): one second before and one
    # after are two days' open interest, each taken once
    mid = int(dt.datetime(2026, 8, 21, 4, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    c = "SPXW260821C07600000"
    recs = [W.definition(1, c, mid - 5 * 10**9),
            W.open_interest(1, 100, mid - 10**9, 31), W.open_interest(1, 100, mid - 10**9, 23),
            W.open_interest(1, 120, mid + 10**9, 31)]
    ticks, tr = _translate(recs)
    assert ticks == [OpenInterest("2026-08-20", c, 100.0), OpenInterest("2026-08-21", c, 120.0)]
    assert tr.records == 4 and dict(tr.counts) == {"open_interest_repeat": 1}


def test_a_strike_changed_downward_is_a_definition_update_and_no_oi_is_zero(tmp_path):
    ts = 1_787_000_000_000_000_000
    _, tr = _translate([W.definition(1, "SPXW260821C07600000", ts),
                        W.definition(1, "SPXW260821C07550000", ts + 1,
                                     dbn.SecurityUpdateAction.MODIFY)])
    assert dict(tr.counts) == {"definition_update": 1}
    path = W.write(tmp_path / "x.dbn", [W.definition(1, "SPXW260821C07600000", ts),
                                        W.cmbp1(1, ts + 1, 10.0, 10.4)])
    chain, _ = chain_at_end(path, spot=7600.0)
    assert chain.oi.tolist() == [0.0]  # no open-interest record: none held


def test_a_file_of_nine_underlyings_names_the_first_eight(tmp_path):
    ts = 1_787_000_000_000_000_000
    roots = ["AAPL", "AMZN", "GOOG", "META", "MSFT", "NVDA", "QQQ", "SPY", "TSLA"]
    path = W.write(tmp_path / "nine.dbn", [W.definition(i, f"{r}260821C00500000", ts)
                                           for i, r in enumerate(roots, 1)])
    with pytest.raises(Exception, match=r"9 underlyings \(AAPL, AMZN, GOOG, META, MSFT, "
                                        r"NVDA, QQQ, SPY\); name one"):
        chain_at_end(path)


def test_a_definition_sent_again_unchanged_is_no_update():
    # the vendor re-sends a definition (MODIFY) with the same symbol: the id keeps its
    # quote and open interest, nothing is counted
    ts = 1_787_000_000_000_000_000
    tr = DbnTranslator(["SPX"])
    sym = "SPXW260821C07600000"
    for r in (W.definition(1, sym, ts), W.cmbp1(1, ts + 1, 10.0, 10.4),
              W.definition(1, sym, ts + 2, action=dbn.SecurityUpdateAction.MODIFY)):
        tr.translate(r)
    assert tr.counts["definition_update"] == 0
    assert tr.quotes[1][1:] == (10.0, 10.4)


def test_errors_are_collected_until_taken_and_only_when_asked():
    ts = 1_787_000_000_000_000_000
    tr = DbnTranslator(["SPX"], collect_errors=True)
    assert tr.last_ts_recv == 0 and tr.take_errors() == []
    tr.translate(W.cmbp1(7, ts + 5, 1.0, 1.1))  # no definition
    tr.translate(W.cmbp1(7, ts + 2, 1.0, 1.1))  # (out of order: the newest time is kept)
    assert [r for r, _ in tr.take_errors()] == ["unknown_instrument"] * 2
    assert tr.last_ts_recv == ts + 5
    assert tr.take_errors() == []
    tr.translate(W.cmbp1(8, ts + 6, 1.0, 1.1))
    assert [r for r, _ in tr.take_errors()] == ["unknown_instrument"]  # still collecting
    plain = DbnTranslator(["SPX"])
    plain.translate(W.cmbp1(7, ts, 1.0, 1.1))
    assert plain.take_errors() == [] and plain.counts["unknown_instrument"] == 1


def test_a_cmbp1_trade_a_bad_symbol_a_negative_ask_and_a_smaller_repeat_of_oi():
    ts = 1_787_000_000_000_000_000
    sym = "SPXW260821C07600000"
    tr = DbnTranslator(["SPX"])
    tr.translate(W.definition(1, sym, ts))
    # a cmbp-1 record whose action is a trade: the quote in force, then the print
    rec = dbn.CMBP1Msg(rtype=dbn.RType.CMBP_1, publisher_id=W.CONSOLIDATED, instrument_id=1,
                       ts_event=ts + 1, price=W._px(10.3), size=2, action=dbn.Action.TRADE,
                       side=dbn.Side.NONE, ts_recv=ts + 1,
                       levels=dbn.ConsolidatedBidAskPair(bid_px=W._px(10.2), ask_px=W._px(10.4),
                                                         bid_sz=1, ask_sz=1))
    assert [type(t).__name__ for t in tr.translate(rec)] == ["OptionQuote", "OptionTrade"]
    # an ask of -0.5 is a bad price, not a quote
    assert tr.translate(W.cmbp1(1, ts + 2, 1.0, -0.5)) == []
    assert tr.counts["bad_price"] == 1
    # open interest 5000 then 4000 the same day: a conflict (the first kept), not a repeat
    tr.translate(W.open_interest(1, 5000, ts + 3, W.OI_PUBLISHERS[0]))
    tr.translate(W.open_interest(1, 4000, ts + 4, W.OI_PUBLISHERS[1]))
    assert (tr.counts["open_interest_conflict"], tr.counts["open_interest_repeat"]) == (1, 0)
    assert tr.open_interest[1] == 5000
    # a definition whose raw symbol is no OSI symbol: counted, not raised
    good = W.definition(2, sym, ts)
    bad = dbn.InstrumentDefMsg(
        publisher_id=W.CONSOLIDATED, instrument_id=2, ts_event=ts, ts_recv=ts,
        min_price_increment=dbn.UNDEF_PRICE, display_factor=dbn.UNDEF_PRICE,
        raw_symbol="NOT AN OSI SYMBOL", asset="SPXW", security_type="OPT",
        instrument_class=dbn.InstrumentClass.CALL, expiration=good.expiration,
        security_update_action=dbn.SecurityUpdateAction.ADD, strike_price=good.strike_price,
        exchange="OPRA", underlying="SPXW", currency="USD",
        strike_price_currency="USD")
    tr.translate(bad)
    assert tr.counts["bad_symbol"] == 1 and 2 not in tr.instruments


def test_a_folder_or_a_missing_file_is_no_dbn_file(tmp_path):
    from monitor.sources.dbn_file import is_dbn
    # judged by name first; a name that does not say is read, and unreadable is no
    assert is_dbn(tmp_path) is False and is_dbn(tmp_path / "missing.bin") is False


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_a_file_read_over_its_bytes_gives_what_its_record_objects_give(tmp_path, chunk):
    """`OpraTicks.file_ticks` (quote runs read as arrays of the file's bytes, in chunks of
    any size) against `OpraTicks.ticks` of the same records as the vendor's objects: the
    same ticks (implied spots included), the same counts and contexts, on the simulated
    session and on every schema in and out of order."""
    from monitor.config import Settings
    from monitor.sources.opra_ticks import OpraTicks
    from monitor.wire.columns import objects
    from monitor.wire.schema import UnderlyingTick
    c, p = "SPXW260821C07600000", "SPXW260821P07600000"
    ts = 1_787_000_000_000_000_000
    edge = W.write(tmp_path / "edge.dbn", [
        W.cmbp1(1, ts - 10, 5.0, 5.5), W.definition(1, c, ts), W.definition(2, p, ts + 1),
        W.definition(3, "QQQ260821C00500000", ts + 2), W.cmbp1(3, ts + 3, 1.0, 1.1),
        W.cmbp1(1, ts + 5, 10.0, 10.4), W.cmbp1(1, ts + 6, -1.0, 10.4),
        W.tcbbo(1, ts + 8, float("nan"), 7, 10.1, 10.4), W.cbbo_1s(2, ts + 9, 8.0, 8.2),
        dbn.ErrorMsg(ts_event=ts + 11, err="an error"), W.cmbp1(99, ts + 12, 1.0, 1.1),
        W.definition(2, p, ts + 13, action=dbn.SecurityUpdateAction.DELETE),
        W.cbbo_1s(2, ts + 14, 8.1, 8.2)])
    session, _ = W.simulated_session(tmp_path, seconds_x400=20)  # (3.2 s of event time)
    for path in (edge, session):
        f = read_dbn(path)
        by_bytes, by_objects = OpraTicks(Settings(), ["SPX"]), OpraTicks(Settings(), ["SPX"])
        got = [t for a in range(0, len(f), chunk)
               for t in objects(by_bytes.file_ticks(f, a, min(a + chunk, len(f))))]
        want = objects(by_objects.ticks(f.records))
        assert got == want
        assert by_bytes.tr.take_errors() == by_objects.tr.take_errors()
        assert by_bytes.tr.counts == by_objects.tr.counts
        assert by_bytes.tr.records == by_objects.tr.records == len(f)
    # (the session's spots are implied: the rule that stops a quote run was exercised)
    assert sum(type(t) is UnderlyingTick for t in got) >= 3
    assert by_bytes.tr.counts["open_interest_repeat"] > 0


def test_a_quote_moved_on_one_side_and_a_trade_at_a_negative_price():
    ts = 1_787_000_000_000_000_000
    c = "SPXW260821C07600000"
    tr = DbnTranslator(["SPX"])
    tr.translate(W.definition(1, c, ts))
    assert tr.translate(W.cmbp1(1, ts + 1, 10.0, 10.4)) == [
        OptionQuote(ts + 1, c, 10.0, 10.4, 10.0, 10.0)]
    # the bid unchanged, the ask moved: a new quote (only both sides equal are the same)
    assert tr.translate(W.cmbp1(1, ts + 2, 10.0, 10.6)) == [
        OptionQuote(ts + 2, c, 10.0, 10.6, 10.0, 10.0)]
    assert tr.translate(W.cmbp1(1, ts + 3, 9.8, 10.6)) == [
        OptionQuote(ts + 3, c, 9.8, 10.6, 10.0, 10.0)]
    # a print at a negative price: its quote is taken, the print is bad_price
    assert tr.translate(W.tcbbo(1, ts + 4, -0.5, 3, 9.9, 10.6)) == [
        OptionQuote(ts + 4, c, 9.9, 10.6, 5.0, 5.0)]
    assert tr.counts["bad_price"] == 1
    assert tr.samples["bad_price"] == f"{c} trade -0.5 x 3"


def test_the_implied_spot_is_due_exactly_one_second_after_the_last():
    """Quote records one second apart to the nanosecond: a spot at each (the rule is
    ts_recv - last >= 1 s), computed from the quotes in force at that record."""
    from monitor.config import Settings
    from monitor.sources.opra_ticks import OpraTicks
    from monitor.wire.columns import objects
    from monitor.wire.schema import UnderlyingTick
    ts = 1_787_000_000_000_000_000
    opra = OpraTicks(Settings(), ["SPX"])
    # three pairs whose parity forward is 7,600 (C - P = 7,600 - K); ids: call, put
    quotes = {7550: ((100.0, 101.0), (50.0, 51.0)), 7600: ((60.0, 61.0), (60.0, 61.0)),
              7650: ((30.0, 31.0), (80.0, 81.0))}
    recs, ids = [], {}
    for n, (k, (call, put)) in enumerate(quotes.items()):
        ids[k] = (1 + 2 * n, 2 + 2 * n)
        recs += [W.definition(ids[k][0], f"SPXW260821C0{k}000", ts),
                 W.definition(ids[k][1], f"SPXW260821P0{k}000", ts),
                 W.cmbp1(ids[k][0], ts + 1, *call), W.cmbp1(ids[k][1], ts + 1, *put)]
    s = ts + 1  # the first quote: a spot is tried (too few pairs yet), the clock starts
    recs += [W.cmbp1(ids[7550][1], s + 10**9, 50.0, 51.2),  # due: spot 1
             W.cmbp1(ids[7550][0], s + 2 * 10**9 - 1, 100.2, 101.2),  # not yet due
             W.tcbbo(ids[7600][0], s + 2 * 10**9, 61.2, 2, 60.2, 61.2)]  # due to the
    # nanosecond: a print with its quote
    ticks = objects(opra.ticks(recs))
    assert [t.price for t in ticks if type(t) is OptionTrade] == [61.2]  # once
    spots = [t for t in ticks if type(t) is UnderlyingTick]
    assert [t.ts_ns for t in spots] == [s + 10**9, s + 2 * 10**9]
    # by hand, each pair's forward K + (C - P) / df, df = exp(-r T) = 0.99956 (r 4 %, four
    # days): spot 1 from 7,599.92 / 7,600 / 7,599.98, the median 7,599.98; spot 2 with the
    # due record's own quote from 7,600.12 / 7,600.20 / 7,599.98, the median 7,600.12: up
    # 0.144 (times exp(-(r - q) T), 0.9997). Without that quote the median would be
    # 7,600.00, up 0.022.
    assert 0.14 < spots[1].last - spots[0].last < 0.15
