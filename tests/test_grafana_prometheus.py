"""The Grafana dashboard and the Prometheus rules against a running monitor (issue 14).

* The committed dashboard JSON is what grafana/dashboards.py generates (regenerated here).
* It is valid Grafana JSON: a schema version, unique panel ids, every datasource reference
  the provisioned Prometheus datasource, every variable used and every variable used
  defined, panels inside the 24-column grid, a unit and thresholds on every panel.
* ``promtool check rules`` and ``amtool check-config`` (Debian's prometheus and
  prometheus-alertmanager; .ci/run installs them when missing) accept the files.
* ``monitor run`` on the embedded default is scraped: every selector in the dashboard, the
  recording and the alerting rules names a metric it exports (or a recording rule, or
  Prometheus's own ``up``), with labels that metric has. Then a real Prometheus scrapes
  that monitor with the rules loaded, and every dashboard query returns data; every alert
  expression evaluates without error.
Conditions are waited for (hang guards only), never timed."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.redis_server import free_port

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "grafana" / "dashboards" / "dealerflow.json"
RULES = REPO / "deploy" / "prometheus" / "rules.yml"
ALERTMANAGER = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
DATASOURCES = REPO / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
SELECTOR = re.compile(r'([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?')
MATCHER = re.compile(r'(\w+)\s*(?:=~|!~|!=|=)\s*"')
BY = re.compile(r'\b(?:by|without)\s*\(([^)]*)\)')


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is needed (Debian's prometheus / prometheus-alertmanager; "
                    ".ci/run installs them)")
    return path


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(d: dict) -> list[dict]:
    return [p for p in d["panels"] if p["type"] != "row"]


def dashboard_exprs(d: dict) -> list[str]:
    return [t["expr"] for p in panels(d) for t in p.get("targets", [])]


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_dashboard_is_what_the_generator_makes():
    sys.path.insert(0, str(REPO / "grafana"))
    try:
        import dashboards as gen
    finally:
        sys.path.pop(0)
    assert gen.render() == {"dealerflow.json": DASHBOARD.read_text()}, \
        "run .venv/bin/python grafana/dashboards.py and commit the JSON"


def test_dashboard_is_valid_grafana_json():
    d = dashboard()
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert d["uid"] and d["title"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    ds_uid = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    variables = {v["name"] for v in d["templating"]["list"]}
    used = set()
    for p in panels(d):
        assert p["datasource"] == {"type": "prometheus", "uid": ds_uid}, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == ds_uid, p["title"]
            used |= set(re.findall(r"\$(\w+)", t["expr"]))
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        defaults = p["fieldConfig"]["defaults"]
        assert defaults.get("unit") or p["type"] == "stat", p["title"]  # stats show text
        assert defaults["thresholds"]["steps"], p["title"]
    for v in d["templating"]["list"]:
        assert v["datasource"]["uid"] == ds_uid
        used |= set(re.findall(r"\$(\w+)", json.dumps(d["panels"])))
    assert used <= variables and variables <= used, (used, variables)
    # the gamma banner's text comes from a series (its state label: the headline's own
    # words) and its number from the same series; no fixed text per regime label
    banner = next(p for p in panels(d) if p["title"].startswith("Gamma state"))
    (target,) = banner["targets"]
    assert target["expr"].startswith("dealerflow_gamma_state{") and target["legendFormat"] == "{{state}}"
    assert banner["options"]["textMode"] == "value_and_name"
    mappings = banner["fieldConfig"]["defaults"].get("mappings") or []
    assert [m["type"] for m in mappings] == ["special"]  # NaN: no flip in range, nothing else
    text = json.dumps(d)
    for label in ("dealers sell rallies", "moves are damped", "moves are amplified"):
        assert label not in text, label


def test_rules_and_alertmanager_config_pass_the_official_checkers():
    r = subprocess.run([tool("promtool"), "check", "rules", str(RULES)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(rules())} rules found" in r.stdout
    r = subprocess.run([tool("amtool"), "check-config", str(ALERTMANAGER)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def exported(text: str) -> dict[str, set[str]]:
    """{metric name: label names} of a /metrics page (histograms as their series; a family
    with no sample yet, e.g. the consumer lag without Kafka, with no labels)."""
    out: dict[str, set[str]] = {}
    for fam in text_string_to_metric_families(text):
        out.setdefault(fam.name, set())
        for s in fam.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def recorded() -> dict[str, set[str]]:
    """{recording rule: its labels} (the ``by`` labels of its expression)."""
    out = {}
    for r in rules():
        if "record" in r:
            by = BY.findall(r["expr"])
            out[r["record"]] = {x.strip() for x in by[-1].split(",")} - {"le"} if by else set()
    return out


def check_selectors(expr: str, metrics: dict[str, set[str]]) -> list[str]:
    problems, names = [], []
    for name, matchers in SELECTOR.findall(expr):
        if not (name.startswith("dealerflow") or name == "up"):
            continue
        if name == "up":
            known = {"job", "instance"}
        elif name not in metrics:
            problems.append(f"{name}: not exported")
            continue
        else:
            known = metrics[name]
        names.append(known)
        for label in MATCHER.findall(matchers or ""):
            if label not in known:
                problems.append(f"{name}: no label {label!r}")
    every = set().union(*names) if names else set()
    for group in BY.findall(expr):
        for label in (x.strip() for x in group.split(",")):
            if label and label not in every:
                problems.append(f"by ({label}): no referenced metric has it")
    return problems


def start_monitor(port: int, prefix: str, log):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALERFLOW_")}
    env.update(DEALERFLOW_REDIS__PREFIX=prefix, DEALERFLOW_LOG_FORMAT="json")
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--metrics-port",
                             str(port), "--no-summary"], stdout=log, stderr=subprocess.STDOUT,
                            env=env)


def wait_for(cond, what, limit_s=240.0):
    deadline = time.monotonic() + limit_s
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < deadline, f"hang guard: {what}"
        time.sleep(0.5)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def test_every_query_names_exported_metrics_and_returns_data_in_prometheus(tmp_path):
    prom = tool("prometheus")
    port, prefix = free_port(), f"graf{uuid.uuid4().hex[:6]}"
    log = open(tmp_path / "monitor.log", "w")
    mon = start_monitor(port, prefix, log)
    prom_proc = None
    try:
        def scraped():
            assert mon.poll() is None, (tmp_path / "monitor.log").read_text()[-2000:]
            try:
                text = get(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return None
            return text if 'dealerflow_spot{underlying="SPX"}' in text else None

        metrics = exported(wait_for(scraped, "the monitor's first state on /metrics"))
        metrics.update(recorded())
        d = dashboard()
        exprs = dashboard_exprs(d) + [r["expr"] for r in rules()] + [
            v["query"] for v in d["templating"]["list"]]
        problems = {e: p for e in exprs if (p := check_selectors(e, metrics))}
        assert not problems, problems

        # a real Prometheus: scrape the monitor every second, evaluate the rules
        pport = free_port()
        cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
               "rule_files": [str(RULES)],
               "scrape_configs": [{"job_name": "dealerflow",
                                   "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))
        prom_proc = subprocess.Popen(
            [prom, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{pport}"],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"))

        def query(expr: str) -> dict | None:
            url = (f"http://127.0.0.1:{pport}/api/v1/query?"
                   + urllib.parse.urlencode({"query": expr.replace("$underlying", "SPX")}))
            try:
                return json.loads(get(url))
            except OSError:
                return None

        pending = set(dashboard_exprs(d))

        def all_return_data():
            assert prom_proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            for e in sorted(pending):
                r = query(e)
                if r is not None and r["status"] == "success" and r["data"]["result"]:
                    pending.discard(e)
            return not pending

        wait_for(all_return_data, f"data for every dashboard query (missing: {pending})")
        for r in rules():
            if "alert" in r:
                res = query(r["expr"])
                assert res is not None and res["status"] == "success", (r["alert"], res)
        # the variable's values: the underlyings the monitor exports
        got = json.loads(get(f"http://127.0.0.1:{pport}/api/v1/label/underlying/values"))
        assert "SPX" in got["data"]
    finally:
        for p in (prom_proc, mon):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(60)
        log.close()
        r = redis.Redis()
        for k in r.scan_iter(f"{prefix}-demo:*"):  # the embedded run's own prefix
            r.delete(k)
