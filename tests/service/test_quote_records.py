"""Quotes as fixed-width records take the vectorized path; it must end where the
per-tick path ends, with the same counts by reason."""

import copy
import math

import numpy as np

from monitor.ingest import Pipeline
from monitor.wire.codec import decode, encode
from monitor.wire.columns import QUOTE, TickColumns
from monitor.wire.schema import OptionQuote, UnderlyingTick
from tests.service.helpers import session_ticks
from tests.service.test_pipeline import BASE, ROW, SYM, TS


def bad_quotes():
    return [
        OptionQuote(ts_ns=TS + 9, symbol=SYM, bid=math.nan, ask=1.0),
        OptionQuote(ts_ns=TS + 9, symbol=SYM, bid=5.0, ask=4.0),
        OptionQuote(ts_ns=TS + 9, symbol=SYM, bid=-1.0, ask=4.0),
        OptionQuote(ts_ns=TS + 9, symbol="SPXW991231C09999000", bid=1.0, ask=2.0),
        OptionQuote(ts_ns=TS - 10**12, symbol=SYM, bid=0.1, ask=0.2),  # stale
        OptionQuote(ts_ns=TS + 10, symbol=SYM[:-15].ljust(6) + SYM[-15:],  # padded form
                    bid=BASE.c.bid[ROW] * 1.01, ask=BASE.c.ask[ROW] * 1.01),
    ]


def as_records(ticks, size=300):
    """The same stream, quotes as record blocks (decoded from real messages)."""
    out, run = [], []
    for t in ticks + [None]:
        if isinstance(t, OptionQuote):
            run.append(t)
            if len(run) < size:
                continue
        if run:
            out.extend(decode(encode(run, "records"), "records").ticks)
            run = []
        if t is not None and not isinstance(t, OptionQuote):
            out.append(t)
    return out


def test_record_blocks_end_where_ticks_end():
    ticks = [t for t in session_ticks(20000, seed=4) if isinstance(t, (OptionQuote,
                                                                         UnderlyingTick))]
    ticks = ticks[:10000] + bad_quotes() + ticks[10000:]
    a = Pipeline({"SPX": copy.deepcopy(BASE)})
    b = Pipeline({"SPX": copy.deepcopy(BASE)})
    a.apply(ticks)
    blocks = as_records(ticks)
    assert any(isinstance(t, TickColumns) for t in blocks)
    b.apply(blocks)
    a.final_refresh()
    b.final_refresh()
    ba, bb = a.states["SPX"].book, b.states["SPX"].book
    assert np.array_equal(ba.c.bid, bb.c.bid, equal_nan=True)
    assert np.array_equal(ba.c.ask, bb.c.ask, equal_nan=True)
    assert ba.totals == bb.totals
    assert a.counts.rejected == b.counts.rejected
    assert a.counts.ticks == b.counts.ticks
    reasons = {r for (_, r) in b.counts.rejected}
    assert reasons == {"nan", "crossed", "negative_price", "unknown_symbol"}
    assert b.counts.ticks[("SPX", "quote", "stale")] >= 1


def test_records_message_round_trip_and_malformed_body():
    q = [OptionQuote(ts_ns=1, symbol="SPXW260821C07600000", bid=1.0, ask=1.25, bid_size=3,
                     ask_size=4)]
    (block,) = decode(encode(q, "records"), "records").ticks
    assert block.kind.tolist() == [QUOTE] and [block.tick(0)] == q
    res = decode(encode(q, "records")[:-3], "records")
    assert res.ticks == [] and res.errors[0][0] == "malformed"
    res = decode(b"{not records}", "records")
    assert res.errors[0][0] == "malformed"


def test_records_quotes_move_the_time_window_as_objects_do():
    """A quote accepted from a records message advances its underlying's event clock for
    the next one, as it does when it comes as an object: with a 300 s skew, quotes at the
    clock + 200 s and then + 450 s (250 s after the first) are both inside the window."""
    ref, p = (Pipeline({"SPX": copy.deepcopy(BASE)}, columns=c) for c in (False, True))
    assert ref.states["SPX"].skew_ns == 300 * 10**9  # the default the case is built on
    c0, s = ref.states["SPX"].clock_ns, 10**9
    assert c0 == p.states["SPX"].clock_ns > 0
    b, a = BASE.c.bid[ROW], BASE.c.ask[ROW]
    qs = [OptionQuote(ts_ns=c0 + 200 * s, symbol=SYM, bid=b, ask=a),
          OptionQuote(ts_ns=c0 + 450 * s, symbol=SYM, bid=b * 1.01, ask=a * 1.01)]
    assert ref.apply(qs) == 2
    assert p.apply(decode(encode(qs, "records"), "records").ticks) == 2
    assert p.states["SPX"].clock_ns == ref.states["SPX"].clock_ns == c0 + 450 * s
    assert p.states["SPX"].book.c.bid[ROW] == ref.states["SPX"].book.c.bid[ROW] == b * 1.01
    assert not p.counts.rejected
