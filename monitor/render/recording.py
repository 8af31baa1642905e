"""The report of ``monitor replay --verify FOLDER``: what a recording holds and whether it
is as it was written (:func:`monitor.sources.recording.verify`)."""

from __future__ import annotations

from monitor.fmt import ny_time


def render_verification(folder, manifest: dict, problems: list[str]) -> str:
    segs = manifest.get("segments", [])
    bad = {p.split(":", 1)[0] for p in problems}
    out = [f"recording {folder}: source {manifest.get('source')}, created "
           f"{ny_time(manifest.get('created_utc'))}, monitor {manifest.get('monitor_version')}"
           + ("" if manifest.get("complete") else " (INCOMPLETE: its run did not end cleanly)")]
    for s in segs:
        out.append(f"  {s['file']}  {s['batches']:,} batches  {s['ticks']:,} ticks  "
                   f"{s['errors']:,} decode errors  {s['bytes'] / 1e6:,.1f} MB  sha256 "
                   f"{s['sha256'][:12]}  {'FAILED' if s['file'] in bad else 'ok'}")
    firsts = [s["first_ts_ns"] for s in segs if s.get("first_ts_ns") is not None]
    lasts = [s["last_ts_ns"] for s in segs if s.get("last_ts_ns") is not None]
    if firsts:
        out.append(f"  ticks from {ny_time(min(firsts), seconds=True)} to "
                   f"{ny_time(max(lasts), seconds=True)} (event time)")
    books = manifest.get("books") or {}
    out.append(f"  {manifest.get('batches_applied', 0):,} of "
               f"{manifest.get('batches_written', 0):,} batches applied by the recording run"
               + (("; its final books: " + ", ".join(
                   f"{r} sha256 {b['sha256'][:12]}" for r, b in sorted(books.items())))
                  if books else "; no final books (not compared on replay)"))
    if problems:
        out += [f"FAILED: {p}" for p in problems]
    else:
        out.append(f"verified: {len(segs)} segment(s) as recorded; `monitor run --replay "
                   f"{folder}` replays the applied batches and compares the books")
    return "\n".join(out)
