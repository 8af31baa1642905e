"""The regime rules: the engine (labels with hysteresis and dwell, and their events), the
expiration calendar, and the sizing rule table. Rules only: the commands built on them
(``whatif``, ``size``, ``daily``) are in :mod:`monitor.analysis`."""
