"""Redis sink: the latest state and profile of each underlying, and its event stream.

Layout (``P`` = ``settings.prefix``, ``R`` = the root, e.g. ``SPX``)::

    P:R:state    hash    one field per top-level key of the state dict (see below)
    P:R:profile  string  JSON array: the profile rows as given (e.g. snapshot by_strike)
    P:R:events   stream  XADD ... MAXLEN ~ settings.stream_maxlen, entry fields:
                           event  JSON object of the event (+ "underlying": R if absent)
                           kind   event["kind"] ("" if absent)
                           ts_ns  event["ts_ns"] (int ns), else the publish time
    P:R:hedge_pressure  stream  one entry per published state (the publish cycle, 1 s by
                           default), MAXLEN ~ settings.stream_maxlen, for charts of the
                           hedge-pressure tape: ts_ns (the state's as_of_ns), spot, total,
                           0dte, next, later (USD, session running sums, + = dealers buy)
    P:events     pub/sub channel: the same event JSON, fire-and-forget

State hash field values (strings, readable with ``redis-cli HGETALL``):
``str`` as is; ``None`` (and NaN/inf) -> ``null``; ``bool`` -> ``true``/``false``;
numbers -> their JSON/shortest-repr text (``5800.25``, ``-1.2e+09``, ``42``); ``dict``,
``list`` and anything else -> JSON. :meth:`RedisSink.read_state` reverses this: a field
that parses as a JSON number, ``true``/``false``/``null``, array or object is decoded,
anything else is returned as the string (so a string value that looks like a number
comes back as a number). Fields are updated with ``HSET``; a key absent from a later
state keeps its older value (publish states with a fixed key set).

Stream entry IDs are assigned by the sink (``<ms>-<seq>``, increasing per stream, above
the stream's top item read once per root and connection) when an event is first sent,
and kept when it is re-sent after a failure: a re-sent event that Redis already holds
is recognised (XADD answers "equal or smaller", XRANGE finds the id) and not added
twice, so after an outage each event is in the stream exactly once and in order. (If
another writer moves the stream's top past our ids meanwhile, such events are appended
with ``*``: kept, but after that writer's entries.) Pub/sub messages may be repeated
after a failed pipeline: the stream is the durable path.

Redis down: ``publish`` never raises and does no network I/O; the newest state/profile
per root is kept (older ones are overwritten), events wait in a buffer of
``settings.buffer_max`` (oldest dropped first, counted in ``dropped_events``). A
background task pings every ``reconnect_interval`` seconds and, once Redis answers,
writes the kept states and the buffered events in order before newer ones.

As a :class:`~monitor.sinks.base.Sink` (durable) each cycle writes, per underlying, the
state, profile and events (above), then the regime history (``P:R:regime``) and the
checkpoint (``P:R:checkpoint``, base64 of the book's inputs); :meth:`RedisSink.write`
returns True only when every checkpoint of the cycle was stored, so the service commits
no offset past a checkpoint that is not in Redis. As the
:class:`~monitor.sinks.base.CheckpointStore` it loads them back after a restart.
"""

from monitor.sinks.redis_sink.codec import decode_field, encode_field, numpy_enc_hook, tape_sample
from monitor.sinks.redis_sink.sink import RedisSink

__all__ = ["RedisSink", "decode_field", "encode_field", "numpy_enc_hook", "tape_sample"]
