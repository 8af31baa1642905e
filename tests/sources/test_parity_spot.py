"""The spot implied from the consolidated quotes of OPRA records (ParitySpot), by hand:
at r = q = 0 every pair's forward is K + C - P and the spot is that forward, so pairs
quoted with C - P = 6,410 - K imply 6,410; fewer than three pairs in the expiry imply
nothing. The instrument map it reads can change under it (a re-mapped id): the spot
follows the map as it is at the record."""

import databento_dbn as dbn

from monitor.sources.databento import DbnTranslator
from monitor.sources.parity_spot import ParitySpot
from tests import dbn_files as W

TS = 1_787_151_600_000_000_000  # 2026-08-19 15:00 UTC; the expiry 2026-09-18 is 30 days out


def _sym(cp: str, k: int) -> str:
    return f"SPXW260918{cp}{k * 1000:08d}"


def _feed(tr, recs):
    for r in recs:
        tr.translate(r)


def test_the_spot_follows_a_re_mapped_id():
    tr = DbnTranslator(["SPX"])
    ps = ParitySpot(tr, "SPX", rate_at=lambda T: 0.0, div_yield=0.0, n_pairs=3, every_ns=1)
    # puts at 6300/6400/6500 (mid 50, 50, 130), calls at 6300/6400 (mid 160, 60): C - P =
    # 110 and 10, forwards 6410 and 6410; id 7 is a call at 6700 with no put: unpaired
    defs = [(1, "P", 6300), (2, "P", 6400), (3, "P", 6500), (4, "C", 6300), (5, "C", 6400),
            (7, "C", 6700)]
    mids = {1: 50.0, 2: 50.0, 3: 130.0, 4: 160.0, 5: 60.0, 7: 40.0}
    _feed(tr, [W.definition(i, _sym(cp, k), TS) for i, cp, k in defs])
    _feed(tr, [W.cmbp1(i, TS + 1, m - 0.5, m + 0.5) for i, m in mids.items()])
    assert ps.at(TS + 2) is None  # two pairs only
    # id 7 re-mapped to the 6500 call (C - P = 40 - 130 = -90: forward 6410), quoted again
    _feed(tr, [W.definition(7, _sym("C", 6500), TS + 3, action=dbn.SecurityUpdateAction.MODIFY),
               W.cmbp1(7, TS + 4, 39.5, 40.5)])
    assert tr.counts["definition_update"] == 1
    assert abs(ps.at(TS + 5) - 6410.0) < 1e-9
    # the 6300 call delisted alone: two pairs (its last quote is still held; the map is not)
    delete = dbn.SecurityUpdateAction.DELETE
    _feed(tr, [W.definition(4, _sym("C", 6300), TS + 5, action=delete)])
    assert ps.at(TS + 5) is None
    _feed(tr, [W.definition(4, _sym("C", 6300), TS + 5), W.cmbp1(4, TS + 5, 159.5, 160.5)])
    assert abs(ps.at(TS + 5) - 6410.0) < 1e-9
    # the 6400 call's id re-defined as another underlying's contract: out of the map too
    _feed(tr, [W.definition(5, "NDX260918C20000000", TS + 5,
                            action=dbn.SecurityUpdateAction.MODIFY)])
    assert ps.at(TS + 5) is None
    _feed(tr, [W.definition(5, _sym("C", 6400), TS + 5), W.cmbp1(5, TS + 5, 59.5, 60.5)])
    assert abs(ps.at(TS + 5) - 6410.0) < 1e-9
    # the 6300 put delisted and a 6200 put listed in the same moment (the map's size
    # unchanged): two pairs, no spot from this expiry (the last one kept)
    _feed(tr, [W.definition(1, _sym("P", 6300), TS + 6, action=dbn.SecurityUpdateAction.DELETE),
               W.definition(8, _sym("P", 6200), TS + 6), W.cmbp1(8, TS + 6, 29.5, 30.5)])
    assert ps.at(TS + 7) is None and ps.spot == 6410.0
    # its call (C - P = 240 - 30 = 210: forward 6410) makes three pairs again
    _feed(tr, [W.definition(9, _sym("C", 6200), TS + 8), W.cmbp1(9, TS + 9, 239.5, 240.5)])
    assert abs(ps.at(TS + 10) - 6410.0) < 1e-9
