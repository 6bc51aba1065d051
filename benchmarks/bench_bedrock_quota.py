"""Backfill-shaped load on one Bedrock quota: 6 processes x 6 calls of 20K input / ~4K output
tokens against the Converse simulator at 200,000 tokens/min and 10 requests/min (Claude
4-family burndown 5), through the real client, limiter and breaker sharing a SQLite state.

Time is scaled (TIME_SCALE): one simulated minute lasts 60 * TIME_SCALE seconds. Figures are
given in simulated time (what a real run would take) and in wall time.

Quota math: a call reserves 20,000 + 4,000 x 5 = 40,000 quota tokens and, after settlement,
holds 20,000 + 3,990 x 5 = 39,950; 36 calls need 1.44M quota tokens, 7.2 minutes at 200K/min.
That is the floor; using >= 80% of the quota means finishing within about 9 minutes.

Run: python benchmarks/bench_bedrock_quota.py   (prints, and replaces its section of RESULTS.md)
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record_section

from techne_assets.core.tokens import estimate_tokens
from techne_assets.testing.converse_simulator import CannedReply, ConverseSimulator
from techne_assets.testing.quota_workload import QuotaSetup, run_calls, text_of_tokens

MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
TOKENS_PER_MINUTE = 200_000
REQUESTS_PER_MINUTE = 10
BURNDOWN = 5.0
PROCESSES = 6
CALLS_EACH = 6
INPUT_TOKENS = 20_000
MAX_TOKENS = 4_000
OUTPUT_TOKENS = 3_990  # just under max_tokens, so the answer is complete (end_turn)
# Claude Sonnet-class output speed on Bedrock is roughly 50-80 tokens/s. At 50 tokens/s a
# 3,990-token answer takes 80 s, longer than the quota window, so 6 processes calling one
# after another cannot even ask for the whole quota (6 x 40K per 80 s = 180K/min): the
# processes, not the quota, set the pace. 80 tokens/s (50 s per answer) makes the quota the
# bottleneck, which is what this benchmark measures; BENCH_OUTPUT_TPS=50 shows the other case.
OUTPUT_TOKENS_PER_SECOND = float(os.environ.get("BENCH_OUTPUT_TPS", "80"))
TIME_SCALE = float(os.environ.get("BENCH_TIME_SCALE", "0.2"))
SYSTEM = "Você escreve documentos de treinamento."


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> tuple[str, list[str]]:
    prompt = text_of_tokens(INPUT_TOKENS - estimate_tokens(SYSTEM))
    simulator = ConverseSimulator(
        requests_per_minute=REQUESTS_PER_MINUTE,
        tokens_per_minute=TOKENS_PER_MINUTE,
        output_burndown=BURNDOWN,
        output_tokens_per_second=OUTPUT_TOKENS_PER_SECOND,
        time_scale=TIME_SCALE,
        responder=lambda call: CannedReply(text="Seção do documento.", output_tokens=OUTPUT_TOKENS),
    )
    with tempfile.TemporaryDirectory() as state_dir, simulator:
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = simulator.endpoint_url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        setup = QuotaSetup(
            state_path=str(Path(state_dir) / "bedrock_state.sqlite3"),
            model_id=MODEL,
            requests_per_minute=REQUESTS_PER_MINUTE,
            tokens_per_minute=TOKENS_PER_MINUTE,
            output_burndown=BURNDOWN,
            time_scale=TIME_SCALE,
        )
        work = partial(
            run_calls, setup, calls=CALLS_EACH, system=SYSTEM, prompt=prompt, max_tokens=MAX_TOKENS
        )
        started = time.time()
        with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
            results = pool.starmap(work, [()] * PROCESSES)
        wall = time.time() - started

    outcomes = [outcome for result in results for outcome in result]
    calls = simulator.calls
    failed = [outcome.error for outcome in outcomes if not outcome.ok]
    first = min(call.admitted_at for call in calls)
    last = max(call.completed_at for call in calls)
    busy_minutes = (last - first) / TIME_SCALE / 60
    quota_tokens = sum(call.quota_tokens for call in calls)
    raw_tokens = sum(
        call.input_tokens + call.cache_write_input_tokens + call.output_tokens for call in calls
    )
    waits = [outcome.waited_seconds / TIME_SCALE for outcome in outcomes]
    floor_minutes = len(calls) * (INPUT_TOKENS + OUTPUT_TOKENS * BURNDOWN) / TOKENS_PER_MINUTE
    rows = [
        ("calls (processes x calls)", f"{len(outcomes)} ({PROCESSES} x {CALLS_EACH})"),
        ("failed calls", f"{len(failed)}"),
        ("throttles (HTTP 429) seen", f"{len(simulator.throttles)}"),
        (
            "peak quota tokens in any 1-min window",
            f"{simulator.peak_window_quota_tokens():,} of {TOKENS_PER_MINUTE:,}",
        ),
        (
            "quota tokens used / min (burndown 5)",
            f"{quota_tokens / busy_minutes:,.0f} = {quota_tokens / busy_minutes / TOKENS_PER_MINUTE:.1%} of quota",
        ),
        ("raw tokens / min (input + output)", f"{raw_tokens / busy_minutes:,.0f}"),
        (
            "busy time, first admission to last answer",
            f"{busy_minutes:.2f} min simulated (floor {floor_minutes:.2f} min)",
        ),
        (
            "wall time (time scale)",
            f"{wall:.1f} s ({TIME_SCALE:g}; {wall / TIME_SCALE / 60:.2f} min simulated incl. process start)",
        ),
        (
            "limiter wait per call, median / p95",
            f"{statistics.median(waits):.1f} s / {percentile(waits, 0.95):.1f} s simulated",
        ),
    ]
    table = "\n".join(
        ["| figure | value |", "|---|---|", *[f"| {name} | {value} |" for name, value in rows]]
    )
    body = (
        f"{PROCESSES} processes x {CALLS_EACH} Converse calls of {INPUT_TOKENS:,} input / {OUTPUT_TOKENS:,} output "
        f"tokens (max_tokens {MAX_TOKENS:,}), quota {TOKENS_PER_MINUTE:,} tokens/min and {REQUESTS_PER_MINUTE} "
        f"requests/min, output burndown {BURNDOWN:g}, simulated output speed {OUTPUT_TOKENS_PER_SECOND:g} tokens/s; "
        "limiter and breaker state shared through SQLite. Times are simulated (real-equivalent) unless marked wall.\n\n"
        f"{table}\n" + "".join(f"\n- failed: {error}" for error in failed)
    )
    return body, failed


if __name__ == "__main__":
    body, failed = main()
    print(body)
    record_section(
        "bench_bedrock_quota", "Bedrock quota: 6 processes sharing 200K tokens/min", body
    )
    sys.exit(1 if failed else 0)
