"""The kinds of a tick in a columns batch (:class:`monitor.wire.columns.TickColumns`'s
``kind``), declared once: the readers write them, the screening kernel
(:func:`monitor.core.quotes.scan_ticks`) reads them. ``OTHER`` is any other tick (an
underlying tick, open interest, a volatility index): the scan stops for it."""

QUOTE, TRADE, OTHER = 0, 1, 2
