"""One registry of rejection reasons (monitor.core.reasons): every reason the code names
is declared there, the dead-letter rule and the metrics read it, and the docs name every
dead-lettered reason."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.core import quotes
from monitor.core.reasons import DEAD_LETTER, REJECTIONS
from monitor.ingest import DEAD_LETTER_REASONS
from monitor.sinks.metrics import REJECT_REASONS
from monitor.wire import codec

REPO = Path(__file__).resolve().parents[2]


def test_every_reason_the_code_names_is_declared():
    named = set(quotes.REASONS.values()) | {codec.WRONG_ENCODING}
    # the pipeline's own rules: counts.reject(underlying, kind, "reason", context)
    text = "".join(f.read_text() for f in sorted((REPO / "monitor" / "ingest").glob("*.py")))
    named |= set(re.findall(r'\.reject\(\s*[^,]+,\s*[^,]+,\s*"([a-z_]+)"', text))
    assert len(named) >= 12  # the pattern found the pipeline's reasons
    assert named - set(REJECTIONS) == set()
    # and nothing is declared that no code names
    assert set(REJECTIONS) - named == set()


def test_dead_letters_and_metrics_read_the_registry():
    assert DEAD_LETTER_REASONS == DEAD_LETTER == {
        "absurd_price", "absurd_size", "absurd_oi", "future_ts", "past_ts",
        "spot_unconfirmed", "apply_error"}
    assert REJECT_REASONS == tuple(REJECTIONS)


def test_the_docs_name_every_dead_lettered_reason():
    docs = (REPO / "docs" / "wire-format.md").read_text()
    assert all(f"`{r}`" in docs for r in DEAD_LETTER)
