"""``monitor study``: the mechanical-flow claims the monitor rests on, tested on real
history (``shared/data`` or a user's files in the same layouts), written up as a Markdown
report with PNG charts. Entry point: :func:`run_study`; see ``docs/study.md``."""

from monitor.study.data import StudyError
from monitor.study.model import ClaimResult, Finding, StudyResult
from monitor.study.runner import run_study

__all__ = ["run_study", "StudyResult", "ClaimResult", "Finding", "StudyError"]
