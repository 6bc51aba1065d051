"""Synthetic 3-hour call: parse → chunk → offline document (Markdown), time and peak memory.

Each repetition runs in a fresh process so peak RSS is that of one pass. Target: < 10 s and
< 300 MB peak RSS. Prints the figures and records them in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record_section  # noqa: E402

REPETITIONS = 5

ONE_PASS = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from synthetic_call import synthetic_call_vtt
from techne_assets.core.captions import parse_transcript
from techne_assets.core.chunking import chunk_transcript
from techne_assets.core.document import render_markdown
from techne_assets.core.writing.base import WritingContext
from techne_assets.core.writing.offline import OfflineWriter

vtt = synthetic_call_vtt().encode("utf-8")
started = time.perf_counter()
transcript = parse_transcript(vtt, "synthetic-3h.vtt")
parsed = time.perf_counter()
chunks = chunk_transcript(transcript, max_tokens=12000)
chunked = time.perf_counter()
draft = OfflineWriter().write(transcript, WritingContext(source_name="synthetic-3h.mp4", media_duration=3 * 3600))
written = time.perf_counter()
markdown = render_markdown(draft.document, transcript)
rendered = time.perf_counter()
print(json.dumps({
    "words": transcript.word_count, "segments": len(transcript.segments), "speakers": len(transcript.speakers),
    "chunks": len(chunks), "markdown_chars": len(markdown),
    "parse_s": parsed - started, "chunk_s": chunked - parsed, "write_s": written - chunked,
    "render_s": rendered - written, "total_s": rendered - started,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def main() -> None:
    here = str(Path(__file__).resolve().parent)
    runs = []
    for _ in range(REPETITIONS):
        out = subprocess.run([sys.executable, "-c", ONE_PASS, here], check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = runs[0]
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k.endswith("_s") or k == "peak_rss_mb"}
    lines = [
        f"Synthetic call: {first['words']} words, {first['segments']} segments, {first['speakers']} speakers, "
        f"{first['chunks']} chunks of ≤ 12,000 tokens; {REPETITIONS} runs, each in a fresh process.",
        "",
        "| phase | median seconds | min | max |",
        "|---|---|---|---|",
    ]
    for phase in ("parse_s", "chunk_s", "write_s", "render_s", "total_s"):
        values = [r[phase] for r in runs]
        lines.append(f"| {phase[:-2]} | {median[phase]:.3f} | {min(values):.3f} | {max(values):.3f} |")
    lines += [
        "",
        f"Peak RSS (whole process, including the interpreter and the synthetic VTT): median "
        f"{median['peak_rss_mb']:.0f} MB (target < 300 MB). Total median {median['total_s']:.2f} s (target < 10 s).",
    ]
    text = "\n".join(lines)
    print(text)
    record_section("bench_offline_pipeline", "Offline pipeline on a 3-hour call", text)


if __name__ == "__main__":
    main()
