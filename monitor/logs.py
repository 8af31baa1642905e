"""Structured logging (structlog) and a URL redactor for log lines.

``configure_logging("auto")`` picks JSON lines when stderr is not a terminal (production,
containers, CI) and the human console renderer on a terminal. Every event carries
``level``, ``timestamp`` (ISO 8601, UTC) and the context bound with
``structlog.contextvars.bind_contextvars(underlying=..., partition=...)``.

Log events, never ticks: a log line per tick costs more than the tick itself.

Records of the standard ``logging`` module (aiokafka, redis, ...) are rendered by the
same renderer on the same stream, so one process writes one format.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog

LogFormat = Literal["auto", "json", "console"]

_LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING,
           "warn": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}

_HANDLER_NAME = "monitor.logs"


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    try:
        return _LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; one of {sorted(_LEVELS)}") from None


def use_json(fmt: LogFormat, stream: IO[str] | None = None) -> bool:
    """True for ``json``, or ``auto`` when ``stream`` (default stderr) is not a TTY."""
    if fmt == "json":
        return True
    if fmt == "console":
        return False
    if fmt != "auto":
        raise ValueError(f"unknown log format {fmt!r}; one of auto, json, console")
    stream = stream if stream is not None else sys.stderr
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def configure_logging(fmt: LogFormat = "auto", level: str | int = "info", *,
                      stream: IO[str] | None = None) -> None:
    """Configure structlog (and route stdlib ``logging`` through the same renderer).

    ``fmt``: ``json`` = one JSON object per line (``JSONRenderer``); ``console`` =
    ``ConsoleRenderer``; ``auto`` = json unless ``stream`` is a terminal. ``level``: the
    minimum level (``debug``, ``info``, ``warning``, ``error``, ``critical``).
    ``stream``: where lines go, default ``sys.stderr`` (as it is at this call).

    Calling it again replaces the previous configuration. Loggers are cached on first
    use (``cache_logger_on_first_use=True``): get loggers after configuring.
    """
    stream = stream if stream is not None else sys.stderr
    lvl = _level(level)
    as_json = use_json(fmt, stream)
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if as_json:
        tail = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # ConsoleRenderer formats exceptions itself (format_exc_info would pre-empt it).
        tail = [structlog.dev.ConsoleRenderer()]
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        context_class=dict,
        cache_logger_on_first_use=True,
    )

    # Standard-library records (third-party libraries) through the same renderer.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(lvl)


def reset_logging() -> None:
    """Undo :func:`configure_logging` (structlog defaults, our stdlib handler removed)."""
    structlog.reset_defaults()
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)


_SECRET_QUERY = re.compile(r"pass|pwd|token|secret|key|auth|sig|credential", re.IGNORECASE)
_MASK = "***"


def redact(url) -> str:
    """``url`` safe to log: secrets removed.

    - ``http``/``https`` (webhooks keep their token in the path or query): scheme and
      host (and port) only, e.g. ``https://hooks.slack.com/services/T/B/X`` ->
      ``https://hooks.slack.com``.
    - any other scheme (``redis``, ``rediss``, ``kafka``, ...): the password is masked,
      the user name kept, and query values whose name looks secret (``password``,
      ``token``, ``key``, ...) masked: ``redis://:secret@host:6379/0`` ->
      ``redis://:***@host:6379/0``.
    - ``None`` -> ``""``; a ``SecretStr`` is unwrapped first; something that does not
      parse as a URL -> ``"***"``.
    """
    if url is None:
        return ""
    if hasattr(url, "get_secret_value"):
        url = url.get_secret_value()
    url = str(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return _MASK
    if not parts.scheme or (not parts.netloc and parts.scheme not in ("unix", "file")):
        return _MASK
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    hostport = host if port is None else f"{host}:{port}"
    if parts.scheme.lower() in ("http", "https"):
        return f"{parts.scheme}://{hostport}"
    userinfo = ""
    if parts.username is not None or parts.password is not None:
        userinfo = parts.username or ""
        if parts.password is not None:
            userinfo += ":" + _MASK
        userinfo += "@"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, _MASK if _SECRET_QUERY.search(k) else v) for k, v in pairs],
                          safe="*")
    return urlunsplit((parts.scheme, userinfo + hostport, parts.path, query, ""))
