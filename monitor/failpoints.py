"""Fail points: the named steps of the at-least-once path where a test makes the process
fail on command, as FoundationDB's and TiKV's fail points do, so the guarantees are
tested against the real broker and Redis rather than argued.

``MONITOR_FAILPOINTS`` = ``name=action[@n][,name=action[@n]...]``:

* ``exit``: the process ends at once with code 137, as under SIGKILL (no shutdown, no
  flush, no commit);
* ``fail``: the step fails as its dependency failing would (a write not stored);
* ``raise``: the step raises :class:`FailpointError` (a sink or a commit that throws);
* ``@n``: on the n-th time the point is reached (default the first), once.

The points, in the order of a publish cycle (:meth:`monitor.service.publish.PublishCycles._publish_cycle`
has the table of what each must give):

=====================  ===============================================================
``state_stored``       the Redis sink wrote an underlying's state, not yet its checkpoint
``checkpoint_write``   the Redis sink's checkpoint write (``fail``: not stored)
``checkpoint_stored``  every sink has a cycle with applied batches, dead letters not
                       yet awaited
``dead_letters_sent``  the cycle's dead letters are acknowledged, offsets not committed
``commit``             the offset commit (``fail`` or ``raise``: the broker refuses it)
``committed``          the offsets are committed, the next cycle not begun
=====================  ===============================================================

Unset (production): :func:`hit` is one dictionary lookup that finds nothing. An unknown
name is refused at start with one line naming it.
"""

from __future__ import annotations

import os

ENV = "MONITOR_FAILPOINTS"
POINTS = ("state_stored", "checkpoint_write", "checkpoint_stored", "dead_letters_sent",
          "commit", "committed")
ACTIONS = ("exit", "fail", "raise")
EXIT_CODE = 137


class FailpointError(RuntimeError):
    """A step failed on command (``fail``)."""


def parse(text: str) -> dict[str, list]:
    """``{name: [action, n, times reached]}`` from the variable's text."""
    out: dict[str, list] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        name, _, spec = item.partition("=")
        action, _, nth = spec.partition("@")
        if name not in POINTS or action not in ACTIONS:
            raise ValueError(f"{ENV}: {item!r} is not name=action[@n] with a name in "
                             f"{', '.join(POINTS)} and an action in {', '.join(ACTIONS)}")
        if nth and not (nth.isdigit() and int(nth) > 0):
            raise ValueError(f"{ENV}: {item!r}: @n must be a positive whole number")
        out[name] = [action, int(nth or 1), 0]
    return out


try:
    _ARMED, ERROR = parse(os.environ.get(ENV, "")), ""
except ValueError as _err:  # said by the service at start (monitor.service.run_service)
    _ARMED, ERROR = {}, str(_err)


def hit(name: str) -> bool:
    """Reached ``name``: True when this step must fail now; ends the process for ``exit``."""
    spec = _ARMED.get(name)
    if spec is None:
        return False
    spec[2] += 1
    if spec[2] != spec[1]:
        return False
    if spec[0] == "exit":
        os._exit(EXIT_CODE)
    if spec[0] == "raise":
        raise FailpointError(f"{name}: failed on command ({ENV})")
    return True
