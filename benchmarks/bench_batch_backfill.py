"""An archive backfill of 3-hour calls through Bedrock batch versus on-demand Converse, at the
default quota: model cost, wall time (with each job's turnaround as a parameter), the on-demand
quota the backfill takes, and the latency of a new video that arrives meanwhile.

What runs is the platform's own code: the staged writer over `BatchDeferringClient` for every
pass of a batch group (the same prompts, tools and validation as on-demand), the records built
by `converse_record`/`record_id`, written and read back by the `BatchLedger` (pass results and
JSONL inputs on S3, answers in the store), jobs created and followed with `BedrockBatchJobs`
through boto3 against the batch-job stand-in (`testing/batch_service.py`, over HTTP, reading
and writing moto's S3 over HTTP), and the answers parsed by `answers_from_output` at the batch
price. On-demand is the same writer over the real Bedrock client (limiter, breaker, retries)
against the Converse simulator at 10 requests/min, 200,000 tokens/min, output burndown 5, time
scaled by `TIME_SCALE` (figures in simulated time).

Scaling, stated in the output: `BATCH_VIDEOS` distinct synthetic calls are written through
batch (and `ON_DEMAND_VIDEOS` through on-demand) and the 200-video archive's figures are those
per-video figures times 200; the job minimum is scaled the same way (100 records for 200 videos
→ `min_records` for the simulated group), so every stage still goes through a job. The sensor's
own passes are run here in-process, in order, instead of by Dagster runs (tests/test_batch_*
and the end-to-end test cover that wiring); the runner looks at a job once its turnaround is
over, as the sensor's 5-minute poll barely touches a job of hours. Wall times of the batch path
are computed from the measured pass times and the turnaround parameter, not waited for.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record_section
from synthetic_call import synthetic_call_vtt

from techne_assets.adapters.batch_ledger import BatchLedger, PassResult
from techne_assets.adapters.bedrock_batch import (
    BedrockBatchJobs,
    answers_from_output,
    job_name,
    read_outputs,
)
from techne_assets.adapters.storage import LocalStorage, S3Storage
from techne_assets.core.captions import parse_transcript
from techne_assets.core.transcript import Transcript
from techne_assets.core.writing.base import Draft, RequestsDeferred, WritingContext
from techne_assets.core.writing.batch_client import BatchDeferringClient
from techne_assets.core.writing.staged import StagedModelWriter
from techne_assets.settings import DEFAULT_MODEL_ID, Settings
from techne_assets.testing.batch_service import BatchService
from techne_assets.testing.canned_answers import CannedAnswers
from techne_assets.testing.converse_simulator import ConverseSimulator
from techne_assets.testing.moto_server import running_moto_server
from techne_assets.testing.simulated_bedrock import simulated_bedrock_client

ARCHIVE_VIDEOS = 200
BATCH_VIDEOS = 6
ON_DEMAND_VIDEOS = 4
TIME_SCALE = 0.05
# The new-video latencies run slower: the writer's own CPU time (magnified 1/scale times in
# simulated seconds) then moves the ratios less with the machine's load.
LATENCY_TIME_SCALE = 0.2
REQUESTS_PER_MINUTE = 10
TOKENS_PER_MINUTE = 200_000
OUTPUT_BURNDOWN = 5.0
OUTPUT_TOKENS_PER_SECOND = 50.0
BASE_LATENCY_SECONDS = 0.4
MAX_PARALLEL_CALLS = 6
POOL_LIMIT = 2  # the `bedrock` pool (BedrockPoolLimit): draft steps at once, on-demand or pass runs
TURNAROUNDS_HOURS = (1, 6, 24)
JOB_WALL_SECONDS = 60.0  # the stand-in's real turnaround per job: long enough to write a new video meanwhile
LATENCY_SAMPLES = 3  # new-video latencies, idle and during the jobs: figures are their medians
MODEL_ROLE = "arn:aws:iam::123456789012:role/techne-assets-bench-bedrock-batch"
WORK_BUCKET = "techne-bench-work"
GROUP = "benchbatch"
ERROR_EVERY = 10  # the variant with record errors: every 10th record of a job errs


def synthetic_calls(count: int, first_seed: int) -> list[tuple[str, Transcript]]:
    """Distinct 3-hour calls (different seeds), so no two videos share a request."""
    calls = []
    for seed in range(first_seed, first_seed + count):
        name = f"arquivo/chamada-{seed:03d}.mp4"
        vtt = synthetic_call_vtt(seed=seed)
        calls.append((name, parse_transcript(vtt.encode("utf-8"), f"chamada-{seed:03d}.vtt")))
    return calls


def context_of(name: str, transcript: Transcript) -> WritingContext:
    return WritingContext(source_name=Path(name).name, media_duration=transcript.spoken_end)


def on_demand_simulator(time_scale: float = TIME_SCALE) -> ConverseSimulator:
    return ConverseSimulator(
        requests_per_minute=REQUESTS_PER_MINUTE, tokens_per_minute=TOKENS_PER_MINUTE,
        output_burndown=OUTPUT_BURNDOWN, output_tokens_per_second=OUTPUT_TOKENS_PER_SECOND,
        base_latency_seconds=BASE_LATENCY_SECONDS, time_scale=time_scale, responder=CannedAnswers(),
    )


def on_demand_client(simulator: ConverseSimulator):
    settings = Settings()
    return simulated_bedrock_client(simulator, DEFAULT_MODEL_ID, settings.price_for(DEFAULT_MODEL_ID),
                                    max_output_tokens=settings.bedrock_max_output_tokens)


def timed_write(client, name: str, transcript: Transcript, shape: str,
                scale: float = TIME_SCALE) -> tuple[Draft, float]:
    """A draft and its latency in simulated seconds."""
    writer = StagedModelWriter(client, max_parallel_calls=MAX_PARALLEL_CALLS, request_shape=shape)
    started = time.perf_counter()
    draft = writer.write(transcript, context_of(name, transcript))
    return draft, (time.perf_counter() - started) / scale


class TimedClient:
    """One video's view of a shared on-demand client: when each of its calls started (before the
    limiter) and returned, so its model phase includes any wait for quota others hold."""

    def __init__(self, client):
        self.client = client
        self.spans: list[tuple[float, float]] = []

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def converse(self, **arguments):
        started = time.perf_counter()
        reply = self.client.converse(**arguments)
        self.spans.append((started, time.perf_counter()))
        return reply


@dataclass(frozen=True)
class Latency:
    write_seconds: float  # the whole write(), simulated
    model_phase_seconds: float  # first call made to last answer, simulated


def new_video_latency(client, name: str, transcript: Transcript) -> Latency:
    timed = TimedClient(client)
    _, write_seconds = timed_write(timed, name, transcript, "compact", LATENCY_TIME_SCALE)
    phase = (max(end for _, end in timed.spans) - min(start for start, _ in timed.spans)) / LATENCY_TIME_SCALE
    return Latency(write_seconds, phase)


def median_latency(latencies: list[Latency]) -> Latency:
    return Latency(statistics.median(x.write_seconds for x in latencies),
                   statistics.median(x.model_phase_seconds for x in latencies))


class JobWindows:
    """The spans from a job's submission until the runner looks at it again, numbered."""

    def __init__(self):
        self._open = threading.Event()
        self.number = 0

    def open(self) -> None:
        self.number += 1
        self._open.set()

    def close(self) -> None:
        self._open.clear()

    def current(self, timeout: float) -> int | None:
        """The open window's number, waiting up to `timeout` for one."""
        return self.number if self._open.wait(timeout) else None


def latencies_while_jobs_run(client, name: str, transcript: Transcript, windows: JobWindows,
                             backfill_done: threading.Event) -> list[Latency]:
    """New videos written one after another while batch jobs are in flight; one that did not
    start and end inside the same job's window is left out (after it, the stand-in answers the
    records in this process and the next pass computes here: work a real backfill does in other
    processes and machines)."""
    samples: list[Latency] = []
    while len(samples) < LATENCY_SAMPLES and not backfill_done.is_set():
        window = windows.current(timeout=0.5)
        if window is None:
            continue
        latency = new_video_latency(client, name, transcript)
        if windows.current(timeout=0) == window:
            samples.append(latency)
    return samples


def latency_during_on_demand_backfill(backfill_call: tuple[str, Transcript], name: str,
                                      transcript: Transcript) -> Latency:
    """A new video written while one backfill draft runs on the same quota (one limiter), as the
    run queue admits one backfill run at a time next to new videos."""
    with on_demand_simulator(LATENCY_TIME_SCALE) as simulator:
        client = on_demand_client(simulator)
        backfill = threading.Thread(target=timed_write, args=(client, *backfill_call, "compact", LATENCY_TIME_SCALE))
        backfill.start()
        while not simulator.calls:  # the backfill draft holds quota when the new video arrives
            time.sleep(0.05)
        latency = new_video_latency(client, name, transcript)
        backfill.join()
        return latency


def quota_tokens(usage) -> int:
    """What a paid call takes from the tokens-per-minute quota: every input token (cached or
    not) plus the output tokens times the burndown."""
    inputs = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_write_input_tokens
    return inputs + round(usage.output_tokens * OUTPUT_BURNDOWN)


class CountedClient:
    """The on-demand client of a batch group, counting the calls the group makes through it (a
    new video's calls go through the same client, and limiter, uncounted)."""

    def __init__(self, client):
        self.client = client
        self.calls = 0
        self.quota_tokens = 0

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def converse(self, **arguments):
        reply = self.client.converse(**arguments)
        self.calls += 1
        self.quota_tokens += quota_tokens(reply.usage)
        return reply


# ------------------------------------------------------------------ on-demand


@dataclass
class OnDemandBackfill:
    drafts: list[Draft]
    seconds: float  # simulated, first call to last draft
    quota_tokens: int
    calls: int


def on_demand_backfill(calls: list[tuple[str, Transcript]]) -> OnDemandBackfill:
    """The backfill as today: `POOL_LIMIT` drafts at a time sharing one quota (one limiter)."""
    simulator = on_demand_simulator()
    with simulator:
        client = on_demand_client(simulator)
        pending = list(calls)
        drafts: list[Draft] = []
        lock = threading.Lock()

        def worker() -> None:
            while True:
                with lock:
                    if not pending:
                        return
                    name, transcript = pending.pop(0)
                draft, _ = timed_write(client, name, transcript, "compact")
                with lock:
                    drafts.append(draft)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(POOL_LIMIT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = (time.perf_counter() - started) / TIME_SCALE
        used = sum(quota_tokens(call) for draft in drafts for call in draft.calls)
        return OnDemandBackfill(drafts, seconds, used, len(simulator.calls))


# ------------------------------------------------------------------ batch


@dataclass
class BatchJob:
    stage: str
    records: int
    status: str
    answered: int
    errored: int


@dataclass
class BatchBackfill:
    shape: str
    drafts: dict[str, Draft] = field(default_factory=dict)
    jobs: list[BatchJob] = field(default_factory=list)
    pass_seconds: list[float] = field(default_factory=list)  # real CPU seconds per video, each pass
    on_demand_calls: int = 0
    on_demand_quota_tokens: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class BatchGroupRunner:
    """The batch sensor's passes for one group, in-process: each pass runs the writer of every
    pending video over `BatchDeferringClient`, writes its pass result and records through the
    ledger, then one job over the pass's input folder; the answers feed the next pass."""

    def __init__(self, ledger: BatchLedger, jobs: BedrockBatchJobs, on_demand, *, shape: str,
                 min_records: int, poll_seconds: float, job_windows: JobWindows | None = None):
        self.ledger, self.jobs, self.on_demand = ledger, jobs, on_demand
        self.poll_seconds = poll_seconds
        self.shape, self.min_records = shape, min_records
        self.job_windows = job_windows or JobWindows()
        self.price = Settings().batch_price_for(DEFAULT_MODEL_ID)
        self.max_output_tokens = Settings().bedrock_max_output_tokens

    def write_pass(self, pass_number: int, pending: list[tuple[str, Transcript]], result: BatchBackfill
                   ) -> dict[str, PassResult]:
        answers = self.ledger.answers(GROUP)
        results: dict[str, PassResult] = {}
        started = time.process_time()
        for name, transcript in pending:
            client = BatchDeferringClient(self.on_demand, answers, paid_replies=self.ledger.paid_replies(GROUP))
            writer = StagedModelWriter(client, max_parallel_calls=MAX_PARALLEL_CALLS, request_shape=self.shape,
                                       reply_cache=client.writer_reply_cache())
            try:
                result.drafts[name] = writer.write(transcript, context_of(name, transcript))
                outcome = PassResult(partition_key=name, pass_number=pass_number, run_id="bench", outcome="written")
                records: list[dict] = []
            except RequestsDeferred as deferred:
                outcome, records = PassResult.deferred(name, pass_number, "bench", deferred, self.max_output_tokens)
            except Exception as error:  # noqa: BLE001 - a failed partition, reported with its reason
                result.failed[name] = " ".join(str(error).split())
                continue
            self.ledger.write_pass_result(GROUP, outcome, records)
            results[name] = outcome
        result.pass_seconds.append((time.process_time() - started) / max(len(pending), 1))
        return results

    def run_job(self, pass_number: int, results: dict[str, PassResult], result: BatchBackfill) -> None:
        deferred = [r for r in results.values() if r.outcome == "deferred"]
        records = sum(len(r.records) for r in deferred)
        stage = deferred[0].stage or "?"
        output_uri = self.ledger.pass_output_uri(GROUP, pass_number)
        arn = self.jobs.submit(
            job_name=job_name(GROUP, f"p{pass_number}", stage), model_id=DEFAULT_MODEL_ID, role_arn=MODEL_ROLE,
            input_uri=self.ledger.pass_input_uri(GROUP, pass_number), output_uri=output_uri,
            timeout_hours=72, tags={"techne/batch_group": GROUP},
        )
        self.job_windows.open()
        # Like the sensor, look at the job rarely against its turnaround (the stand-in answers its
        # records when it is called, in this process; Bedrock does that work elsewhere).
        time.sleep(self.poll_seconds)
        self.job_windows.close()
        while not (status := self.jobs.describe(arn)).finished:
            time.sleep(self.poll_seconds / 10)
        answers = answers_from_output(
            read_outputs(self.ledger.scratch, output_uri),
            digests={rid: digest for r in deferred for rid, digest in r.records.items()},
            stage_labels={rid: label for r in deferred for rid, label in r.stage_labels.items()},
            model_id=DEFAULT_MODEL_ID, price=self.price,
        )
        self.ledger.put_answers(GROUP, pass_number, answers)
        errored = sum(a.error is not None for a in answers)
        result.jobs.append(BatchJob(stage, records, status.status, len(answers) - errored, errored))

    def run(self, calls: list[tuple[str, Transcript]]) -> BatchBackfill:
        result = BatchBackfill(shape=self.shape)
        pending = list(calls)
        for pass_number in range(1, 12):
            results = self.write_pass(pass_number, pending, result)
            deferred = [r for r in results.values() if r.outcome == "deferred"]
            if not deferred:
                return result
            records = sum(len(r.records) for r in deferred)
            if records < self.min_records:
                raise RuntimeError(f"pass {pass_number}: {records} records < minimum {self.min_records}")
            self.run_job(pass_number, results, result)
            pending = [(name, t) for name, t in pending if name in {r.partition_key for r in deferred}]
        raise RuntimeError("the batch group did not finish in 11 passes")


def batch_backfill(calls, shape: str, *, bucket: str, on_demand, turnaround_seconds: float = 2.0,
                   error_every: int = 0, job_windows: JobWindows | None = None) -> BatchBackfill:
    """One batch group over `calls`; `on_demand` is the client (and limiter) the group's
    on-demand requests share with the rest of the platform."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    min_records = max(1, math.floor(Settings().batch_min_records * len(calls) / ARCHIVE_VIDEOS))
    with tempfile.TemporaryDirectory() as store_dir, BatchService(
        responder=CannedAnswers(), s3_client=s3, min_records=min_records,
        turnaround_seconds=turnaround_seconds, time_scale=1.0, error_every=error_every,
    ) as service:
        control = boto3.client("bedrock", endpoint_url=service.endpoint_url, region_name="us-east-1",
                               config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        ledger = BatchLedger(LocalStorage(Path(store_dir)), S3Storage(bucket, "scratch/", region="us-east-1"))
        counted = CountedClient(on_demand)
        runner = BatchGroupRunner(ledger, BedrockBatchJobs(control), counted, shape=shape, min_records=min_records,
                                  poll_seconds=turnaround_seconds, job_windows=job_windows)
        result = runner.run(calls)
        result.on_demand_calls, result.on_demand_quota_tokens = counted.calls, counted.quota_tokens
        return result


# ------------------------------------------------------------------ figures


def per_video_cost(drafts) -> float:
    return statistics.fmean(draft.cost_usd for draft in drafts)


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    calls = synthetic_calls(BATCH_VIDEOS, first_seed=101)
    new_name, new_transcript = synthetic_calls(1, first_seed=900)[0]

    # On-demand: the backfill as today, and each request shape's cost per video.
    on_demand = on_demand_backfill(synthetic_calls(ON_DEMAND_VIDEOS, first_seed=201))
    with on_demand_simulator() as simulator:
        transcript_shape, _ = timed_write(on_demand_client(simulator), *synthetic_calls(1, 301)[0], "transcript")
    idle_runs = []
    for _ in range(LATENCY_SAMPLES):  # the machine's own noise is several %: the median of a few
        with on_demand_simulator(LATENCY_TIME_SCALE) as simulator:
            idle_runs.append(new_video_latency(on_demand_client(simulator), new_name, new_transcript))
    idle = median_latency(idle_runs)
    during_on_demand = latency_during_on_demand_backfill(synthetic_calls(1, 202)[0], new_name, new_transcript)

    with running_moto_server() as s3_endpoint:
        os.environ["AWS_ENDPOINT_URL_S3"] = s3_endpoint  # the ledger's S3 storage and the stand-in
        # Batch, compact shape, with new videos written on-demand while its jobs run; both share
        # one on-demand simulator (one quota).
        with on_demand_simulator(LATENCY_TIME_SCALE) as shared:
            client = on_demand_client(shared)
            windows, backfill_done = JobWindows(), threading.Event()
            busy: list[Latency] = []
            newcomer = threading.Thread(target=lambda: busy.extend(latencies_while_jobs_run(
                client, new_name, new_transcript, windows, backfill_done)))
            newcomer.start()
            try:
                compact = batch_backfill(calls, "compact", bucket=f"{WORK_BUCKET}-compact", on_demand=client,
                                         turnaround_seconds=JOB_WALL_SECONDS, job_windows=windows)
            finally:
                backfill_done.set()
                newcomer.join()
        with on_demand_simulator() as simulator:
            transcript_batch = batch_backfill(calls[:2], "transcript", bucket=f"{WORK_BUCKET}-transcript",
                                              on_demand=on_demand_client(simulator))
        with on_demand_simulator() as simulator:
            with_errors = batch_backfill(calls[:2], "compact", bucket=f"{WORK_BUCKET}-errors",
                                         on_demand=on_demand_client(simulator), error_every=ERROR_EVERY)

    on_demand_cost = per_video_cost(on_demand.drafts)
    batch_costs = {"compact": per_video_cost(compact.drafts.values()),
                   "transcript": per_video_cost(transcript_batch.drafts.values())}
    best_shape = min(batch_costs, key=batch_costs.get)
    ratio = batch_costs[best_shape] / on_demand_cost
    on_demand_seconds = on_demand.seconds * ARCHIVE_VIDEOS / ON_DEMAND_VIDEOS
    passes = len(compact.pass_seconds)
    # Each pass: ranged runs of ≤ 50 videos, `POOL_LIMIT` at a time, each video its measured CPU time.
    pass_wall = [seconds * math.ceil(ARCHIVE_VIDEOS / POOL_LIMIT) for seconds in compact.pass_seconds]
    poll = Settings().batch_poll_seconds
    jobs = len(compact.jobs)
    records_200 = [math.ceil(job.records * ARCHIVE_VIDEOS / BATCH_VIDEOS) for job in compact.jobs]
    wall_rows = "\n".join(
        f"| {turnaround} h | {hours(sum(pass_wall) + jobs * (turnaround * 3600 + 2 * poll))} |"
        for turnaround in TURNAROUNDS_HOURS
    )
    job_rows = "\n".join(
        f"| {job.stage} | {job.records} | {records_200[index]:,} | {job.status} | {job.answered} / {job.errored} |"
        for index, job in enumerate(compact.jobs)
    )
    if not busy:
        raise RuntimeError("no new video was written inside a job's window: raise JOB_WALL_SECONDS")
    during_batch = median_latency(busy)
    batch_ratio = during_batch.model_phase_seconds / idle.model_phase_seconds
    on_demand_ratio = during_on_demand.model_phase_seconds / idle.model_phase_seconds
    # A ranged run holds its pool slot while it writes its videos one after the other.
    slot_hold = max(compact.pass_seconds) * min(Settings().batch_max_partitions_per_run, ARCHIVE_VIDEOS)

    body = f"""\
Archive: {ARCHIVE_VIDEOS} synthetic 3-hour calls (~30,000 words, 10 speakers each). Simulated here: \
{BATCH_VIDEOS} distinct calls through batch (2 for the transcript request shape) and {ON_DEMAND_VIDEOS} through \
on-demand; archive figures are per-video figures × {ARCHIVE_VIDEOS}, and the job minimum is scaled the same way \
({Settings().batch_min_records} records for {ARCHIVE_VIDEOS} videos → {max(1, math.floor(Settings().batch_min_records * BATCH_VIDEOS / ARCHIVE_VIDEOS))} \
for {BATCH_VIDEOS}). On-demand: the real Bedrock client on the Converse simulator at {REQUESTS_PER_MINUTE} requests/min, \
{TOKENS_PER_MINUTE:,} tokens/min, burndown {OUTPUT_BURNDOWN:g}, {POOL_LIMIT} drafts at a time (the `bedrock` pool), \
time scale {TIME_SCALE:g} ({LATENCY_TIME_SCALE:g} for the new-video latencies). Batch: the writer's passes over `BatchDeferringClient`, records through the batch ledger \
on moto S3 (HTTP), jobs through boto3 on the batch-job stand-in (HTTP). Prices: Sonnet 4 on-demand, batch at half \
the input and output price, no prompt cache. Model phase only: transcription is the same either way.

**batch cost: {ratio:.0%} of on-demand** (target ≤ 55%).

| figure | on-demand | batch |
|---|---|---|
| model cost per video, compact shape (on-demand with prompt caching, batch without) | US$ {on_demand_cost:.4f} | US$ {batch_costs["compact"]:.4f} |
| model cost per video, transcript shape | US$ {transcript_shape.cost_usd:.4f} | US$ {batch_costs["transcript"]:.4f} |
| model cost of the archive ({ARCHIVE_VIDEOS} videos, best shape: compact on-demand, {best_shape} batch) | US$ {on_demand_cost * ARCHIVE_VIDEOS:,.2f} | US$ {batch_costs[best_shape] * ARCHIVE_VIDEOS:,.2f} |
| wall time of the archive's model phase | {hours(on_demand_seconds)} ({on_demand.seconds / ON_DEMAND_VIDEOS:.0f} s per video at the quota) | see below: {jobs} jobs × turnaround |
| on-demand quota used by the backfill | {on_demand.quota_tokens * ARCHIVE_VIDEOS // ON_DEMAND_VIDEOS:,} tokens ({on_demand.calls * ARCHIVE_VIDEOS // ON_DEMAND_VIDEOS:,} calls) | {compact.on_demand_quota_tokens:,} tokens ({compact.on_demand_calls} calls) |
| latency of a new video during the backfill / idle: model phase (first call to last answer; batch and idle: medians of {len(busy)} and {len(idle_runs)} runs) | {on_demand_ratio:.2f}× ({during_on_demand.model_phase_seconds:.0f} s / {idle.model_phase_seconds:.0f} s) | {batch_ratio:.2f}× ({during_batch.model_phase_seconds:.0f} s / {idle.model_phase_seconds:.0f} s) |
| the same, whole draft (the writer's CPU included, magnified {1 / LATENCY_TIME_SCALE:g}× by the time scale) | {during_on_demand.write_seconds / idle.write_seconds:.2f}× ({during_on_demand.write_seconds:.0f} s / {idle.write_seconds:.0f} s) | {during_batch.write_seconds / idle.write_seconds:.2f}× ({during_batch.write_seconds:.0f} s / {idle.write_seconds:.0f} s) |

Batch wall time for the archive's model phase, by job turnaround: {passes} passes of the writer \
(measured CPU per video and pass: {", ".join(f"{s:.2f} s" for s in compact.pass_seconds)}; {POOL_LIMIT} ranged runs at a \
time: {hours(sum(pass_wall))} in all) plus {jobs} jobs, each its turnaround plus up to two sensor polls \
({poll} s each):

| turnaround per job | archive wall time (batch) |
|---|---|
{wall_rows}

Jobs of the simulated group (one per writer stage, all the group's videos in each):

| stage | records | records for {ARCHIVE_VIDEOS} videos | status | answered / errored |
|---|---|---|---|---|
{job_rows}

- Request shape in batch: compact (US$ {batch_costs["compact"]:.4f}) vs transcript (US$ {batch_costs["transcript"]:.4f}) \
per video: the batch path sends the **{best_shape}** shape. Without a prompt cache the transcript shape pays its whole \
transcript prefix on every call, so caching is worth less to batch than to on-demand, and the half price more.
- New video: on-demand, the backfill holds the quota for {on_demand.seconds / ON_DEMAND_VIDEOS / 60:.1f} min per \
video for {hours(on_demand_seconds)}, and a new video written next to one backfill draft (the run queue admits one \
backfill run at a time beside new videos) shares its quota: {on_demand_ratio:.2f}× its idle model phase. Through batch \
the backfill made {compact.on_demand_calls} on-demand calls, and the new video, written on the same client and limiter \
while jobs ran, took {batch_ratio:.2f}× (target ≤ 1.1×; median of {len(busy)} new videos, each written inside one job's \
window, against the median of {len(idle_runs)} idle runs: {", ".join(f"{x.model_phase_seconds:.0f} s" for x in busy)} vs \
{", ".join(f"{x.model_phase_seconds:.0f} s" for x in idle_runs)}). The whole-draft ratio also holds the writer's CPU \
time, which moves a few percent with the machine's load from run to run.
- A pass run holds a `bedrock` pool slot only while it computes (a ranged run of \
{Settings().batch_max_partitions_per_run} videos: about {slot_hold:.0f} s); a new video that arrives exactly then \
waits that long for a slot — {len(compact.pass_seconds)} such windows in a backfill of many hours.
- Records in error (every {ERROR_EVERY}th record of each job, 2 videos, compact): \
{sum(job.errored for job in with_errors.jobs)} of {sum(job.records for job in with_errors.jobs)} records; each was retried \
once on-demand inside the shared limiter ({with_errors.on_demand_calls} on-demand call(s), \
{with_errors.on_demand_quota_tokens:,} quota tokens); cost per video US$ {per_video_cost(with_errors.drafts.values()):.4f}; \
partitions failed: {len(with_errors.failed)}.
- Failed partitions: {len(compact.failed)} (compact), {len(transcript_batch.failed)} (transcript)."""
    print(body)
    record_section("bench_batch_backfill", "Archive backfill through Bedrock batch vs on-demand", body)


if __name__ == "__main__":
    main()
