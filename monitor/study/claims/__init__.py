"""The claims the study tests, one module each, named for what it tests. Each function
takes the prepared daily frame (see :func:`daily_frame`) and whatever else it needs, and
returns a :class:`~monitor.study.model.ClaimResult` with its findings (estimate, 95 %
interval, n, verdict), tables and the data for its charts.

Units: returns and ranges are in percent of the previous close, differences of them in
percentage points (pp). Every threshold is a constant of :mod:`.common`, printed in the
report.
"""

from monitor.study.claims.common import daily_frame
from monitor.study.claims.expirations import expirations
from monitor.study.claims.gamma_regime import gamma_regime
from monitor.study.claims.intraday_momentum import intraday_momentum, intraday_sessions
from monitor.study.claims.vanna_meltups import vanna_meltups
from monitor.study.claims.vix_extremes import vix_extremes

__all__ = ["daily_frame", "expirations", "gamma_regime", "intraday_momentum",
           "intraday_sessions", "vanna_meltups", "vix_extremes"]
