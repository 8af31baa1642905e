"""Trade classification by hand (REFERENCE.md, ``flow``) and what a classified print does
to the dealers: a customer buy makes the dealers short that many contracts, a customer
sell long; customer put selling is what the exhaustion regime reads."""

import copy
import math

import pytest

from monitor.pipeline import Pipeline, classify_print
from monitor.wire.schema import OptionQuote, OptionTrade
from tests.service.test_pipeline import BASE, TS


@pytest.mark.parametrize("price,bid,ask,last,side", [
    (2.10, 2.00, 2.10, None, +1),   # at the ask: customer buy
    (2.20, 2.00, 2.10, None, +1),   # through the ask
    (2.00, 2.00, 2.10, None, -1),   # at the bid: customer sell
    (1.95, 2.00, 2.10, None, -1),   # through the bid
    (2.08, 2.00, 2.10, None, +1),   # inside, above the midpoint 2.05
    (2.02, 2.00, 2.10, None, -1),   # inside, below it
    (2.05, 2.00, 2.10, 2.00, +1),   # at the midpoint, uptick from the previous print
    (2.05, 2.00, 2.10, 2.10, -1),   # at the midpoint, downtick
    (2.05, 2.00, 2.10, 2.05, 0),    # at the midpoint, no tick: unclassified
    (2.05, 2.00, 2.10, None, 0),    # at the midpoint, no previous print
    (2.05, math.nan, 2.10, None, 0),  # no quote to judge against
    (2.05, 2.20, 2.10, None, 0),    # crossed quote
    (0.05, 0.00, 0.00, None, 0),    # no ask
])
def test_classify_print_by_hand(price, bid, ask, last, side):
    assert classify_print(price, bid, ask, last) == side


def _put_row():
    c = BASE.c
    for i in range(len(c.strike)):
        if not c.is_call[i] and c.status[i] == 0 and c.bid[i] > 1.0 and c.ask[i] > c.bid[i]:
            return i
    raise AssertionError("no quoted put")


def test_classified_prints_move_the_flow_positions_and_put_selling():
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    bid, ask = float(BASE.c.bid[i]), float(BASE.c.ask[i])
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, models={"SPX": ("flow", "classic")})
    s = p.states["SPX"]
    pos0 = float(s.book.c.pos[i])
    p.apply([OptionQuote(ts_ns=TS, symbol=sym, bid=bid, ask=ask),
             OptionTrade(ts_ns=TS + 1, symbol=sym, price=bid, size=30.0),   # customer sells 30
             OptionTrade(ts_ns=TS + 2, symbol=sym, price=ask, size=10.0),   # customer buys 10
             OptionTrade(ts_ns=TS + 3, symbol=sym, price=0.5 * (bid + ask), size=5.0)])
    # the midpoint print follows a downtick (ask -> mid): a customer sell
    assert (s.classified, s.unclassified) == (3, 0)
    dealer = +30.0 - 10.0 + 5.0  # dealers buy what customers sell
    assert s.flow_pos[i] == pytest.approx(dealer)
    assert s.customer_puts_sold == pytest.approx(dealer)
    # the flow model: the base model's position plus the dealers' running flow
    assert float(s.book.c.pos[i]) == pytest.approx(pos0 + dealer)


def test_classic_model_keeps_positions_but_counts_the_flow():
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    bid = float(BASE.c.bid[i])
    p = Pipeline({"SPX": copy.deepcopy(BASE)})
    s = p.states["SPX"]
    pos0 = float(s.book.c.pos[i])
    p.apply([OptionTrade(ts_ns=TS + 1, symbol=sym, price=bid, size=7.0)])
    assert s.customer_puts_sold == pytest.approx(7.0)
    assert float(s.book.c.pos[i]) == pos0
