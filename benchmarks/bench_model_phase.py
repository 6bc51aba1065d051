"""The model phase of a synthetic 3-hour call on the Converse simulator: wall time against the
critical-path bound of the stage graph, and cost per video with and without prompt caching.

The staged writer runs unchanged over the real Bedrock client (limiter, breaker, retries) and
the real boto3 client, pointed at the local Converse simulator: output at 50 tokens/s, the
default quota (10 requests/min, 200,000 tokens/min, output burndown 5), time scaled down by
`TIME_SCALE`. Figures are in simulated seconds. The simulator answers each forced tool with a
valid input of a typical size, built from the transcript lines of the range it is asked about.

Two bounds for the stage graph, from the simulator's latency model and the calls it served:
- latency only: the longest chain of calls (first extraction, which writes the prompt cache,
  then the longest of the other extractions, then merge, write and review), quota ignored;
- with the quota: the same graph scheduled greedily under the same sliding-window quota the
  simulator enforces (each call admitted as soon as its reservation fits), with the
  latencies and token counts of the calls actually made.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record_section
from synthetic_call import synthetic_call_vtt

from techne_assets.adapters.bedrock import BedrockConverseClient
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, QuotaLimiter
from techne_assets.adapters.bedrock_state import InProcessStateStore
from techne_assets.core.captions import parse_transcript
from techne_assets.core.tokens import estimate_tokens
from techne_assets.core.transcript import Transcript, format_timestamp
from techne_assets.core.writing.base import WritingContext
from techne_assets.core.writing.prompts import transcript_block
from techne_assets.core.writing.staged import StagedModelWriter, usage_by_stage
from techne_assets.settings import DEFAULT_MODEL_ID, Settings
from techne_assets.testing.canned_answers import CannedAnswers
from techne_assets.testing.converse_simulator import ConverseSimulator

TIME_SCALE = 0.05
REQUESTS_PER_MINUTE = 10
TOKENS_PER_MINUTE = 200_000
OUTPUT_BURNDOWN = 5.0
OUTPUT_TOKENS_PER_SECOND = 50.0
BASE_LATENCY_SECONDS = 0.4
MAX_PARALLEL_CHUNKS = 4


@dataclass(frozen=True)
class ServedCall:
    """One call as the simulator served it, in simulated units."""

    latency: float
    reserved_tokens: int
    quota_tokens: int


@dataclass(frozen=True)
class PhaseRun:
    wall_seconds: float
    latency_bound_seconds: float
    quota_bound_seconds: float
    throttles: int
    extraction_reservation: int
    calls: int
    cost_usd: float
    stage_costs: dict[str, float]
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int


def latency_of(output_tokens: int) -> float:
    return BASE_LATENCY_SECONDS + output_tokens / OUTPUT_TOKENS_PER_SECOND


def stage_graph(served: list[ServedCall], *, warm_first: bool) -> list[list[ServedCall]]:
    """The calls in dependency levels: [first extraction], [other extractions], [merge], [write], [review]."""
    *extractions, merge, write, review = served
    levels = [extractions[:1], extractions[1:]] if warm_first else [extractions]
    return [level for level in levels if level] + [[merge], [write], [review]]


def latency_bound(levels: list[list[ServedCall]]) -> float:
    return sum(max(call.latency for call in level) for level in levels)


def quota_bound(levels: list[list[ServedCall]], *, max_parallel: int) -> float:
    """Makespan of the graph when each call is admitted as soon as the sliding window allows."""
    window = 60.0
    admitted: list[tuple[float, float, ServedCall]] = []  # (admitted at, completed at, call)

    def fits(t: float, call: ServedCall) -> bool:
        live = [(a, c, other) for a, c, other in admitted if a > t - window]
        held = sum(other.quota_tokens if c <= t else other.reserved_tokens for _, c, other in live)
        return (
            len(live) + 1 <= REQUESTS_PER_MINUTE
            and held + call.reserved_tokens <= TOKENS_PER_MINUTE
        )

    ready = 0.0
    for level in levels:
        finishes: list[float] = []
        running: list[float] = []
        for call in level:
            t = ready
            if len(running) >= max_parallel:
                t = max(t, sorted(running)[len(running) - max_parallel])
            candidates = sorted(
                {
                    t,
                    *(c for _, c, _ in admitted if c > t),
                    *(a + window for a, _, _ in admitted if a + window > t),
                }
            )
            start = next(candidate for candidate in candidates if fits(candidate, call))
            admitted.append((start, start + call.latency, call))
            running.append(start + call.latency)
            finishes.append(start + call.latency)
        ready = max(finishes)
    return ready


def run_phase(transcript: Transcript, *, use_prompt_cache: bool) -> PhaseRun:
    settings = Settings()
    price_table = {DEFAULT_MODEL_ID: settings.price_for(DEFAULT_MODEL_ID)}
    simulator = ConverseSimulator(
        requests_per_minute=REQUESTS_PER_MINUTE,
        tokens_per_minute=TOKENS_PER_MINUTE,
        output_burndown=OUTPUT_BURNDOWN,
        output_tokens_per_second=OUTPUT_TOKENS_PER_SECOND,
        base_latency_seconds=BASE_LATENCY_SECONDS,
        time_scale=TIME_SCALE,
        responder=CannedAnswers(transcript),
    )
    with simulator:
        runtime = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=simulator.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=16
            ),
        )
        store = InProcessStateStore()
        client = BedrockConverseClient(
            DEFAULT_MODEL_ID,
            price_table=price_table,
            limiter=QuotaLimiter(
                store,
                DEFAULT_MODEL_ID,
                requests_per_minute=REQUESTS_PER_MINUTE,
                tokens_per_minute=TOKENS_PER_MINUTE,
                output_burndown=OUTPUT_BURNDOWN,
                window_seconds=60 * TIME_SCALE,
                safety_seconds=TIME_SCALE,
                poll_seconds=TIME_SCALE,
            ),
            breaker=CircuitBreaker(
                store, DEFAULT_MODEL_ID, failure_threshold=5, timeout_seconds=300 * TIME_SCALE
            ),
            runtime_client=runtime,
            max_output_tokens=16_384,
            sleep=lambda seconds: time.sleep(seconds * TIME_SCALE),
        )
        writer = StagedModelWriter(
            client,
            chunk_max_tokens=12_000,
            max_parallel_chunks=MAX_PARALLEL_CHUNKS,
            use_prompt_cache=use_prompt_cache,
        )
        started = time.perf_counter()
        draft = writer.write(
            transcript, WritingContext(source_name="synthetic-3h.mp4", media_duration=3 * 3600)
        )
        wall = (time.perf_counter() - started) / TIME_SCALE
        served_calls = sorted(simulator.calls, key=lambda call: call.admitted_at)
        throttles = len(simulator.throttles)

    served = [
        ServedCall(
            latency=latency_of(c.output_tokens),
            reserved_tokens=c.reserved_tokens,
            quota_tokens=c.quota_tokens,
        )
        for c in served_calls
    ]
    levels = stage_graph(served, warm_first=use_prompt_cache)
    return PhaseRun(
        wall_seconds=wall,
        latency_bound_seconds=latency_bound(levels),
        quota_bound_seconds=quota_bound(levels, max_parallel=MAX_PARALLEL_CHUNKS),
        throttles=throttles,
        extraction_reservation=served[0].reserved_tokens,
        calls=len(draft.calls),
        cost_usd=draft.cost_usd,
        stage_costs={stage: usage.cost_usd for stage, usage in usage_by_stage(draft.calls).items()},
        input_tokens=sum(c.input_tokens for c in draft.calls),
        cache_read_tokens=sum(c.cache_read_input_tokens for c in draft.calls),
        cache_write_tokens=sum(c.cache_write_input_tokens for c in draft.calls),
        output_tokens=draft.output_tokens,
    )


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min ({seconds:.0f} s)"


def main() -> None:
    transcript = parse_transcript(synthetic_call_vtt().encode("utf-8"), "synthetic-3h.vtt")
    cached = run_phase(transcript, use_prompt_cache=True)
    uncached = run_phase(transcript, use_prompt_cache=False)

    rows = []
    for label, run in (("with prompt cache", cached), ("without prompt cache", uncached)):
        rows.append(
            f"| {label} | {run.calls} | {minutes(run.wall_seconds)} | {minutes(run.latency_bound_seconds)} | "
            f"{minutes(run.quota_bound_seconds)} | {run.wall_seconds / run.quota_bound_seconds:.2f} | "
            f"{run.throttles} | {run.input_tokens:,} / {run.cache_write_tokens:,} / {run.cache_read_tokens:,} | "
            f"{run.output_tokens:,} | US$ {run.cost_usd:.4f} |"
        )
    stages = " · ".join(f"{stage} US$ {cost:.4f}" for stage, cost in cached.stage_costs.items())
    saving = 1 - cached.cost_usd / uncached.cost_usd
    block_tokens = estimate_tokens(transcript_block(transcript))
    body = f"""\
Synthetic call: {transcript.word_count:,} words, {len(transcript.speakers)} speakers, \
{format_timestamp(transcript.spoken_end)}; transcript block {block_tokens:,} tokens (estimate). Converse simulator: \
{OUTPUT_TOKENS_PER_SECOND:g} output tokens/s + {BASE_LATENCY_SECONDS:g} s per call, \
{REQUESTS_PER_MINUTE} requests/min, {TOKENS_PER_MINUTE:,} tokens/min, output burndown \
{OUTPUT_BURNDOWN:g}, time scale {TIME_SCALE:g} (figures in simulated time). Writer: chunks of \
12,000 tokens, up to {MAX_PARALLEL_CHUNKS} extractions in parallel, default price table.

| run | calls | wall time | bound, latency only | bound, latency + quota | wall / bound | 429s | input / cache write / cache read tokens | output tokens | cost per video |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

- Cost per stage with the cache: {stages}.
- Prompt caching saves {saving:.0%} of the model cost per video.
- An extraction call reserves {cached.extraction_reservation:,} quota tokens at admission (the \
whole transcript, cached or not, plus `max_tokens` × burndown), so at most \
{TOKENS_PER_MINUTE // cached.extraction_reservation} fit in the {TOKENS_PER_MINUTE:,} tokens/min \
window at once, whatever `max_parallel_chunks` allows; a settled call with the cache holds only \
its uncached input and output × burndown, one without it keeps the whole transcript for a minute."""
    print(body)
    record_section(
        "bench_model_phase", "Model phase (staged writer on the Converse simulator)", body
    )


if __name__ == "__main__":
    main()
