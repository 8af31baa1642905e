"""The HTTP endpoints as a client meets them (issue 13): an asyncio server, so 200 idle
connections cost no thread; concurrent connections capped (503 beyond); ``/metrics``
behind a bearer token when one is set, the probes open; the token never logged."""

import socket
import threading
import time
import urllib.error
import urllib.request

from monitor.sinks.metrics import Metrics


def get(port, path, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait(cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_idle_connections_cost_no_thread_and_the_cap_answers_503():
    m = Metrics()
    port = m.serve("127.0.0.1", 0, max_connections=20)
    socks = []
    try:
        assert get(port, "/metrics")[0] == 200
        threads = threading.active_count()
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
        wait(lambda: m._server._open_connections() >= 200)
        # no thread per connection (the old server started one each); other tests' daemon
        # threads may end meanwhile, so: no more than before
        assert threading.active_count() <= threads
        code, body = get(port, "/metrics")
        assert code == 503 and "too many connections" in body
        # the probes are answered whatever the count: idle sockets cannot get a healthy
        # monitor restarted by its orchestrator
        assert get(port, "/healthz")[0] == 200
        assert get(port, "/readyz")[0] in (200, 503) and "too many" not in get(port, "/readyz")[1]
        for s in socks:
            s.close()
        socks = []
        wait(lambda: get(port, "/metrics")[0] == 200)
    finally:
        for s in socks:
            s.close()
        m.stop()


def test_metrics_need_the_bearer_token_the_probes_do_not(capsys):
    m = Metrics()
    m.set_ready(True)
    port = m.serve("127.0.0.1", 0, token="t0k3n-secret")
    try:
        assert get(port, "/metrics")[0] == 401
        assert get(port, "/metrics", token="wrong")[0] == 401
        code, body = get(port, "/metrics", token="t0k3n-secret")
        assert code == 200 and "dealerflow_redis_events_dropped_total" in body
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz") == (200, "ready\n")
        assert get(port, "/nothing")[0] == 404
    finally:
        m.stop()
    out = capsys.readouterr()
    assert "t0k3n-secret" not in out.out + out.err


def test_a_taken_port_is_an_oserror_in_the_caller():
    a, b = Metrics(), Metrics()
    port = a.serve("127.0.0.1", 0)
    try:
        try:
            b.serve("127.0.0.1", port)
        except OSError:
            pass
        else:
            raise AssertionError("the second bind should fail")
        assert b.port is None
    finally:
        a.stop()
        b.stop()


def test_malformed_requests_are_one_warning_per_kind_without_a_traceback(monkeypatch):
    """Unauthenticated clients sending garbage must not flood the logs: the first of each
    kind is one WARNING event (http_bad_request, no traceback), the rest are counted;
    nothing reaches aiohttp's own logger (which logged an ERROR with a traceback each)."""
    import logging

    from monitor.sinks import http_server

    warnings = []

    class Recorder:
        def warning(self, event, **kw):
            warnings.append((event, kw))

    monkeypatch.setattr(http_server, "_log", Recorder())
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    keep = Keep(level=logging.DEBUG)
    aiohttp_log = logging.getLogger("aiohttp.server")
    aiohttp_log.addHandler(keep)
    m = Metrics()
    port = m.serve("127.0.0.1", 0)
    server = m._server
    try:
        for _ in range(5):  # a bad header line: aiohttp answers 400
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
                assert s.recv(100).split(b" ")[1] == b"400"
        wait(lambda: sum(server.bad_requests.values()) == 5)
        assert get(port, "/healthz")[0] == 200  # still serving
    finally:
        m.stop()
        aiohttp_log.removeHandler(keep)
    assert [e for e, _ in warnings] == ["http_bad_request"]
    assert warnings[0][1]["kind"] == "BadHttpMessage"
    assert list(server.bad_requests.values()) == [5]
    assert [r for r in seen if r.exc_info] == []
