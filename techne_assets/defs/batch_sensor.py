"""The batch sensor: coordinates each batch group of an archive backfill through Bedrock batch.

An asset backfill cannot wait hours for a batch job without a live run (its daemon marks a
partition with no run in flight as failed), and its children arrive in fragments as parents
materialize, while one job per writer stage must span every video of the backfill. So the
Dagster backfill covers `video` and `transcript` only, and this sensor moves each group through
`transcribing → writing → job → publishing → done` (state kept in the batch ledger): it launches
ranged `draft` runs (one writer pass each), one Bedrock job per pass with deferred records,
stores the job's answers for the next pass, and finally one publication run per written video.
No run is alive while a job runs. A tick makes no model call: it reads the instance, the ledger
and one job status per open job. A video that fails its draft in a pass gets its FAILED record
and notice then (through `run_report`, anchored on the pass run that had it in its range); the
group's transcript and publication runs are reported by the run-status sensors.

Every launched run has a deterministic run key (`<group>-p<pass>-<i>`), and a tick requests
only the runs of the current pass that do not exist yet, so a repeated tick launches nothing
twice. The group is saved before its new runs are requested; a tick that dies in between is
repaired by the next one, which requests the missing runs again under the same keys.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from techne_assets.adapters.batch_ledger import BatchGroup, BatchJobRecord, BatchLedger, PassResult
from techne_assets.adapters.bedrock_batch import (
    BatchJobError,
    BatchJobStatus,
    answers_from_output,
    job_name,
    read_outputs,
)
from techne_assets.core.writing.batch_records import BatchAnswer
from techne_assets.defs.batch_resource import BedrockBatchResource
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import NotifierResource, TrackingResource
from techne_assets.defs.run_report import report_video_failed
from techne_assets.defs.run_tags import (
    BATCH_FINAL_TAG,
    BATCH_GROUP_TAG,
    BATCH_PASS_TAG,
    LAUNCHED_BY_TAG,
    PUBLISH_PASS,
    RANGE_END_TAG,
    RANGE_START_TAG,
    RUN_KEY_TAG,
    WRITER_MODE_TAG,
)
from techne_assets.settings import get_settings

BATCH_OBSERVATION = "batch"
# Backfills are listed newest first; a UI-launched batch backfill is among the recent ones.
RECENT_BACKFILLS = 50
BACKFILL_RUNNING = frozenset({"REQUESTED", "CANCELING", "FAILING"})
RUN_ENDED = frozenset({dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED})
JOB_ENDED = frozenset({"Completed", "PartiallyCompleted", "Stopped", "Failed", "Expired"})
ANSWERED = frozenset({"Completed", "PartiallyCompleted"})  # the jobs whose records were processed

batch_draft_job = dg.define_asset_job(
    "batch_draft",
    selection=dg.AssetSelection.assets("draft"),
    executor_def=dg.in_process_executor,
    description="One writer pass of a batch group over a range of videos (launched by the batch sensor).",
)
batch_publish_job = dg.define_asset_job(
    "batch_publish",
    selection=dg.AssetSelection.assets("document", "published_document"),
    executor_def=dg.in_process_executor,
    description="Renders, checks and publishes one video of a batch group whose draft is written.",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def pass_partitions(group: BatchGroup) -> list[str]:
    """The videos the group's current pass writes: not failed, not yet written, in group order."""
    done = set(group.failed) | set(group.written)
    return [key for key in group.partition_keys if key not in done]


def contiguous_ranges(order: list[str], keys: list[str], max_per_run: int) -> list[list[str]]:
    """`keys` cut into maximal runs contiguous in the dynamic partitions' `order` (a range names
    every partition between its ends), each at most `max_per_run` long."""
    wanted = set(keys)
    ranges: list[list[str]] = []
    current: list[str] = []
    for key in order:
        if key in wanted and len(current) < max_per_run:
            current.append(key)
            continue
        if current:
            ranges.append(current)
        current = [key] if key in wanted else []
    if current:
        ranges.append(current)
    return ranges


class GroupTick:
    """One tick's work on one group: the run requests and observations it produces."""

    def __init__(self, context: dg.SensorEvaluationContext, batch: BedrockBatchResource, ledger: BatchLedger,
                 tracking: TrackingResource, notifier: NotifierResource):
        self.context = context
        self.instance = context.instance
        self.batch = batch
        self.ledger = ledger
        self.tracking = tracking
        self.notifier = notifier
        self.requests: list[dg.RunRequest] = []
        self.events: list[dg.AssetObservation] = []

    # -- shared ---------------------------------------------------------------------------------

    def observe(self, group: BatchGroup, partitions: list[str], status: str, message: str,
                job: BatchJobRecord | None = None, records: int | None = None) -> None:
        self.context.log.info(f"batch group {group.group_id} pass {group.pass_number}: {message}")
        metadata = {
            "batch_group": group.group_id,
            "pass": group.pass_number,
            "state": group.state,
            "status": status,
            "message": message,
            "job_arn": job.job_arn if job else "",
            "stage": job.stage if job else "",
            "records": records if records is not None else (job.records if job else 0),
            "input_uri": job.input_uri if job else "",
            "output_uri": job.output_uri if job else "",
        }
        for key in partitions:
            self.events.append(dg.AssetObservation(
                asset_key=dg.AssetKey("draft"), partition=key, description=BATCH_OBSERVATION, metadata=metadata,
            ))

    def report_failed(self, group: BatchGroup, runs: list[dg.DagsterRun], failed: dict[str, str]) -> None:
        """The FAILED record and notice of each video of `failed` whose draft failed in this pass."""
        by_range = {(run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)): run for run in runs}
        for keys in group.pass_ranges:
            run = by_range.get((keys[0], keys[-1]))
            for key in keys:
                if run is not None and key in failed:
                    report_video_failed(self.instance, run, key, f"draft: {failed[key]}",
                                        self.tracking, self.notifier)

    def _runs(self, group: BatchGroup, pass_tag: str) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs(filters=dg.RunsFilter(
            tags={BATCH_GROUP_TAG: group.group_id, BATCH_PASS_TAG: pass_tag})))

    def _request_missing(self, wanted: list[dg.RunRequest], existing: list[dg.DagsterRun]) -> None:
        launched = {run.tags.get(RUN_KEY_TAG) for run in existing}
        self.requests.extend(r for r in wanted if r.run_key not in launched)

    def _tags(self, group: BatchGroup, pass_tag: str) -> dict[str, str]:
        # A group that fell back to on-demand before any job ran writes nothing through batch.
        mode = "on-demand" if group.on_demand_reason and not group.jobs else "batch"
        return {BATCH_GROUP_TAG: group.group_id, BATCH_PASS_TAG: pass_tag, WRITER_MODE_TAG: mode,
                LAUNCHED_BY_TAG: "backfill"}

    # -- writing passes -------------------------------------------------------------------------

    def pass_requests(self, group: BatchGroup) -> list[dg.RunRequest]:
        requests = []
        for i, keys in enumerate(group.pass_ranges):
            tags = self._tags(group, str(group.pass_number)) | {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
            if group.single_runs:
                tags[BATCH_FINAL_TAG] = "1"
            requests.append(dg.RunRequest(run_key=f"{group.group_id}-p{group.pass_number}-{i}",
                                          job_name=batch_draft_job.name, tags=tags))
        return requests

    def start_pass(self, group: BatchGroup, message: str, *, single_runs: bool = False) -> BatchGroup:
        """The next pass (its ranges saved with the group first), or publication when no video
        is left to write; the pass's runs are requested now and again, by key, until they exist."""
        order = self.instance.get_dynamic_partitions(videos_partitions.name)
        keys = pass_partitions(group)
        ranges = contiguous_ranges(order, keys, 1 if single_runs else self.batch.max_partitions_per_run)
        ranged = {key for keys in ranges for key in keys}
        gone = {key: "no longer a partition of videos" for key in keys if key not in ranged}
        group = group.model_copy(update={
            "pass_number": group.pass_number + 1 if ranges else group.pass_number, "pass_ranges": ranges,
            "single_runs": single_runs, "state": "writing" if ranges else "publishing",
            "failed": {**group.failed, **gone},
        })
        self.ledger.save_group(group)
        mode = f" on-demand ({group.on_demand_reason})" if group.on_demand_reason else ""
        if group.state == "writing":
            self.requests.extend(self.pass_requests(group))
            self.observe(group, sorted(ranged), "writing",
                         f"{message}; pass {group.pass_number}: {len(ranged)} videos in {len(ranges)} runs{mode}")
        else:
            self.requests.extend(self.publish_requests(group))
            self.observe(group, group.written, "publishing",
                         f"{message}; publishing {len(group.written)} videos")
        return group

    def transcribing(self, group: BatchGroup) -> BatchGroup:
        backfill = self.instance.get_backfill(group.group_id)
        if (backfill is not None and backfill.status.value in BACKFILL_RUNNING
                and not self._all_transcribed_since_created(group)):
            return group
        transcribed = self.instance.get_materialized_partitions(dg.AssetKey("transcript"))
        missing = {key: "no transcript" for key in group.partition_keys if key not in transcribed}
        group = group.model_copy(update={"failed": {**group.failed, **missing}})
        if missing:
            self.observe(group, sorted(missing), "failed", "no transcript: not written")
        return self.start_pass(group, f"transcripts done ({len(group.partition_keys) - len(missing)} videos)")

    def _all_transcribed_since_created(self, group: BatchGroup) -> bool:
        """Every video has a transcript newer than the group: the backfill has nothing left to
        run, whether or not its daemon has marked it done yet (it looks only every so often)."""
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("transcript"), asset_partitions=group.partition_keys,
                                  after_timestamp=datetime.fromisoformat(group.created_at).timestamp()),
            limit=2 * len(group.partition_keys),
        ).records
        return {record.partition_key for record in records} >= set(group.partition_keys)

    def writing(self, group: BatchGroup) -> BatchGroup:
        wanted = self.pass_requests(group)
        runs = self._runs(group, str(group.pass_number))
        self._request_missing(wanted, runs)
        if len({run.tags.get(RUN_KEY_TAG) for run in runs}) < len(wanted) or any(
                run.status not in RUN_ENDED for run in runs):
            return group
        results = self.ledger.pass_results(group.group_id, group.pass_number)
        failed, written, redo = self._pass_outcome(group, runs, results)
        newly_failed = sorted(key for key in failed if key not in group.failed)
        group = group.model_copy(update={"failed": failed, "written": [*group.written, *written]})
        if newly_failed:
            self.report_failed(group, runs, {key: failed[key] for key in newly_failed})
            self.observe(group, newly_failed, "failed", "; ".join(f"{k}: {failed[k]}" for k in newly_failed[:3])
                         + (f" (+{len(newly_failed) - 3} more)" if len(newly_failed) > 3 else ""))
        deferred = [r for r in results.values() if r.outcome == "deferred" and r.partition_key not in failed]
        if not deferred:
            done = f"pass {group.pass_number}: {len(written)} written, nothing deferred"
            return self.start_pass(group, done, single_runs=bool(redo))
        records = sum(len(r.records) for r in deferred)
        if group.on_demand_reason is not None:
            # An on-demand pass sends everything itself; a deferral there would loop forever.
            stuck = {r.partition_key: "requests deferred in an on-demand pass" for r in deferred}
            group = group.model_copy(update={"failed": {**group.failed, **stuck}})
            self.report_failed(group, runs, stuck)
            self.observe(group, sorted(stuck), "failed", "requests deferred in an on-demand pass")
            return self.start_pass(group, f"pass {group.pass_number}: {len(written)} written")
        minimum = self.batch.min_records
        if records < minimum:
            group = group.model_copy(update={"on_demand_reason": f"{records} records < minimum {minimum}"})
            return self.start_pass(group, f"{records} deferred records, below the job minimum")
        return self.submit_job(group, deferred, records)

    def _pass_outcome(self, group: BatchGroup, runs: list[dg.DagsterRun],
                      results: dict[str, PassResult]) -> tuple[dict[str, str], list[str], list[str]]:
        """(failed with reasons, materialized, to redo one per run) after a pass. A range is
        materialized when its run succeeded with every video written (one output for the
        range); a written video of a mixed range is redone alone. A video whose run ended
        without its result is relaunched once; in a pass of single runs nothing is redone."""
        failed = dict(group.failed)
        written, redo = [], []
        previous: dict[str, PassResult] | None = None
        for keys in group.pass_ranges:
            outcomes = [results.get(key) for key in keys]
            if all(r is not None and r.outcome == "written" for r in outcomes) and self._range_succeeded(runs, keys):
                written.extend(keys)
                continue
            for key, result in zip(keys, outcomes, strict=True):
                if result is not None and result.outcome == "failed":
                    failed[key] = result.reason or "the writer failed"
                elif result is not None and result.outcome == "deferred":
                    continue
                elif group.single_runs:
                    failed[key] = ("the draft run ended without writing it" if result is None
                                   else "the draft run failed after writing it")
                elif result is None and group.pass_number > 1:
                    if previous is None:
                        previous = self.ledger.pass_results(group.group_id, group.pass_number - 1)
                    if key in previous:
                        redo.append(key)
                    else:
                        failed[key] = "the draft run ended twice without writing it"
                else:
                    redo.append(key)
        return failed, written, redo

    @staticmethod
    def _range_succeeded(runs: list[dg.DagsterRun], keys: list[str]) -> bool:
        return any(run.status == dg.DagsterRunStatus.SUCCESS and run.tags.get(RANGE_START_TAG) == keys[0]
                   and run.tags.get(RANGE_END_TAG) == keys[-1] for run in runs)

    # -- jobs -----------------------------------------------------------------------------------

    def submit_job(self, group: BatchGroup, deferred: list[PassResult], records: int) -> BatchGroup:
        stages = sorted({r.stage for r in deferred if r.stage})
        input_uri = self.ledger.pass_input_uri(group.group_id, group.pass_number)
        output_uri = self.ledger.pass_output_uri(group.group_id, group.pass_number)
        name = job_name("techne", group.group_id, f"p{group.pass_number}")
        try:
            job_arn = self.batch.jobs().submit(
                job_name=name, model_id=group.model_id, role_arn=self.batch.role_arn or "",
                input_uri=input_uri, output_uri=output_uri, timeout_hours=self.batch.timeout_hours,
                tags={BATCH_GROUP_TAG: group.group_id, BATCH_PASS_TAG: str(group.pass_number)},
            )
        except (BatchJobError, ValueError) as error:  # a refused job falls back to on-demand, saying why
            reason = f"batch job refused: {' '.join(str(error).split())}"
            group = group.model_copy(update={"on_demand_reason": reason})
            return self.start_pass(group, reason)
        job = BatchJobRecord(
            job_arn=job_arn, job_name=name, pass_number=group.pass_number, stage="+".join(stages),
            records=records, partitions=len(deferred), input_uri=input_uri, output_uri=output_uri,
            status="Submitted", submitted_at=_now(),
        )
        group = group.model_copy(update={"state": "job", "jobs": [*group.jobs, job]})
        self.ledger.save_group(group)
        self.observe(group, [r.partition_key for r in deferred], job.status, f"job {name} submitted", job)
        return group

    def job(self, group: BatchGroup) -> BatchGroup:
        job = group.jobs[-1]
        try:
            status = self.batch.jobs().describe(job.job_arn)
        except BatchJobError as error:
            if error.code != "ResourceNotFoundException":
                self.context.log.warning(f"batch group {group.group_id}: {error}; asking again next tick")
                return group
            status = BatchJobStatus(job_arn=job.job_arn, status="Failed", message=str(error),
                                    input_uri=job.input_uri, output_uri=job.output_uri)
        # The videos waiting on this job: those of the pass that submitted it.
        partitions = [key for keys in group.pass_ranges for key in keys]
        if status.status not in JOB_ENDED:
            if status.status != job.status:
                job = job.model_copy(update={"status": status.status, "message": status.message})
                group = group.model_copy(update={"jobs": [*group.jobs[:-1], job]})
                self.ledger.save_group(group)
                self.observe(group, partitions, job.status, status.message or f"job {job.status}", job)
            return group
        answers = self.collect_answers(group, job, status.status, status.message)
        self.ledger.put_answers(group.group_id, job.pass_number, answers)
        errored = sum(answer.error is not None for answer in answers)
        job = job.model_copy(update={
            "status": status.status, "message": status.message, "ended_at": _now(),
            "answered": len(answers) - errored, "errored": errored,
        })
        group = group.model_copy(update={"jobs": [*group.jobs[:-1], job]})
        message = (f"job {status.status}: {len(answers) - errored} answered, {errored} errored"
                   + (f" ({status.message})" if status.message else ""))
        self.observe(group, partitions, job.status, message, job)
        if status.status in ANSWERED and (fallback := self.unusable_reason(job)) is not None:
            group = group.model_copy(update={"on_demand_reason": fallback})
            message = f"{message}; {fallback}"
        return self.start_pass(group, message)

    def unusable_reason(self, job: BatchJobRecord) -> str | None:
        """Why the rest of the group goes on-demand after this answered job, if it should. An
        errored record (a service error, an answer cut short or without the forced tool call) is
        retried on-demand, so a job where most records err (a model or region whose batch path
        drops tool use, a systematic error) would make every later job cost twice."""
        answers = job.answered + job.errored
        if not answers or job.errored / answers <= self.batch.max_unusable_share:
            return None
        return (f"job {job.job_name}: {job.errored} of {answers} records in error, above "
                f"TECHNE_BATCH_MAX_UNUSABLE_SHARE {self.batch.max_unusable_share:g}: the rest of the group goes on-demand")

    def collect_answers(self, group: BatchGroup, job: BatchJobRecord, status: str,
                        message: str | None) -> list[BatchAnswer]:
        """The job's output as answers by digest. Records in error, cut at max_tokens or not
        parsable are errored answers (retried once on-demand by the next pass). Records without
        output are errored too ("job failed: ..."), except in a Stopped job: those stay
        unanswered, and the next pass defers them into a new job."""
        digests: dict[str, str] = {}
        stage_labels: dict[str, str] = {}
        for result in self.ledger.pass_results(group.group_id, job.pass_number).values():
            digests.update(result.records)
            stage_labels.update({record: result.stage_labels.get(record, result.stage or "")
                                 for record in result.records})
        answers = {answer.record_id: answer for answer in answers_from_output(
            read_outputs(self.ledger.scratch, job.output_uri), digests=digests, stage_labels=stage_labels,
            model_id=group.model_id, price=self.batch.batch_price(),
        )}
        if status != "Stopped":
            reason = f"job {status.lower()}: {message}" if message else f"job {status.lower()} without an answer"
            for record, digest in digests.items():
                answers.setdefault(record, BatchAnswer(digest=digest, record_id=record, stage=stage_labels[record],
                                                       error=reason))
        return list(answers.values())

    # -- publication ----------------------------------------------------------------------------

    def publish_requests(self, group: BatchGroup) -> list[dg.RunRequest]:
        return [
            dg.RunRequest(run_key=f"{group.group_id}-publish-{i}", job_name=batch_publish_job.name,
                          partition_key=key, tags=self._tags(group, PUBLISH_PASS))
            for i, key in enumerate(group.written)
        ]

    def publishing(self, group: BatchGroup) -> BatchGroup:
        wanted = self.publish_requests(group)
        runs = self._runs(group, PUBLISH_PASS)
        self._request_missing(wanted, runs)
        if len({run.tags.get(RUN_KEY_TAG) for run in runs}) < len(wanted) or any(
                run.status not in RUN_ENDED for run in runs):
            return group
        published = sorted({run.tags["dagster/partition"] for run in runs if run.status == dg.DagsterRunStatus.SUCCESS})
        failed = dict(group.failed)
        for key in group.written:
            if key not in published:
                failed.setdefault(key, "the publication run failed")
        group = group.model_copy(update={"state": "done", "published": published, "failed": failed})
        self.ledger.save_group(group)
        message = f"done: {len(published)} published, {len(failed)} failed"
        self.observe(group, group.partition_keys, "done", message,
                     records=sum(job.records for job in group.jobs))
        return group


def _groups_for_ui_backfills(context: dg.SensorEvaluationContext, ledger: BatchLedger,
                             batch: BedrockBatchResource, known: set[str]) -> list[str]:
    """Creates the group of each recent backfill tagged `techne/writer_mode=batch` that has none
    (launched from the UI); returns the ids of the recent tagged ones, all with a group now
    (`known`, from the cursor, spares the ledger look-up of those seen before)."""
    tagged = []
    for backfill in context.instance.get_backfills(limit=RECENT_BACKFILLS):
        if backfill.tags.get(WRITER_MODE_TAG) != "batch":
            continue
        if backfill.backfill_id not in known and ledger.group(backfill.backfill_id) is None:
            keys: set[str] = set()
            if backfill.is_asset_backfill and backfill.asset_backfill_data is not None:
                subset = backfill.asset_backfill_data.target_subset
                for asset_key in subset.asset_keys:
                    keys.update(subset.get_partitions_subset(asset_key).get_partition_keys())
            else:
                keys.update(backfill.partition_names or [])
            order = context.instance.get_dynamic_partitions(videos_partitions.name)
            ledger.create_group(BatchGroup(
                group_id=backfill.backfill_id, partition_keys=[k for k in order if k in keys],
                model_id=batch.model_id, created_at=_now(), on_demand_reason=batch.unavailable_reason(),
            ))
            context.log.info(f"batch group {backfill.backfill_id} created for a backfill launched with "
                             f"{WRITER_MODE_TAG}=batch ({len(keys)} videos)")
        tagged.append(backfill.backfill_id)
    return tagged


@dg.sensor(
    jobs=[batch_draft_job, batch_publish_job],
    minimum_interval_seconds=get_settings().batch_poll_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Moves each batch group of an archive backfill through its writer passes, Bedrock "
    "batch jobs and publication runs.",
)
def bedrock_batch_sensor(context: dg.SensorEvaluationContext, bedrock_batch: BedrockBatchResource,
                         tracking: TrackingResource, notifier: NotifierResource) -> dg.SensorResult:
    ledger = bedrock_batch.ledger()
    known = set(json.loads(context.cursor)) if context.cursor else set()
    cursor = json.dumps(sorted(_groups_for_ui_backfills(context, ledger, bedrock_batch, known)))
    tick = GroupTick(context, bedrock_batch, ledger, tracking, notifier)
    handlers = {"transcribing": tick.transcribing, "writing": tick.writing, "job": tick.job,
                "publishing": tick.publishing}
    groups = ledger.open_groups()
    for group in groups:
        handlers[group.state](group)
    if not tick.requests and not tick.events:
        return dg.SensorResult(cursor=cursor, skip_reason=f"{len(groups)} open batch group(s), nothing changed")
    return dg.SensorResult(run_requests=tick.requests, asset_events=tick.events, cursor=cursor)


@dg.definitions
def batch_sensors() -> dg.Definitions:
    return dg.Definitions(sensors=[bedrock_batch_sensor], jobs=[batch_draft_job, batch_publish_job])
