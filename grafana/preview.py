"""A picture of the Grafana dashboard's data where no Grafana server can run (none installs
from this machine's registries): the dashboard's own queries, answered by a real
Prometheus scraping a real ``monitor run`` on the embedded default, drawn with matplotlib
in the dashboard's grid (same titles, positions, value mappings, units).

    .venv/bin/python grafana/preview.py [--seconds 120] [--out docs/grafana-preview.png]

Needs Debian's ``prometheus`` (as the tests do). Takes ``--seconds`` plus start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DASHBOARD = HERE / "dashboards" / "dealerflow.json"
RULES = REPO / "deploy" / "prometheus" / "rules.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def legend_of(legend: str, metric: dict, root: str) -> str:
    """Grafana's ``{{label}}`` legend templating."""
    out = legend.replace("$underlying", root)
    for k, v in metric.items():
        out = out.replace("{{" + k + "}}", v)
    return out


def human(v: float, unit: str) -> str:
    if unit == "currencyUSD":
        a = abs(v)
        for d, u in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if a >= d:
                return f"{'-' if v < 0 else ''}${a / d:.2f}{u}"
        return f"${v:,.0f}"
    if unit == "percentunit":
        return f"{100 * v:.1f}%"
    if unit == "s":
        return f"{v * 1e3:.2f} ms" if abs(v) < 1 else f"{v:.1f} s"
    return f"{v:,.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "grafana-preview.png")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="grafana-preview-"))
    mport, pport = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALERFLOW_")}
    env.update(DEALERFLOW_REDIS__PREFIX=f"preview{os.getpid()}", DEALERFLOW_LOG_FORMAT="json")
    mon = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--metrics-port",
                            str(mport), "--no-summary"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
           "rule_files": [str(RULES)],
           "scrape_configs": [{"job_name": "dealerflow",
                               "static_configs": [{"targets": [f"127.0.0.1:{mport}"]}]}]}
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{pport}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{pport}/api/v1"
    try:
        t0 = time.time()
        print(f"collecting {args.seconds:.0f} s of data ...", file=sys.stderr)
        time.sleep(args.seconds)
        t1 = time.time()
        d = json.loads(DASHBOARD.read_text())
        root = get(f"{base}/label/underlying/values")["data"][0]
        panels = [p for p in d["panels"] if p["type"] != "row"]
        rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
        fig = plt.figure(figsize=(24, rows * 0.42), facecolor="#111217")
        fig.suptitle(f"{d['title']}  (underlying = {root}; data: Prometheus scraping monitor run, "
                     f"{args.seconds:.0f} s; drawn by grafana/preview.py, not by Grafana)",
                     color="white", fontsize=14, y=0.995)
        for p in panels:
            g = p["gridPos"]
            ax = fig.add_axes([g["x"] / 24 + 0.005, 1 - (g["y"] + g["h"]) / rows + 0.012,
                               g["w"] / 24 - 0.012, g["h"] / rows - 0.032], facecolor="#181b1f")
            ax.set_title(p["title"], color="#ccccdc", fontsize=11, loc="left")
            ax.tick_params(colors="#8e8e8e", labelsize=8)
            for sp in ax.spines.values():
                sp.set_color("#2c3235")
            unit = p["fieldConfig"]["defaults"].get("unit", "")
            mappings = (p["fieldConfig"]["defaults"].get("mappings") or [{}])[0].get("options", {})
            line = 0  # a stat panel's next text line
            for t in p["targets"]:
                expr = t["expr"].replace("$underlying", root)
                legend = t.get("legendFormat", "")
                if p["type"] in ("stat", "bargauge"):
                    res = get(f"{base}/query?" + urllib.parse.urlencode({"query": expr}))
                    series = [(legend_of(legend, r["metric"], root), float(r["value"][1]))
                              for r in res["data"]["result"]]
                    if p["type"] == "stat":
                        for name, v in series:
                            m = mappings.get(str(int(v))) if v == int(v) else None
                            text = m["text"] if m else human(v, unit)
                            ax.text(0.5, 0.7 - 0.4 * line, f"{name}  {text}".strip(), ha="center",
                                    va="center", color="white", fontsize=16 if m else 22,
                                    transform=ax.transAxes, wrap=True)
                            line += 1
                        ax.set_xticks([])
                        ax.set_yticks([])
                    else:
                        if "bucket" in legend:
                            order = lambda s: (-1e9 if s[0].startswith("<") else 1e9
                                               if s[0].startswith(">") else float(s[0].rstrip("%")))
                            series.sort(key=order)
                        names = [s[0] for s in series]
                        vals = np.array([s[1] for s in series])
                        colors = np.where(vals >= 0, "#73bf69", "#f2495c")
                        fmt = matplotlib.ticker.FuncFormatter(lambda v, _, u=unit: human(v, u))
                        if p["options"].get("orientation") == "horizontal":
                            ax.barh(names, vals, color=colors)
                            ax.invert_yaxis()
                            ax.xaxis.set_major_formatter(fmt)
                        else:
                            ax.bar(names, vals, color=colors)
                            ax.tick_params(axis="x", rotation=90)
                            ax.yaxis.set_major_formatter(fmt)
                    continue
                res = get(f"{base}/query_range?" + urllib.parse.urlencode(
                    {"query": expr, "start": t0, "end": t1, "step": 2}))
                result = res["data"]["result"]
                if p["type"] == "heatmap":
                    key = lambda r: (-1e9 if r["metric"]["bucket"].startswith("<") else 1e9
                                     if r["metric"]["bucket"].startswith(">")
                                     else float(r["metric"]["bucket"].rstrip("%")))
                    result.sort(key=key)
                    z = np.array([[float(v[1]) for v in r["values"]] for r in result
                                  if len(r["values"]) == len(result[0]["values"])])
                    lim = np.nanmax(np.abs(z)) or 1.0
                    ax.imshow(z, aspect="auto", cmap="RdYlGn", vmin=-lim, vmax=lim, origin="lower")
                    ax.set_yticks(range(len(result)), [r["metric"]["bucket"] for r in result],
                                  fontsize=6)
                    continue
                right = {o["matcher"]["options"] for o in p["fieldConfig"].get("overrides", [])
                         if any(pr["id"] == "custom.axisPlacement" and pr.get("value") == "right"
                                for pr in o["properties"])}
                for r in result:
                    xs = np.array([float(v[0]) for v in r["values"]]) - t0
                    ys = np.array([float(v[1]) for v in r["values"]])
                    name = legend_of(legend, r["metric"], root) if legend else expr
                    if name in right:  # the panel's right axis (an override), unit "none"
                        ax2 = ax.twinx()
                        ax2.plot(xs, ys, lw=2, color="white", label=name)
                        ax2.tick_params(colors="#8e8e8e", labelsize=8)
                        ax2.legend(fontsize=7, loc="upper right", facecolor="#181b1f",
                                   labelcolor="#ccccdc")
                        continue
                    ax.plot(xs, ys, lw=2, label=name)
                ax.legend(fontsize=7, loc="upper left", facecolor="#181b1f", labelcolor="#ccccdc")
                ax.yaxis.set_major_formatter(
                    matplotlib.ticker.FuncFormatter(lambda v, _, u=unit: human(v, u)))
                ax.set_xlabel("seconds", color="#8e8e8e", fontsize=8)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=60, facecolor=fig.get_facecolor())
        print(f"wrote {args.out}", file=sys.stderr)
    finally:
        for proc in (prom, mon):
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
