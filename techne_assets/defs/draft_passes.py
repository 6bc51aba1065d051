"""How the `draft` asset writes its partitions: one (as always), a range in turn (a ranged run
of an on-demand backfill), or one pass of a batch group over a range.

Every paid model call is logged as an observation the moment it returns (the run-status
sensors sum them), so a run that fails or dies later still reports what it spent.

A batch pass (run tag `techne/batch_group`) runs the same writer over a `BatchDeferringClient`
for each partition of its range: `written` (a draft), `deferred` (the writer stopped at a
stage whose requests wait for a job: their JSONL records are written for the pass's job) or
`failed` (the reason). One `PassResult` per partition goes to the batch ledger, which the
batch sensor reads once every run of the pass has ended. Only a range whose partitions were
all written yields its drafts; otherwise the run yields no output, and the sensor relaunches
the written ones alone, answered from the caches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from pathlib import Path

import dagster as dg

from techne_assets.adapters.batch_ledger import PassResult, stage_family
from techne_assets.adapters.bedrock import CircuitOpenError, QuotaWaitTimeoutError
from techne_assets.core.transcript import Transcript
from techne_assets.core.video import VideoInfo
from techne_assets.core.writing.base import (
    CallUsage,
    Draft,
    RequestsDeferred,
    Writer,
    WritingContext,
)
from techne_assets.core.writing.batch_client import BatchDeferringClient
from techne_assets.core.writing.observed import CallObserver
from techne_assets.defs.batch_resource import BedrockBatchResource
from techne_assets.defs.bedrock_resource import BedrockResource, bedrock_errors_to_dagster
from techne_assets.defs.resources import WriterResource
from techne_assets.defs.run_report import FAILED_PARTITIONS, MODEL_CALL_OBSERVATION
from techne_assets.defs.run_tags import BATCH_GROUP_TAG, BATCH_PASS_TAG

# How often the draft step looks for finished model calls to log while the writer works.
CALL_POLL_SECONDS = 0.2
BATCH_PASS_OBSERVATION = "batch pass"
# Errors of the on-demand client that are the quota's, not the request's: the step is retried.
QUOTA_ERRORS = (CircuitOpenError, QuotaWaitTimeoutError)

Observations = Generator[dg.AssetObservation, None, Draft]


def call_observation(context: dg.AssetExecutionContext, partition_key: str, call: CallUsage) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=context.asset_key,
        partition=partition_key,
        description=MODEL_CALL_OBSERVATION,
        metadata={
            "stage": call.stage,
            "model_id": call.model_id,
            "input_tokens": call.input_tokens + call.cache_read_input_tokens + call.cache_write_input_tokens,
            "output_tokens": call.output_tokens,
            "cost_usd": call.cost_usd,
        },
    )


def writing_context(video: VideoInfo) -> WritingContext:
    call_date, _ = video.call_date()
    return WritingContext(
        source_name=Path(video.key).name, call_date=call_date, media_duration=video.media.duration_seconds
    )


def write_observed(
    context: dg.AssetExecutionContext,
    partition_key: str,
    build: Callable[[CallObserver], Writer],
    transcript: Transcript,
    video: VideoInfo,
    bedrock: BedrockResource,
) -> Observations:
    """Writes one partition; yields one observation per paid call as it returns, and returns
    the draft (or raises what the writer raised, model errors as Dagster decisions)."""
    # The writer runs in a thread (its extraction calls in more threads); this generator yields
    # as calls return, so the event log has them at once.
    returned: queue.Queue[CallUsage] = queue.Queue()
    outcome: dict[str, object] = {}

    def write() -> None:
        try:
            with bedrock_errors_to_dagster(context, bedrock):
                outcome["draft"] = build(returned.put).write(transcript, writing_context(video))
        except BaseException as error:  # noqa: BLE001 - re-raised in the step below
            outcome["error"] = error

    # A daemon thread: Ctrl-C ends `techne process` at once instead of waiting for the model.
    worker = threading.Thread(target=write, name=f"writer-{context.run.run_id[:8]}", daemon=True)
    worker.start()
    while worker.is_alive() or not returned.empty():
        try:
            yield call_observation(context, partition_key, returned.get(timeout=CALL_POLL_SECONDS))
        except queue.Empty:
            continue
    if "error" in outcome:
        raise outcome["error"]
    return outcome["draft"]


def draft_metadata(result: Draft) -> dict[str, object]:
    return {
        "writer": result.writer,
        "chunks": len(result.chunk_notes),
        "model_calls": sum(not call.reused for call in result.calls),
        "reused_model_calls": sum(call.reused for call in result.calls),
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
        "removed_ungrounded": len(result.removed_ungrounded),
        "dropped_unevidenced": len(result.dropped_unevidenced),
        **({"coverage": result.coverage.fraction} if result.coverage else {}),
    }


def _reason(error: BaseException) -> str:
    text = error.description if isinstance(error, dg.Failure) and error.description else str(error)
    return " ".join(text.split()) or type(error).__name__


def write_range(
    context: dg.AssetExecutionContext,
    videos: dict[str, VideoInfo],
    transcripts: dict[str, Transcript],
    writer: WriterResource,
    bedrock: BedrockResource,
) -> Generator[dg.AssetObservation, None, dict[str, Draft]]:
    """Writes each partition in turn (one: exactly as a single-partition run always did). In a
    range, a partition that fails does not stop the others; the step then fails naming every
    failed one (what they paid is in the reply cache, so a retry pays nothing again). An
    exhausted quota retries the whole step."""
    drafts: dict[str, Draft] = {}
    failures: dict[str, str] = {}
    keys = context.partition_keys
    for key in keys:
        try:
            drafts[key] = yield from write_observed(
                context, key, lambda on_call: writer.get(bedrock, on_call=on_call),
                transcripts[key], videos[key], bedrock,
            )
        except dg.RetryRequested:
            raise
        except Exception as error:  # noqa: BLE001 - one partition's failure, reported below
            if len(keys) == 1:
                raise
            failures[key] = _reason(error)
            context.log.error(f"draft of {key} failed: {failures[key]}")
    if failures:
        named = "; ".join(f"{key}: {reason}" for key, reason in failures.items())
        raise dg.Failure(
            description=f"draft failed for {len(failures)} of {len(context.partition_keys)} videos: {named}",
            metadata={FAILED_PARTITIONS: dg.MetadataValue.json(failures)},
            allow_retries=False,
        )
    return drafts


def batch_pass(
    context: dg.AssetExecutionContext,
    videos: dict[str, VideoInfo],
    transcripts: dict[str, Transcript],
    writer: WriterResource,
    bedrock: BedrockResource,
    batch: BedrockBatchResource,
) -> Generator[dg.AssetObservation, None, dict[str, Draft] | None]:
    """One writer pass of a batch group over the run's range (see the module docstring)."""
    group_id = context.run.tags[BATCH_GROUP_TAG]
    pass_number = int(context.run.tags.get(BATCH_PASS_TAG, "1"))
    ledger = batch.ledger()
    group = ledger.group(group_id)
    if group is None:
        raise dg.Failure(description=f"batch group {group_id} is not in the batch ledger", allow_retries=False)
    if writer.kind != "bedrock":
        raise dg.Failure(description="a batch pass needs the model writer (TECHNE_WRITER=bedrock)",
                         allow_retries=False)
    answers = ledger.answers(group_id)
    paid = ledger.paid_replies(group_id)
    shared = writer.reply_cache()
    on_demand_only = group.on_demand_reason is not None
    if on_demand_only:
        context.log.info(f"batch group {group_id} pass {pass_number} sends its requests on-demand: "
                         f"{group.on_demand_reason}")

    def build(on_call: CallObserver) -> Writer:
        client = BatchDeferringClient(
            bedrock.get_client(), answers, on_demand_only=on_demand_only, paid_replies=paid,
            reply_cache=shared, on_call=on_call, passthrough=QUOTA_ERRORS,
        )
        return writer.model_writer(client, bedrock=bedrock, reply_cache=client.writer_reply_cache())

    drafts: dict[str, Draft] = {}
    results: dict[str, PassResult] = {}
    for key in context.partition_keys:
        result = PassResult(partition_key=key, pass_number=pass_number, run_id=context.run.run_id,
                            outcome="written")
        records: list[dict] = []
        try:
            drafts[key] = yield from write_observed(context, key, build, transcripts[key], videos[key], bedrock)
        except RequestsDeferred as deferred:
            result, records = PassResult.deferred(key, pass_number, context.run.run_id, deferred,
                                                  bedrock.max_output_tokens)
        except dg.RetryRequested:
            raise
        except Exception as error:  # noqa: BLE001 - this partition fails alone, with its reason
            result = result.model_copy(update={"outcome": "failed", "reason": _reason(error)})
        ledger.write_pass_result(group_id, result, records)
        results[key] = result
    yield from _pass_observations(context, group_id, pass_number, results)
    return drafts if len(drafts) == len(context.partition_keys) else None


def _pass_observations(
    context: dg.AssetExecutionContext, group_id: str, pass_number: int, results: dict[str, PassResult]
) -> Generator[dg.AssetObservation, None, None]:
    """One observation per partition: its outcome, and the pass's counts for the run."""
    outcomes = [result.outcome for result in results.values()]
    counts = {name: outcomes.count(name) for name in ("written", "deferred", "failed")}
    records = sum(len(result.records) for result in results.values())
    stages = stage_family([result.stage for result in results.values() if result.stage])
    context.log.info(
        f"batch group {group_id} pass {pass_number}: {counts['written']} written, {counts['deferred']} "
        f"deferred ({records} records{', stage ' + stages if stages else ''}), {counts['failed']} failed"
    )
    for key, result in results.items():
        yield dg.AssetObservation(
            asset_key=context.asset_key,
            partition=key,
            description=BATCH_PASS_OBSERVATION,
            metadata={
                "batch_group": group_id,
                "pass": pass_number,
                "outcome": result.outcome,
                "stage": result.stage or "",
                "records": len(result.records),
                "reason": result.reason or "",
                "partitions_written": counts["written"],
                "partitions_deferred": counts["deferred"],
                "partitions_failed": counts["failed"],
                "pass_records": records,
            },
        )
