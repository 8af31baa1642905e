"""monitor.threads.ThreadChooser: all threads while the other processes leave the cores
idle, one when they keep a core busy; by hand with a fake /proc/stat and process clock."""

from __future__ import annotations

from monitor.threads import ThreadChooser, read_proc_stat


class Machine:
    """A fake machine: ``run(seconds, others, own)`` advances the wall clock and the busy
    CPU seconds of other processes (``others`` cores busy) and of this one (``own``)."""

    def __init__(self):
        self.t, self.busy, self.own = 0.0, 1000.0, 5.0
        self.readable = True

    def run(self, seconds: float, others: float, own: float) -> None:
        self.t += seconds
        self.busy += seconds * (others + own)
        self.own += seconds * own

    def chooser(self, max_threads=2, cores=2):
        return ThreadChooser(max_threads, sample_s=1.0, cores=cores,
                             reader=lambda: (self.busy, 10 * self.busy) if self.readable else None,
                             own_cpu=lambda: self.own, clock=lambda: self.t)


def test_quiet_machine_all_threads_busy_core_one():
    m = Machine()
    c = m.chooser()
    assert c.threads() == 2  # first look: no history yet, the default
    m.run(2.0, others=0.1, own=1.0)  # our own work does not count against us
    assert c.threads() == 2 and abs(c.other_cores - 0.1) < 1e-9
    m.run(2.0, others=1.0, own=1.0)  # another process keeps a core busy
    assert c.threads() == 1 and abs(c.other_cores - 1.0) < 1e-9
    m.run(0.5, others=0.0, own=0.0)  # within sample_s: the last choice stands
    assert c.threads() == 1
    m.run(2.0, others=0.2, own=2.0)  # the other process is gone
    assert c.threads() == 2


def test_thresholds_scale_with_cores_and_threads():
    m = Machine()
    c = m.chooser(max_threads=4, cores=8)
    c.threads()
    m.run(1.0, others=4.4, own=0.0)  # 3.6 cores idle for 4 threads: within half a core
    assert c.threads() == 4
    m.run(1.0, others=4.6, own=0.0)
    assert c.threads() == 1
    assert m.chooser(max_threads=1).threads() == 1


def test_unreadable_proc_stat_keeps_all_threads(tmp_path):
    m = Machine()
    m.readable = False
    c = m.chooser()
    m.run(2.0, others=2.0, own=0.0)
    assert c.threads() == 2
    assert read_proc_stat(str(tmp_path / "missing")) is None
    f = tmp_path / "stat"
    f.write_text("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n")
    busy, total = read_proc_stat(str(f))
    assert total > busy > 0 and abs(busy / total - 150 / 1000) < 1e-12
