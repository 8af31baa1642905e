"""Named layouts of the book's packed arrays: no bare row or column numbers in the kernels.

* ``F``: float64 ``[N_F, n]``, one row per per-contract field: the inputs
  (:data:`INPUTS`), the Greeks (:data:`~monitor.core.exposures.GREEKS`), then one
  contribution row per registered exposure (:data:`~monitor.core.exposures.EXPOSURES`).
  :data:`F_FIELDS` names them in order; ``Book.c.<name>`` is the row's view.
* ``G``: float64 ``[8, m]`` per settlement group: years to settlement, forward, discount
  factor, and the expiry's smile as raw-SVI implied variance (``svi_*``, NaN = no smile:
  :mod:`monitor.core.smile`) (:data:`G_FIELDS`).
* ``iv_source`` (an ``F`` row): where the contract's IV came from, a code of
  :mod:`monitor.core.status` (``IV_QUOTE``, ``IV_SMILE``, ...) stored as a float.
* aggregates: ``totals[N_EXPOSURES]``, ``by_group[m, N_EXPOSURES]`` and
  ``by_strike[n_strikes, 2, N_EXPOSURES]`` (side ``CALLS`` / ``PUTS``), columns in
  registry order (``DEX``, ``GEX``, ... from :mod:`monitor.core.exposures`).
"""

import numpy as np

from monitor.core.exposures import EXPOSURES, GREEKS, N_EXPOSURES

INPUTS = ("strike", "bid", "ask", "pos", "iv", "iv_source")
F_FIELDS = INPUTS + GREEKS + tuple(e.field for e in EXPOSURES)
N_F = len(F_FIELDS)
STRIKE, BID, ASK, POS, IV, IV_SOURCE = range(len(INPUTS))
#: first Greek row; Greek ``g`` is row ``GREEK0 + GREEKS.index(g)``
GREEK0 = len(INPUTS)
DELTA, GAMMA, VEGA, VANNA, CHARM = (GREEK0 + GREEKS.index(g) for g in
                                    ("delta", "gamma", "vega", "vanna", "charm"))
#: first exposure-contribution row; exposure ``e`` is row ``CONTRIB0 + e``
CONTRIB0 = GREEK0 + len(GREEKS)

# per exposure (registry order), for the kernels: numba freezes global arrays as constants
EXP_GREEK_ROW = np.array([GREEK0 + GREEKS.index(e.greek) for e in EXPOSURES], dtype=np.int64)
EXP_SPOT_POWER = np.array([e.spot_power for e in EXPOSURES], dtype=np.int64)
EXP_SCALE = np.array([e.scale for e in EXPOSURES], dtype=np.float64)

G_FIELDS = ("T", "fwd", "df", "svi_a", "svi_b", "svi_rho", "svi_m", "svi_s")
T_ROW, FWD_ROW, DF_ROW, SVI_A, SVI_B, SVI_RHO, SVI_M, SVI_S = range(len(G_FIELDS))

#: sides of ``by_strike``
CALLS, PUTS = 0, 1

# the screening scan's state (monitor.core.quotes.scan_ticks), packed by kind and dtype:
#: int64 ``[N_UI, underlyings]``: event clock, allowed skew and past (ns, 0: none), the
#: tape's session ``[lo, hi)``, the last spot's ts_ns, the event time from which a refresh
#: is due, the spot ticks the scan applied, whether trades re-weight the book (0/1)
UI_FIELDS = ("clock", "skew", "past", "tape_lo", "tape_hi", "spot_ts", "due", "spot_n",
             "py_trades")
U_CLOCK, U_SKEW, U_PAST, U_TAPE_LO, U_TAPE_HI, U_SPOT_TS, U_DUE, U_SPOT_N, U_PY_TRADES = (
    range(len(UI_FIELDS)))
#: float64 ``[N_UF, underlyings]``: the largest believable trade, the spot a band is
#: judged from, the spot of the last refresh, the band (%), the believable spots
UF_FIELDS = ("max_size", "spot_ref", "eval_spot", "band_pct", "spot_lo", "spot_hi")
U_MAX_SIZE, U_SPOT_REF, U_EVAL_SPOT, U_BAND_PCT, U_SPOT_LO, U_SPOT_HI = range(len(UF_FIELDS))
#: int64 ``[N_CI, contracts]``: the last applied quote's ts_ns, the last print's, the
#: serial of the batch whose quote is in force
CI_FIELDS = ("last_ts", "last_print", "pend_mark")
C_LAST_TS, C_LAST_PRINT, C_PEND_MARK = range(len(CI_FIELDS))
#: float64 ``[N_CF, contracts]``: the highest believable price, the quote in force (bid,
#: ask), the last print's price
CF_FIELDS = ("max_px", "pend_bid", "pend_ask", "last_px")
C_MAX_PX, C_PEND_BID, C_PEND_ASK, C_LAST_PX = range(len(CF_FIELDS))

__all__ = ["INPUTS", "F_FIELDS", "N_F", "STRIKE", "BID", "ASK", "POS", "IV", "IV_SOURCE", "GREEK0",
           "DELTA", "GAMMA", "VEGA", "VANNA", "CHARM", "CONTRIB0", "N_EXPOSURES",
           "EXP_GREEK_ROW", "EXP_SPOT_POWER", "EXP_SCALE", "G_FIELDS", "T_ROW", "FWD_ROW",
           "DF_ROW", "SVI_A", "SVI_B", "SVI_RHO", "SVI_M", "SVI_S", "CALLS", "PUTS",
           "UI_FIELDS", "U_CLOCK", "U_SKEW", "U_PAST", "U_TAPE_LO", "U_TAPE_HI", "U_SPOT_TS",
           "U_DUE", "U_SPOT_N", "U_PY_TRADES", "UF_FIELDS", "U_MAX_SIZE", "U_SPOT_REF",
           "U_EVAL_SPOT", "U_BAND_PCT", "U_SPOT_LO", "U_SPOT_HI", "CI_FIELDS", "C_LAST_TS",
           "C_LAST_PRINT", "C_PEND_MARK", "CF_FIELDS", "C_MAX_PX", "C_PEND_BID", "C_PEND_ASK",
           "C_LAST_PX"]
