"""Charts (matplotlib, Agg canvas: no display, no global backend switch).

:func:`plot_flow_curve`: the dealers' hedge-flow curve of a ``monitor whatif`` result
(dollars on y, spot on x; positive = dealers buy), the linear estimate dashed, with
vertical lines at the current spot, zero gamma, call wall and put wall (a level outside
the curve's spot range is listed in the legend as off the chart rather than stretching
the axis), and the scenario's point marked.
"""

from __future__ import annotations

from pathlib import Path

from monitor.fmt import money


def _usd_axis(x: float, _pos=None) -> str:
    a = abs(x)
    sign = "-" if x < 0 else ""
    for div, suf in ((1e12, "tn"), (1e9, "bn"), (1e6, "mm"), (1e3, "k")):
        if a >= div:
            return f"{sign}${a / div:g}{suf}"
    return f"{sign}${a:g}"


def plot_flow_curve(result: dict, path, *, width: float = 10.0, height: float = 5.5,
                    dpi: int = 110) -> Path:
    """Write the flow-curve chart of ``result`` (a :func:`monitor.analysis.whatif.whatif`
    dict) to ``path`` (PNG, or any format matplotlib knows from the suffix). Returns the
    path. ``ValueError`` when the curve is empty or the file cannot be written."""
    # matplotlib is imported here, not at the top: only `whatif --plot` needs it, and it
    # costs ~0.3 s to import
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    curve = result.get("curve") or []
    if len(curve) < 2:
        raise ValueError("the flow curve needs at least 2 points to plot")
    path = Path(path)
    xs = [p["spot"] for p in curve]
    ys = [p["flow_usd"] for p in curve]
    lin = [p["flow_usd_linear"] for p in curve]
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.axhline(0.0, color="0.6", lw=0.8)
    if any(y > 0 for y in ys):
        ax.fill_between(xs, ys, 0.0, where=[y > 0 for y in ys], color="tab:green",
                        alpha=0.12, interpolate=True, label="dealers buy")
    if any(y < 0 for y in ys):
        ax.fill_between(xs, ys, 0.0, where=[y < 0 for y in ys], color="tab:red",
                        alpha=0.12, interpolate=True, label="dealers sell")
    ax.plot(xs, ys, color="tab:blue", lw=2.0, label="hedge flow (full revaluation)")
    ax.plot(xs, lin, color="tab:blue", lw=1.0, ls="--", alpha=0.7, label="linear estimate")
    lo, hi = min(xs), max(xs)
    levels = [("spot", result.get("spot"), "black", "-"),
              ("zero gamma", result.get("zero_gamma"), "tab:purple", "--"),
              ("call wall", result.get("call_wall"), "tab:green", ":"),
              ("put wall", result.get("put_wall"), "tab:red", ":")]
    tagged: list[float] = []  # x of the levels already annotated
    near = 0.02 * (hi - lo)
    for name, x, color, ls in levels:
        if x is None:
            ax.plot([], [], color=color, ls=ls, label=f"{name}: none")
            continue
        if lo <= x <= hi:
            ax.axvline(x, color=color, ls=ls, lw=1.3, label=f"{name} {x:,.0f}")
            # levels at (nearly) the same spot, e.g. both walls on one strike: labels side
            # by side instead of on top of each other
            k = sum(1 for t in tagged if abs(t - x) <= near)
            ax.annotate(name, xy=(x, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(2 + 11 * k, -6), textcoords="offset points",
                        rotation=90, va="top", fontsize=8, color=color)
            tagged.append(float(x))
        else:
            side = "left" if x < lo else "right"
            ax.plot([], [], color=color, ls=ls, label=f"{name} {x:,.0f} (off chart, {side})")
    sx = result.get("spot_after")
    fy = result.get("flow_usd")
    if sx is not None and fy is not None and lo <= sx <= hi:
        ax.plot([sx], [fy], "o", color="tab:orange", ms=7, zorder=5,
                label=f"scenario: {money(fy)}")
    ax.set_xlim(lo, hi)
    ax.yaxis.set_major_formatter(FuncFormatter(_usd_axis))
    ax.set_xlabel(f"{result.get('underlying', '')} spot")
    ax.set_ylabel("dealer hedge flow, USD (+ = dealers buy)")
    parts = []
    if result.get("spot_pct"):
        parts.append(f"spot {result['spot_pct']:+g}%")
    if result.get("vol_pts"):
        parts.append(f"vol {result['vol_pts']:+g} pts")
    if result.get("days"):
        parts.append(f"+{result['days']:g} day" + ("s" if result["days"] != 1 else ""))
    scen = ", ".join(parts) or "no change"
    curve_with = [p for p in parts if not p.startswith("spot")]
    ax.set_title(f"{result.get('underlying', '')} dealer hedge flow vs spot  |  scenario: {scen}"
                 + (f"  (curve with {', '.join(curve_with)})" if curve_with else "")
                 + f"\nas of {result.get('as_of', '')}, spot {result.get('spot', 0):,.2f}, "
                 f"model {result.get('model', '')}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot write chart {path}: {err}") from None
    return path
