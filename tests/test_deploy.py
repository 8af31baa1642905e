"""The deployment files (issue 14), checked statically with the real tools this machine
has: no Docker engine runs here and no registry is reachable, so images are neither
built nor pulled (README, Deployment, says so).

* compose: Debian's ``docker-compose config`` parses and validates it; every file it
  mounts and the Dockerfile it builds exist; every ``DEALERFLOW_*`` variable it sets is a
  setting the monitor accepts; every ``monitor`` command line it runs parses; Prometheus
  scrapes the monitor service on the port the monitor serves.
* Dockerfile: what it copies exists, it ends as a non-root user, its health check asks
  /healthz, and its kernel warm-up command line runs here as written.
* Kubernetes: ``kubernetes-validate --strict`` (PyPI) passes every manifest; the ConfigMap
  is config.yaml as it is; the probes ask /healthz and /readyz on the served port; the
  environment names real settings; the kustomization lists every manifest.
* systemd: ``systemd-analyze verify`` prints nothing (its warnings do not change its exit
  status), with ExecStart pointed at this checkout's ``monitor``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.config import Settings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
MONITOR = Path(sys.executable).with_name("monitor")


def need(name: str) -> str:
    path = shutil.which(name) or (str(Path(sys.executable).with_name(name))
                                  if Path(sys.executable).with_name(name).exists() else None)
    if path is None:
        pytest.fail(f"{name} is needed (.ci/run installs it)")
    return path


def settings_from_env(env: dict[str, str]) -> Settings:
    """Settings read with ``env`` on top of the packaged defaults (raises if a variable names
    no setting or has a bad value: extra='forbid')."""
    saved = dict(os.environ)
    try:
        for k in [k for k in os.environ if k.startswith("DEALERFLOW_")]:
            del os.environ[k]
        os.environ.update({k: str(v) for k, v in env.items()})
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def cli_parses(args: list[str]) -> None:
    """``monitor ARGS --help`` exits 0 only when every option in ARGS exists."""
    opts = [a for a in args if a.startswith("--")]
    r = subprocess.run([str(MONITOR), args[0], "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for opt in opts:
        assert re.search(rf"{re.escape(opt)}\b", r.stdout), (args[0], opt)


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_validates_and_references_what_exists():
    r = subprocess.run([need("docker-compose"), "-f", str(DEPLOY / "compose.yaml"), "config",
                        "-q"], capture_output=True, text=True, cwd=DEPLOY)
    assert r.returncode == 0, r.stdout + r.stderr
    c = compose()
    services = c["services"]
    assert {"kafka", "redis", "prometheus", "alertmanager", "grafana", "monitor",
            "publisher"} <= set(services)
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            assert (DEPLOY / src).exists(), (name, src)
        if "build" in svc:
            assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
    # the monitor image runs real monitor command lines with real settings
    for name in ("monitor", "publisher"):
        cli_parses(services[name]["command"])
        settings_from_env({k: v for k, v in services[name].get("environment", {}).items()})
    port = Settings().metrics.port
    assert f"{port}:{port}" in services["monitor"]["ports"]
    # the Kafka a deployment runs is the release the tests run (tests/kafka/pom.xml)
    from tests.broker import KAFKA_VERSION
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert f"<kafka.version>{KAFKA_VERSION}</kafka.version>" in (
        REPO / "tests" / "kafka" / "pom.xml").read_text()
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert prom["scrape_configs"][0]["static_configs"][0]["targets"] == [f"monitor:{port}"]
    assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"]
    # the grafana dashboards folder it mounts is the one the provider reads
    provider = yaml.safe_load((REPO / "grafana" / "provisioning" / "dashboards" /
                               "dealerflow.yaml").read_text())["providers"][0]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    assert mounts["../grafana/dashboards"] == provider["options"]["path"]


def test_dockerfile_copies_what_exists_runs_as_non_root_and_warms_the_kernels(tmp_path):
    text = (DEPLOY / "Dockerfile").read_text()
    for src in re.findall(r"^COPY\s+(.+?)\s+\S+$", text, re.M):
        for part in src.split():
            assert (REPO / part).exists(), part
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "/healthz" in re.search(r"^HEALTHCHECK.*(?:\n\s+.*)*", text, re.M).group(0)
    warm = re.search(r"^RUN (monitor warmup[^\n]*)", text, re.M).group(1).split()
    cli_parses(warm[1:])
    # the warm-up as written, in an empty directory with nothing configured: exits 0
    r = subprocess.run([str(MONITOR), *warm[1:]], capture_output=True, text=True, cwd=tmp_path,
                       timeout=600, env={k: v for k, v in os.environ.items()
                                         if not k.startswith("DEALERFLOW_")})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "kernels ready:" in r.stdout


def manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_manifests_pass_kubernetes_validate_strict():
    r = subprocess.run([need("kubernetes-validate"), "--strict", *map(str, manifests())],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("passed") == len(manifests()), r.stdout
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kust["resources"]) == sorted(p.name for p in manifests())


def test_deployment_is_consistent_with_the_monitor():
    r = subprocess.run([sys.executable, str(K8S / "configmap.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cm = yaml.safe_load((K8S / "configmap.yaml").read_text())
    assert cm["data"]["config.yaml"] == (REPO / "config.yaml").read_text()
    dep = yaml.safe_load((K8S / "deployment.yaml").read_text())
    spec = dep["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    cli_parses(c["args"])
    assert spec["securityContext"]["runAsNonRoot"] is True
    port = Settings().metrics.port
    assert c["ports"][0]["containerPort"] == port
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert dep["spec"]["replicas"] >= 2  # several members of one consumer group
    plain = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    secret = {e["name"]: "x" for e in c["env"] if "valueFrom" in e}
    s = settings_from_env({**plain, **secret})  # every name is a setting
    assert s.metrics.host == "0.0.0.0"
    mount = next(m for m in c["volumeMounts"] if m["name"] == "config")
    assert f"{mount['mountPath']}/config.yaml" in c["args"]
    sec = yaml.safe_load((K8S / "secret.yaml").read_text())
    keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in c["env"] if "valueFrom" in e}
    assert keys <= set(sec["stringData"])


def test_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # the issue: "where available"
        pytest.skip("systemd-analyze not available on this machine")
    unit = (DEPLOY / "systemd" / "dealerflow-monitor.service").read_text()
    assert "ExecStart=/opt/dealerflow/bin/monitor run" in unit
    path = tmp_path / "dealerflow-monitor.service"
    path.write_text(unit.replace("/opt/dealerflow/bin/monitor", str(MONITOR)))
    r = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stderr
    env = dict(line.split("=", 1)[1].split("=", 1) for line in unit.splitlines()
               if line.startswith("Environment=DEALERFLOW_"))
    settings_from_env(env)
