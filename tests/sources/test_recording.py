"""Capture and replay with provenance (monitor/sources/recording.py): what a source
delivered, recorded with a manifest, replayed to the same books; a recording changed by one
byte fails verification, a recording whose ticks were changed consistently (manifest
rewritten) replays to books the comparison refuses."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid

import msgspec
import pytest
import redis

from monitor.books import book_fingerprint, fingerprints_differ
from monitor.sources.memory import MemorySource
from monitor.sources.recording import (
    MANIFEST,
    RecordingSource,
    ReplaySource,
    SourceUnavailable,
    _frames,
    verify,
)
from monitor.wire.codec import decode, encode
from monitor.wire.schema import OptionQuote, UnderlyingTick

pytestmark = pytest.mark.usefixtures("shared_redis")

T0 = 1_787_343_300_000_000_000


def _batches():
    return [[UnderlyingTick(T0 + i, "SPX", 100.0 + i, 100.5 + i, 100.2 + i),
             OptionQuote(T0 + i, "SPXW260821C07600000", 1.0 + i, 1.2 + i)] for i in range(5)]


async def _record(folder, batches, commit_upto: int | None, **kw) -> RecordingSource:
    rec = RecordingSource(MemorySource(batches), folder, **kw)
    await rec.start()
    async for _b in rec.batches():
        pass
    if commit_upto is not None:
        await rec.commit(commit_upto)
    rec.end_of_run({})
    await rec.stop()
    return rec


async def _replayed(folder) -> list:
    src = ReplaySource(folder)
    return [b.ticks async for b in src.batches()]


def test_only_the_applied_batches_replay_each_as_delivered(tmp_path):
    rec = asyncio.run(_record(tmp_path / "r", _batches(), commit_upto=2))
    # MemorySource tokens are 0, 1, ...: a commit of 2 covers the first three batches
    assert (rec.batches_written, rec.batches_applied) == (5, 3)
    manifest, problems = verify(tmp_path / "r")
    assert problems == [] and manifest["complete"] and manifest["batches_applied"] == 3
    assert manifest["segments"][0]["ticks"] == 10
    assert asyncio.run(_replayed(tmp_path / "r")) == _batches()[:3]


def test_segments_rotate_and_every_one_is_checked(tmp_path):
    folder = tmp_path / "r"
    asyncio.run(_record(folder, _batches(), commit_upto=4, segment_bytes=150))
    manifest, problems = verify(folder)
    assert problems == [] and len(manifest["segments"]) == 5  # one batch (~130 bytes) each
    assert asyncio.run(_replayed(folder)) == _batches()
    (folder / "segment-000003.ticks").unlink()
    (folder / "segment-000009.ticks").write_bytes(b"")
    seg2 = folder / "segment-000002.ticks"
    seg2.write_bytes(seg2.read_bytes()[:-3])
    _, problems = verify(folder)
    assert problems[0].startswith("segment-000002.ticks: sha256 ")
    assert problems[1:] == ["segment-000003.ticks: missing",
                            "segment-000009.ticks: not in the manifest"]
    with pytest.raises(ValueError, match=r"does not verify: segment-000002.* \(and 2 more\)"):
        ReplaySource(folder)


def test_a_recording_is_never_appended_to_another(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x").write_text("x")
    with pytest.raises(SourceUnavailable, match="is not empty"):
        asyncio.run(_record(tmp_path / "r", _batches(), commit_upto=None))


def test_fingerprints_tell_exact_and_solved_numbers_apart():
    cp = {"bid": [1.0, 2.0], "groups": [100.0, 0.99], "group_rate": [0.04], "smile_fits": [],
          "tape": {"usd": [5.0], "units": [1.0], "prints": 3}, "offsets": {"t:0": 7}}
    a = book_fingerprint(cp)
    assert fingerprints_differ(a, book_fingerprint({**cp, "offsets": {"t:0": 9}})) is None
    near = {**cp, "tape": {**cp["tape"], "usd": [5.0 * (1 + 1e-12)]}}
    assert fingerprints_differ(a, book_fingerprint(near)) is None
    far = {**cp, "tape": {**cp["tape"], "usd": [5.0 * (1 + 1e-7)]}}
    assert "solved number 0 is 5.0 against" in fingerprints_differ(a, book_fingerprint(far))
    moved = {**cp, "bid": [1.0, 2.01]}
    assert fingerprints_differ(a, book_fingerprint(moved)) == "its ticks' numbers differ (sha256)"
    printed = {**cp, "tape": {**cp["tape"], "prints": 4}}
    assert fingerprints_differ(a, book_fingerprint(printed)).endswith("(sha256)")


# -- end to end: `monitor run --record`, `monitor replay`, `monitor run --replay` ------------
def _monitor(*args, prefix):
    env = dict(os.environ, DEALERFLOW_REDIS__PREFIX=prefix, DEALERFLOW_LOG_FORMAT="json")
    return subprocess.run([sys.executable, "-m", "monitor.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env)


def _rewrite_one_bid(folder) -> None:
    """Change one quote of the last batch (no later quote overwrites it) and rewrite the
    manifest's sha256 to match: a consistent recording of other ticks."""
    import hashlib
    seg = folder / "segment-000001.ticks"
    frames = list(_frames(seg.read_bytes(), seg.name))
    received_ns, cols, errors, body = frames[-1]
    ticks = list(decode(body, "binary").ticks)
    i = next(k for k, t in enumerate(ticks) if isinstance(t, OptionQuote))
    t = ticks[i]
    ticks[i] = OptionQuote(t.ts_ns, t.symbol, t.bid + 0.05, t.ask + 0.05, t.bid_size,
                           t.ask_size)
    frames[-1] = [received_ns, cols, errors, encode(ticks, "binary")]
    data = b"".join(len(b).to_bytes(4, "big") + b
                    for b in (msgspec.msgpack.encode(f) for f in frames))
    seg.write_bytes(data)
    m = json.loads((folder / MANIFEST).read_text())
    m["segments"][0].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (folder / MANIFEST).write_text(json.dumps(m))


def test_record_then_replay_gives_the_recorded_books_and_a_changed_recording_does_not(
        tmp_path):
    prefix = f"dealerflow_test_rec_{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "session"
    try:
        out = _monitor("run", "--duration", "3", "--record", folder, "--metrics-port", "0",
                       "--no-summary", prefix=prefix)
        assert out.returncode == 0, out.stderr[-2000:]
        manifest = json.loads((folder / MANIFEST).read_text())
        assert manifest["source"] == "embedded simulator" and manifest["complete"]
        assert manifest["batches_applied"] == manifest["batches_written"] > 10
        assert set(manifest["books"]) == {"SPX"}
        sha = manifest["books"]["SPX"]["sha256"]

        out = _monitor("replay", "--verify", folder, prefix=prefix)
        assert out.returncode == 0, out.stdout
        assert "verified: 1 segment(s) as recorded" in out.stdout
        for _ in range(2):  # a second replay restores nothing of the first
            out = _monitor("run", "--replay", folder, "--metrics-port", "0", "--no-summary",
                           prefix=prefix)
            assert out.returncode == 0, out.stderr[-2000:]
            assert (f"replay: {manifest['batches_applied']:,} batches; every book is the "
                    f"recording's (SPX sha256 {sha[:12]}") in out.stdout
            assert "set aside" not in out.stderr
            assert "regime_history_restored" not in out.stderr
            assert "checkpoint_restored" not in out.stderr
        # the replay wrote under its own prefix, never the demo's or a live run's
        assert redis.Redis().exists(f"{prefix}-replay:SPX:state")

        changed = tmp_path / "changed"
        changed.mkdir()
        for f in folder.iterdir():
            (changed / f.name).write_bytes(f.read_bytes())
        seg = changed / "segment-000001.ticks"
        raw = bytearray(seg.read_bytes())
        raw[1000] ^= 0xFF
        seg.write_bytes(bytes(raw))
        out = _monitor("replay", changed, prefix=prefix)
        assert out.returncode == 1
        assert "FAILED: segment-000001.ticks: sha256 " in out.stdout
        out = _monitor("run", "--replay", changed, "--metrics-port", "0", prefix=prefix)
        assert out.returncode == 2
        assert out.stderr.strip().splitlines()[-1].startswith(
            f"monitor: error: {changed}: does not verify: segment-000001.ticks: sha256")

        _rewrite_one_bid(changed)
        assert verify(changed)[1] == []
        out = _monitor("run", "--replay", changed, "--metrics-port", "0", "--no-summary",
                       prefix=prefix)
        assert out.returncode == 1
        assert ("the replay's books differ from the recording's: SPX: its ticks' numbers "
                "differ (sha256)") in out.stderr
    finally:
        r = redis.Redis()
        keys = r.keys(f"{prefix}*")
        if keys:
            r.delete(*keys)


class _Paced(MemorySource):
    """Batches received 0.5 s apart (the recording's clock), whatever the wall clock says."""

    async def batches(self):
        k = 0
        async for b in super().batches():
            b.received_ns, k = T0 + k * 500_000_000, k + 1
            yield b


def _paced_sleeps(folder, speed: float, late_s: float) -> list[float]:
    """The waits a replay at ``speed`` asks for, on a clock that advances by each wait plus
    ``late_s`` per reading (processing slower than the recording)."""
    now, sleeps = [1000.0], []

    def clock() -> float:
        now[0] += late_s
        return now[0]

    async def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    async def go():
        src = ReplaySource(folder, speed=speed, clock=clock, sleep=sleep)
        return [b async for b in src.batches()]
    assert len(asyncio.run(go())) == 5
    return sleeps


def test_a_paced_replay_waits_the_recorded_gaps_divided_by_the_speed(tmp_path):
    folder = tmp_path / "r"

    async def record():
        rec = RecordingSource(_Paced(_batches()), folder)
        await rec.start()
        async for _b in rec.batches():
            pass
        await rec.commit(5)
        rec.end_of_run({})
        await rec.stop()
    asyncio.run(record())
    # 0.5 s apart at speed 2: 0.25 s between batches, nothing before the first
    assert _paced_sleeps(folder, 2.0, 0.0) == pytest.approx([0.25] * 4, rel=1e-12)
    # a replay already behind the recorded pace never waits
    assert _paced_sleeps(folder, 2.0, 10.0) == []


def test_commit_coverage_book_comparison_and_problems_named(tmp_path):
    from monitor.sources.recording import RecordingError, _covers, compare_books
    assert _covers({"t:0": 5}, {"t:0": 5}) and _covers({"t:0": 6}, {"t:0": 5})
    assert not _covers({"t:0": 4}, {"t:0": 5}) and not _covers({}, {"t:0": 0})
    assert _covers(3, 3) and not _covers(2, 3) and not _covers(None, 3)
    fp = {"x": 1}
    assert compare_books({"SPX": fp}, {"VIX": fp}) == {"SPX": "not in the replay",
                                                        "VIX": "not in the recording"}
    with pytest.raises(ValueError, match="segment_bytes must be > 0, got -1"):
        RecordingSource(MemorySource([]), tmp_path / "x", segment_bytes=-1)
    assert RecordingSource(MemorySource([]), tmp_path / "y").segment_bytes == 64 * 2**20
    folder = tmp_path / "r"
    asyncio.run(_record(folder, _batches(), commit_upto=4))
    (folder / "segment-000099.ticks").write_bytes(b"")
    with pytest.raises(ValueError) as err:
        ReplaySource(folder)
    assert str(err.value).endswith("does not verify: segment-000099.ticks: not in the manifest")
    # a frame cut short after a whole one: named with its offset, not a decoding error
    whole = (folder / "segment-000001.ticks").read_bytes()
    first = 4 + int.from_bytes(whole[:4], "big")
    with pytest.raises(RecordingError, match=rf"ends inside a frame at byte {first} "):
        list(_frames(whole[:first + 10], "seg"))


def test_the_manifest_counts_each_segment_and_frames_cut_in_their_header(tmp_path):
    folder = tmp_path / "r"
    asyncio.run(_record(folder, _batches(), commit_upto=4))
    manifest, problems = verify(folder)
    seg = manifest["segments"][0]
    # 5 batches of 2 ticks, event times T0..T0+4, no errors
    assert (seg["batches"], seg["ticks"], seg["errors"]) == (5, 10, 0)
    assert (seg["first_ts_ns"], seg["last_ts_ns"]) == (T0, T0 + 4)
    data = (folder / seg["file"]).read_bytes()
    first = 4 + int.from_bytes(data[:4], "big")
    from monitor.sources.recording import RecordingError
    with pytest.raises(RecordingError, match=rf"^seg: ends inside a frame header at byte "
                                             rf"{first}$"):
        list(_frames(data[:first + 2], "seg"))
    n = int.from_bytes(data[first:first + 4], "big")
    with pytest.raises(RecordingError, match=rf"^seg: ends inside a frame at byte {first} "
                                             rf"\({n} bytes announced, 6 there\)$"):
        list(_frames(data[:first + 10], "seg"))
    (folder / seg["file"]).write_bytes(data[:-1])
    _, problems = verify(folder)
    assert re.fullmatch(rf"{seg['file']}: sha256 [0-9a-f]{{16}}\.\.\. differs from the "
                        rf"manifest's {seg['sha256'][:16]}\.\.\. \(the file was changed\)",
                        problems[0]), problems[0]


def test_segment_size_zero_is_refused(tmp_path):
    with pytest.raises(ValueError, match="^segment_bytes must be > 0, got 0$"):
        RecordingSource(MemorySource([]), tmp_path / "r", segment_bytes=0)


def test_a_frame_cut_short_by_fewer_bytes_than_its_header_is_named():
    # a 12-byte frame with 11 of its bytes there (at the start of the file)
    from monitor.sources.recording import RecordingError
    data = (12).to_bytes(4, "big") + bytes(11)
    with pytest.raises(RecordingError, match=r"^seg: ends inside a frame at byte 0 "
                                             r"\(12 bytes announced, 11 there\)$"):
        list(_frames(data, "seg"))


def test_a_manifest_counting_one_tick_less_than_its_segment_fails_verify(tmp_path):
    folder = tmp_path / "r"
    asyncio.run(_record(folder, _batches(), commit_upto=4))
    manifest = json.loads((folder / MANIFEST).read_text())
    seg = manifest["segments"][0]
    seg["ticks"] -= 1
    (folder / MANIFEST).write_text(json.dumps(manifest))
    _, problems = verify(folder)
    assert problems == [f"{seg['file']}: 5 batches and 10 ticks, the manifest says 5 and 9"]


def test_segments_smaller_than_a_batch_hold_one_batch_each_and_two_problems_say_one_more(
        tmp_path):
    folder = tmp_path / "r"
    asyncio.run(_record(folder, _batches(), commit_upto=4, segment_bytes=10))
    manifest, problems = verify(folder)
    assert problems == [] and [s["batches"] for s in manifest["segments"]] == [1] * 5
    (folder / "segment-000001.ticks").unlink()
    (folder / "segment-000002.ticks").unlink()
    with pytest.raises(ValueError, match=r"does not verify: segment-000001.ticks: missing "
                                         r"\(and 1 more\)$"):
        ReplaySource(folder)


def test_a_segment_cut_inside_a_frame_with_its_hash_rewritten_is_named(tmp_path):
    import hashlib
    folder = tmp_path / "r"
    asyncio.run(_record(folder, _batches(), commit_upto=4))
    manifest = json.loads((folder / MANIFEST).read_text())
    seg = manifest["segments"][0]
    data = (folder / seg["file"]).read_bytes()[:-3]
    (folder / seg["file"]).write_bytes(data)
    seg["sha256"] = hashlib.sha256(data).hexdigest()  # consistent: only the frames tell
    (folder / MANIFEST).write_text(json.dumps(manifest))
    _, problems = verify(folder)
    assert len(problems) == 1 and re.fullmatch(
        rf"{seg['file']}: ends inside a frame at byte \d+ \(\d+ bytes announced, \d+ there\)",
        problems[0]), problems
