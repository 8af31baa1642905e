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


def test_every_reason_reaches_the_counts_and_the_metrics():
    """One pass over the registry: a reason declared there (and nowhere else) is a count of
    the pipeline, a series of the metrics from the start (at 0, then counted) and, when
    it is poison, a tick kept for the dead-letter topic."""
    from monitor.ingest import Counts
    from monitor.sinks.metrics import Metrics
    from monitor.wire.schema import OptionQuote

    counts = Counts()
    metrics = Metrics()
    metrics.add_underlying("SPX")
    before = metrics.render().decode()
    for i, reason in enumerate(REJECTIONS):
        label = f'dealerflow_ticks_rejected_total{{reason="{reason}",underlying="SPX"}}'
        assert f"{label} 0.0" in before, reason
        counts.current = OptionQuote(symbol=f"SPX{i}", ts_ns=i, bid=1.0, ask=1.1)
        counts.reject("SPX", "quote", reason, f"context of {reason}")
        metrics.count_rejected("SPX", reason, i + 1)
    after = metrics.render().decode()
    for i, reason in enumerate(REJECTIONS):
        label = f'dealerflow_ticks_rejected_total{{reason="{reason}",underlying="SPX"}}'
        assert f"{label} {float(i + 1)}" in after, reason
        assert counts.rejected[("SPX", reason)] == 1
    dead = counts.take_dead()
    assert [r for r, _, _ in dead] == [r for r in REJECTIONS if r in DEAD_LETTER]
    assert all(ctx == f"context of {r}" for r, ctx, _ in dead)
    assert [t.symbol for _, _, t in dead] == [f"SPX{i}" for i, r in enumerate(REJECTIONS)
                                             if r in DEAD_LETTER]


async def test_every_dead_lettered_reason_is_the_record_s_header(kafka_bootstrap):
    """The source's dead-letter producer, against the real broker: each poison reason of
    the registry is the ``reason`` header of its record, with the tick as JSON."""
    from monitor.wire.codec import decode
    from monitor.wire.schema import OptionQuote
    from tests.broker import create_topics
    from tests.sources.test_kafka_poison import _dead_letters
    from tests.sources.test_kafka_source import _settings, _source, _topics

    topics = _topics()
    await create_topics(kafka_bootstrap, [topics.ticks, topics.dead_letter], 1)
    src = _source(_settings(kafka_bootstrap, topics))
    await src.start()
    try:
        poison = sorted(DEAD_LETTER)
        await src.dead_letter_ticks(
            [(r, f"context of {r}", OptionQuote(symbol=f"SPX{i}", ts_ns=i, bid=1.0, ask=1.1))
             for i, r in enumerate(poison)], "test:0<1")
    finally:
        await src.stop()
    recs = await _dead_letters(kafka_bootstrap, topics.dead_letter, len(poison))
    assert [dict(r.headers)["reason"].decode() for r in recs] == poison
    assert [decode(r.value, "json").ticks[0].symbol for r in recs] == [
        f"SPX{i}" for i in range(len(poison))]
