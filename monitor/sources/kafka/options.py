"""Connection options (bootstrap, TLS, SASL: the password from the environment only) and
the one-line diagnosis of a client that could not start."""

from __future__ import annotations

import socket

from aiokafka.errors import (
    KafkaError,
)
from aiokafka.helpers import create_ssl_context

from monitor.config import KafkaSettings
from monitor.sources.base import SourceUnavailable


def client_options(settings: KafkaSettings) -> dict:
    """aiokafka connection options of ``settings`` (consumer and producers alike):
    bootstrap, TLS (``SSL``, ``SASL_SSL``: CA bundle, client certificate) and SASL
    (``PLAIN``, ``SCRAM-SHA-256/512``; the password from the environment only)."""
    opts: dict = {"bootstrap_servers": settings.bootstrap,
                  "security_protocol": settings.security_protocol}
    if "SSL" in settings.security_protocol:
        opts["ssl_context"] = create_ssl_context(cafile=settings.ssl_cafile,
                                                 certfile=settings.ssl_certfile,
                                                 keyfile=settings.ssl_keyfile)
    if settings.security_protocol.startswith("SASL"):  # (complete: KafkaSettings checks)
        opts.update(sasl_mechanism=settings.sasl_mechanism,
                    sasl_plain_username=settings.sasl_username,
                    sasl_plain_password=settings.sasl_password.get_secret_value())
    return opts


def start_failure(err: BaseException, bootstrap: str, opts: dict) -> SourceUnavailable | None:
    """The one-line error for a client that could not start (None: not a connection or
    login failure, let it propagate). A broker that rejects a SCRAM login answers with an
    ``e=`` server-final message, which aiokafka (seen with 0.14) reads as ``KeyError('v')``;
    it and aiokafka's own SASL errors become "refused the SASL login", naming the
    mechanism and user, never the password."""
    mechanism = opts.get("sasl_mechanism")
    sasl = str(opts.get("security_protocol", "")).startswith("SASL")
    if sasl and (isinstance(err, KeyError) and err.args == ("v",)
                 or "Sasl" in type(err).__name__ or "Authentication" in type(err).__name__):
        return SourceUnavailable(
            f"Kafka at {bootstrap} refused the SASL login ({mechanism} as "
            f"{opts.get('sasl_plain_username')!r}): check kafka.sasl_username and "
            "DEALERFLOW_KAFKA__SASL_PASSWORD")
    if type(err).__name__ == "InvalidSessionTimeoutError":
        return SourceUnavailable(
            f"Kafka at {bootstrap} refused the consumer group's session timeout "
            f"(kafka.session_timeout_ms): it must lie within the broker's "
            "group.min.session.timeout.ms and group.max.session.timeout.ms (6 s and 30 min "
            "by default)")
    if isinstance(err, KafkaError):
        plain = not (sasl or "SSL" in str(opts.get("security_protocol", "")))
        hint = (" (it accepts connections but closed the Kafka handshake, as a broker that "
                "requires TLS or SASL does: kafka.security_protocol)"
                if plain and _answers(bootstrap) else "")
        return SourceUnavailable(f"cannot reach Kafka at {bootstrap}: "
                                 f"{type(err).__name__}{hint}")
    return None


def _answers(bootstrap: str) -> bool:
    """Whether the first bootstrap address accepts a TCP connection (within 1 s)."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False
