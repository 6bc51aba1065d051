"""The model phase of a synthetic 3-hour call on the Converse simulator, for both request shapes
of the staged writer: wall time against the latency-only critical path, calls, throttles, cost
per video and output tokens per stage; and how the writing output grows with the call.

The staged writer runs unchanged over the real Bedrock client (limiter, breaker, retries) and
the real boto3 client, pointed at the local Converse simulator: output at 50 tokens/s, the
default quota (10 requests/min, 200,000 tokens/min, output burndown 5), time scaled down by
`TIME_SCALE`. Figures are in simulated seconds. The simulator answers each forced tool with a
schema-valid input built from the request (testing/canned_answers.py), so an answer's size
follows what the call must cover.

Request shapes:
- "compact": each extraction gets its own chunk plus a compact call-wide context as the
  shared (cached) prefix; the extractions run in waves the quota admits at once;
- "transcript": the whole transcript is the cached prefix of every call; the first extraction
  runs alone to write the cache.

Latency-only critical path: the stage graph's longest chain of calls with the simulator's
latency model (0.4 s + output tokens / 50 per call), quota ignored: extractions (the first one
alone in the transcript shape), merge, the slowest section group, review.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record_section
from synthetic_call import synthetic_call_vtt

from techne_assets.core.captions import parse_transcript
from techne_assets.core.transcript import Transcript, format_timestamp
from techne_assets.core.writing.base import Draft, WritingContext
from techne_assets.core.writing.staged import StagedModelWriter, usage_by_stage
from techne_assets.settings import DEFAULT_MODEL_ID, Settings
from techne_assets.testing.canned_answers import CannedAnswers
from techne_assets.testing.converse_simulator import AdmittedCall, ConverseSimulator
from techne_assets.testing.simulated_bedrock import simulated_bedrock_client

TIME_SCALE = 0.05
REQUESTS_PER_MINUTE = 10
TOKENS_PER_MINUTE = 200_000
OUTPUT_BURNDOWN = 5.0
OUTPUT_TOKENS_PER_SECOND = 50.0
BASE_LATENCY_SECONDS = 0.4
MAX_PARALLEL_CALLS = 6
EXTRACTION_TOOL = "registrar_extracao"


@dataclass(frozen=True)
class PhaseRun:
    shape: str
    draft: Draft
    wall_seconds: float
    phase_seconds: float
    critical_path_seconds: float
    throttles: int
    extraction_reservation: int
    peak_parallel_extractions: int
    extraction_quota_need: int
    chunk_tokens: list[int]
    first_wave_reservation: int
    # simulated seconds from the first admission: (stage, first admitted, last answered)
    stages: list[tuple[str, float, float]]


def latency_of(call: AdmittedCall) -> float:
    return BASE_LATENCY_SECONDS + call.output_tokens / OUTPUT_TOKENS_PER_SECOND


def critical_path(calls: list[AdmittedCall], *, first_alone: bool) -> float:
    extractions = [latency_of(c) for c in calls if c.tool_name == EXTRACTION_TOOL]
    extraction_level = (extractions[0] + max(extractions[1:], default=0.0)) if first_alone else max(extractions)
    merge = sum(latency_of(c) for c in calls if c.tool_name == "registrar_roteiro")
    groups = max(latency_of(c) for c in calls if c.tool_name.startswith("registrar_") and c.tool_name not in (
        EXTRACTION_TOOL, "registrar_roteiro", "registrar_revisao"))
    review = sum(latency_of(c) for c in calls if c.tool_name == "registrar_revisao")
    return extraction_level + merge + groups + review


def peak_overlap(calls: list[AdmittedCall]) -> int:
    events = sorted([(c.admitted_at, 1) for c in calls] + [(c.completed_at, -1) for c in calls])
    peak = running = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def run_phase(transcript: Transcript, shape: str) -> PhaseRun:
    simulator = ConverseSimulator(
        requests_per_minute=REQUESTS_PER_MINUTE,
        tokens_per_minute=TOKENS_PER_MINUTE,
        output_burndown=OUTPUT_BURNDOWN,
        output_tokens_per_second=OUTPUT_TOKENS_PER_SECOND,
        base_latency_seconds=BASE_LATENCY_SECONDS,
        time_scale=TIME_SCALE,
        responder=CannedAnswers(),
    )
    with simulator:
        client = simulated_bedrock_client(
            simulator, DEFAULT_MODEL_ID, Settings().price_for(DEFAULT_MODEL_ID),
            max_output_tokens=Settings().bedrock_max_output_tokens,
        )
        writer = StagedModelWriter(
            client, max_parallel_calls=MAX_PARALLEL_CALLS, request_shape=shape,
            chunk_max_tokens=Settings().chunk_max_tokens,
            tokens_per_minute=TOKENS_PER_MINUTE, output_burndown=OUTPUT_BURNDOWN,
        )
        started = time.perf_counter()
        draft = writer.write(
            transcript, WritingContext(source_name="synthetic-3h.mp4", media_duration=transcript.spoken_end)
        )
        wall = (time.perf_counter() - started) / TIME_SCALE
        calls = sorted(simulator.calls, key=lambda call: call.admitted_at)
        throttles = len(simulator.throttles)
    extractions = [c for c in calls if c.tool_name == EXTRACTION_TOOL]
    return PhaseRun(
        shape=shape,
        draft=draft,
        wall_seconds=wall,
        phase_seconds=(max(c.completed_at for c in calls) - calls[0].admitted_at) / TIME_SCALE,
        critical_path_seconds=critical_path(calls, first_alone=shape == "transcript"),
        throttles=throttles,
        extraction_reservation=max(c.reserved_tokens for c in extractions),
        peak_parallel_extractions=peak_overlap(extractions),
        extraction_quota_need=sum(c.reserved_tokens for c in extractions),
        # each extraction's whole input: its chunk plus what every one of them sends
        chunk_tokens=[c.input_tokens + c.cache_read_input_tokens + c.cache_write_input_tokens for c in extractions],
        first_wave_reservation=sum(
            c.reserved_tokens for c in extractions if c.admitted_at < min(e.completed_at for e in extractions)
        ),
        stages=stage_spans(calls),
    )


def stage_spans(calls: list[AdmittedCall]) -> list[tuple[str, float, float]]:
    start = calls[0].admitted_at
    kinds = {EXTRACTION_TOOL: "extract", "registrar_roteiro": "merge", "registrar_revisao": "review"}
    spans: dict[str, list[float]] = {}
    for call in calls:
        span = spans.setdefault(kinds.get(call.tool_name, "write"), [call.admitted_at, call.completed_at])
        span[0], span[1] = min(span[0], call.admitted_at), max(span[1], call.completed_at)
    return [(name, (a - start) / TIME_SCALE, (b - start) / TIME_SCALE) for name, (a, b) in spans.items()]


def timeline(run: PhaseRun) -> str:
    return ", ".join(f"{name} {first:.0f}–{last:.0f} s" for name, first, last in run.stages)


def chunk_list(run: PhaseRun) -> str:
    return " + ".join(f"{tokens:,}" for tokens in run.chunk_tokens)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min ({seconds:.0f} s)"


def shape_row(run: PhaseRun) -> str:
    draft = run.draft
    cache_read = sum(c.cache_read_input_tokens for c in draft.calls)
    cache_write = sum(c.cache_write_input_tokens for c in draft.calls)
    inputs = sum(c.input_tokens for c in draft.calls)
    return (
        f"| {run.shape} | {len(draft.calls)} | {minutes(run.phase_seconds)} | {minutes(run.critical_path_seconds)} | "
        f"{run.phase_seconds / run.critical_path_seconds:.2f} | {minutes(run.wall_seconds)} | {run.throttles} | {run.extraction_reservation:,} | "
        f"{TOKENS_PER_MINUTE // run.extraction_reservation} / {run.peak_parallel_extractions} | "
        f"{inputs:,} / {cache_write:,} / {cache_read:,} | {draft.output_tokens:,} | US$ {draft.cost_usd:.4f} |"
    )


def stage_row(run: PhaseRun) -> str:
    stages = usage_by_stage(run.draft.calls)
    cells = " | ".join(
        f"{stages[s].output_tokens:,} (US$ {stages[s].cost_usd:.3f})" if s in stages else "-"
        for s in ("extract", "merge", "write", "review")
    )
    return f"| {run.shape} | {cells} |"


def main() -> None:
    transcript = parse_transcript(synthetic_call_vtt().encode("utf-8"), "synthetic-3h.vtt")
    half = parse_transcript(synthetic_call_vtt(words=15_000, hours=1.5).encode("utf-8"), "synthetic-90m.vtt")
    runs = [run_phase(transcript, "compact"), run_phase(transcript, "transcript")]
    half_run = run_phase(half, "compact")
    whole = runs[0].draft
    writing = [usage_by_stage(d.calls)["write"].output_tokens for d in (half_run.draft, whole)]
    entries = [d.coverage.entries for d in (half_run.draft, whole)]
    best = min(runs, key=lambda run: (run.draft.cost_usd, run.wall_seconds))

    body = f"""\
Synthetic call: {transcript.word_count:,} words, {len(transcript.speakers)} speakers, \
{format_timestamp(transcript.spoken_end)}. Converse simulator: {OUTPUT_TOKENS_PER_SECOND:g} output tokens/s + \
{BASE_LATENCY_SECONDS:g} s per call, {REQUESTS_PER_MINUTE} requests/min, {TOKENS_PER_MINUTE:,} tokens/min, \
output burndown {OUTPUT_BURNDOWN:g}, time scale {TIME_SCALE:g} (figures in simulated time). Writer: chunks planned \
against that quota (at most {Settings().chunk_max_tokens:,} tokens), up to {MAX_PARALLEL_CALLS} calls in parallel, budgets derived per call, default price table \
(Sonnet 4). Targets: model phase ≤ 1.3× the latency-only critical path, 0 throttles, ≤ US$ 0.80 per video. \
Model phase: first request admitted to last answer; whole `write()` also holds the writer's own \
CPU time (chunking, prompts, validation, grounding), which the time scale magnifies {1 / TIME_SCALE:g}×.

| request shape | calls | model phase | critical path, latency only | phase / path | whole write() | 429s | extraction reservation (tokens) | extractions that fit in 200K / ran at once | input / cache write / cache read tokens | output tokens | cost per video |
|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(shape_row(run) for run in runs)}

Output tokens (and cost) per stage:

| request shape | extract | merge | write (4 section groups) | review |
|---|---|---|---|---|
{chr(10).join(stage_row(run) for run in runs)}

- Kept as the writer's default: **{best.shape}** (US$ {runs[0].draft.cost_usd:.2f} vs \
US$ {runs[1].draft.cost_usd:.2f} per video; model phase {minutes(runs[0].phase_seconds)} vs \
{minutes(runs[1].phase_seconds)}, compact vs transcript).
- Where the compact phase's time goes (simulated seconds from the first admission, first call \
admitted – last answer): {timeline(runs[0])}. The gaps between stages are the writer's own CPU \
time (validation, evidence, grounding), magnified {1 / TIME_SCALE:g}× by the time scale.
- Why a 3-hour call needs two windows: every extraction reserves its chunk plus its budget × \
{OUTPUT_BURNDOWN:g} (about 2.5 quota tokens per transcript token), so all of them together \
({runs[0].extraction_quota_need:,} quota tokens) never fit one {TOKENS_PER_MINUTE:,}-token window, for \
any chunking. The extraction plan (core/writing/budgets.py) makes the first wave the largest chunks \
of which four fit at once ({runs[0].first_wave_reservation:,} quota tokens) and cuts the rest into small \
chunks that run as the first wave answers: chunks of {chunk_list(runs[0])} input tokens. The previous \
design (six even chunks of 12,000 tokens, all at once) reserved 233,671 tokens: one large \
extraction waited a whole window, for a phase of 204 s against a 126 s path (1.62×).
- Coverage of the outline: {whole.coverage.fraction:.0%} ({whole.coverage.covered} of {whole.coverage.entries} \
entries); items dropped for lack of evidence: {len(whole.dropped_unevidenced)}; calls cut at max_tokens: \
{sum(c.stop_reason == "max_tokens" for c in whole.calls)}.
- Output grows with the call: a 90-minute call of the same density has {entries[0]} outline entries and \
{writing[0]:,} writing output tokens; the 3-hour call has {entries[1]} entries ({entries[1] / entries[0]:.2f}×) \
and {writing[1]:,} writing output tokens ({writing[1] / writing[0]:.2f}×): {writing[0] / entries[0]:.0f} and \
{writing[1] / entries[1]:.0f} writing tokens per entry, so the writing output is proportional to the items, with \
no fixed cap (the synthetic call repeats its sentences, so twice the words gives fewer than twice the distinct \
items; tests/test_model_writer_simulator.py doubles the items themselves and sees the output double)."""
    print(body)
    record_section("bench_model_phase", "Model phase (staged writer on the Converse simulator)", body)


if __name__ == "__main__":
    main()
