"""Where ticks come in: each tick validated and applied to its underlying's book
(:class:`Pipeline`; its rules, the columns scan, waiting quotes and prints, refreshes,
counts and per-underlying state each in their own module)."""

from monitor.ingest.counts import DEAD_LETTER_REASONS, Counts
from monitor.ingest.pipeline import Pipeline
from monitor.ingest.refresh import Refresh
from monitor.ingest.rules import classify_print, spot_price
from monitor.ingest.state import CHECKPOINT_VERSION, FEED, OTHER, UnderlyingState

__all__ = ["CHECKPOINT_VERSION", "DEAD_LETTER_REASONS", "FEED", "OTHER", "Counts", "Pipeline",
           "Refresh", "UnderlyingState", "classify_print", "spot_price"]
