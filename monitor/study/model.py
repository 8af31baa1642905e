"""Result types of ``monitor study``: one :class:`Finding` per statistical test, one
:class:`ClaimResult` per claim (its verdict is its primary finding's), and the
:class:`StudyResult` that :func:`monitor.study.run_study` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monitor.fmt import finite
from monitor.study.stats import Estimate, verdict

__all__ = ["Finding", "ClaimResult", "StudyResult", "finding"]


@dataclass
class Finding:
    """One tested statement: estimate with its interval, sample size, verdict."""

    key: str
    statement: str            # the claim as tested, in words
    statistic: str            # what the number is
    unit: str                 # "%", "pp", "r", "share", "vol pts", ...
    estimate: float
    lo: float
    hi: float
    n: int                    # the n of the too-thin rule
    n_label: str              # what n counts, with the groups
    verdict: str
    method: str
    direction: str            # "+", "-", "0" (see stats.verdict)
    null: float = 0.0
    margin: float | None = None
    min_n: int = 0
    detail: dict = field(default_factory=dict)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.lo, self.hi)

    def as_dict(self) -> dict:
        return {"key": self.key, "statement": self.statement, "statistic": self.statistic,
                "unit": self.unit, "estimate": finite(self.estimate),
                "ci": [finite(self.lo), finite(self.hi)], "n": int(self.n),
                "n_label": self.n_label, "verdict": self.verdict, "method": self.method,
                "direction": self.direction, "null": self.null, "margin": self.margin,
                "min_n": self.min_n,
                "detail": {k: finite(v) if not isinstance(v, (str, list, dict, bool)) else v
                           for k, v in self.detail.items()}}


def finding(key: str, statement: str, statistic: str, est: Estimate, *, direction: str,
            min_n: int, unit: str = "", scale: float = 1.0, null: float = 0.0,
            margin: float | None = None, n_label: str | None = None,
            detail: dict | None = None) -> Finding:
    """Build a :class:`Finding` from an :class:`Estimate`; ``scale`` multiplies the
    estimate and interval (e.g. 100 for percent); ``null`` and ``margin`` are in the
    scaled unit."""
    e, lo, hi = est.estimate * scale, est.lo * scale, est.hi * scale
    v = verdict(lo, hi, n=est.n, min_n=min_n, direction=direction, null=null, margin=margin)
    det = dict(est.extra)
    if detail:
        det.update(detail)
    return Finding(key=key, statement=statement, statistic=statistic, unit=unit, estimate=e,
                   lo=lo, hi=hi, n=int(est.n), n_label=n_label or f"n = {est.n}",
                   verdict=v, method=est.method, direction=direction, null=null,
                   margin=margin, min_n=min_n, detail=det)


@dataclass
class ClaimResult:
    id: str
    title: str
    claim: str                               # the mechanical-flow claim in words
    findings: list[Finding]
    primary: str                             # key of the headline finding
    summary: str = ""
    tables: list[dict] = field(default_factory=list)  # {"title","headers","rows","note"}
    charts: list[dict] = field(default_factory=list)  # {"file","caption"}
    notes: list[str] = field(default_factory=list)
    plot: dict = field(default_factory=dict)          # data for report.py's charts

    @property
    def headline(self) -> Finding:
        return next(f for f in self.findings if f.key == self.primary)

    @property
    def verdict(self) -> str:
        return self.headline.verdict

    def finding(self, key: str) -> Finding:
        return next(f for f in self.findings if f.key == key)

    def __getitem__(self, k: str):
        return self.as_headline()[k]

    def as_headline(self) -> dict:
        h = self.headline
        return {"claim": self.id, "title": self.title, "statistic": h.statistic,
                "unit": h.unit, "estimate": finite(h.estimate),
                "ci": [finite(h.lo), finite(h.hi)], "n": h.n, "n_label": h.n_label,
                "verdict": h.verdict, "method": h.method}

    def as_dict(self) -> dict:
        return {**self.as_headline(), "claim_text": self.claim, "summary": self.summary,
                "findings": [f.as_dict() for f in self.findings],
                "charts": [c["file"] for c in self.charts], "notes": list(self.notes)}


@dataclass
class StudyResult:
    """What :func:`monitor.study.run_study` returns. ``claims`` maps "1".."5" to
    :class:`ClaimResult`; ``result["1"]`` is claim 1's headline dict (statistic, estimate,
    ci, n, verdict); ``daily_2026`` is the per-session table of the 2026 chains."""

    claims: dict[str, ClaimResult]
    daily_2026: list[dict]
    report_path: Path
    charts: list[Path]
    elapsed_s: float
    data_dir: Path
    inventory: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dropped_chains: list[dict] = field(default_factory=list)
    #: the levels scorecard (monitor.study.scorecard.ScoreRow), empty without own GEX
    scorecard: list = field(default_factory=list)

    def __getitem__(self, claim_id: str) -> dict:
        return self.claims[str(claim_id)].as_headline()

    def __iter__(self):
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)

    @property
    def headline(self) -> dict[str, dict]:
        return {k: c.as_headline() for k, c in self.claims.items()}

    def to_dict(self) -> dict:
        return {"report": str(self.report_path), "charts": [str(p) for p in self.charts],
                "elapsed_s": round(self.elapsed_s, 2), "data_dir": str(self.data_dir),
                "claims": {k: c.as_dict() for k, c in self.claims.items()},
                "daily_2026": [{k: finite(v) if isinstance(v, float) else v
                                for k, v in r.items()} for r in self.daily_2026],
                "dropped_chains": self.dropped_chains, "inventory": self.inventory,
                "notes": self.notes,
                "scorecard": [{"key": r.key, "statement": r.statement, "unit": r.unit,
                               "estimate": finite(r.estimate.estimate),
                               "ci": [finite(r.estimate.lo), finite(r.estimate.hi)],
                               "n": r.estimate.n, "method": r.estimate.method,
                               "published": r.published} for r in self.scorecard]}
