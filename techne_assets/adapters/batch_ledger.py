"""The state of batch groups: what each archive backfill through Bedrock batch has done so far.

A batch group is one `techne backfill --via batch` (its id is the Dagster backfill id). The
batch sensor advances it pass by pass; each ranged `draft` run of a pass writes one
`PassResult` per partition, and the JSONL records of the requests it deferred; the answers of
each job are stored back here for the next pass.

Layout (every file written whole, so a reader sees the old or the new version):
- durable store: `batch/_groups/<group>.json` (one file per group, so listing the open groups
  reads no pass data), `batch/<group>/pass-<n>/results/<partition hash>.json`,
  `batch/<group>/answers/pass-<n>.jsonl` (paid answers are kept, like the reply cache) and
  `batch/<group>/on-demand/<digest>.json` (what the group paid for on demand);
- scratch store (expired by a lifecycle rule on S3): `batch/<group>/pass-<n>/input/<partition
  hash>.jsonl`, the folder the pass's job reads, and `batch/<group>/pass-<n>/output/`, where
  Bedrock writes. One input file per partition lets the runs of a pass write in parallel.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import BaseModel, Field

from techne_assets.adapters.bedrock_batch import converse_record, write_records
from techne_assets.adapters.storage import Storage, StoredObject
from techne_assets.core.errors import InputError
from techne_assets.core.writing.base import ModelReply, RequestsDeferred
from techne_assets.core.writing.batch_records import BatchAnswer, record_id
from techne_assets.core.writing.calls import STAGE_ORDER

_GROUPS_PREFIX = "batch/_groups/"
_JSONL = "application/jsonl"
# Dagster backfill ids are lowercase letters; anything else must still be one safe key part.
_GROUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,127}$")


class BatchJobRecord(BaseModel):
    """One Bedrock model invocation job of a group, as the sensor last saw it."""

    job_arn: str
    job_name: str
    pass_number: int
    stage: str
    records: int
    partitions: int
    input_uri: str
    output_uri: str
    status: str
    message: str | None = None
    submitted_at: str
    ended_at: str | None = None
    answered: int = 0
    errored: int = 0


class BatchGroup(BaseModel):
    group_id: str
    partition_keys: list[str]
    model_id: str
    created_at: str
    state: Literal["transcribing", "writing", "job", "publishing", "done"] = "transcribing"
    pass_number: int = 0
    on_demand_reason: str | None = Field(
        default=None, description="set: the next pass sends its requests on-demand, and why"
    )
    jobs: list[BatchJobRecord] = Field(default_factory=list)
    pass_ranges: list[list[str]] = Field(
        default_factory=list, description="the partition ranges of the current pass, one run each"
    )
    single_runs: bool = Field(default=False, description="the current pass runs one video per run")
    failed: dict[str, str] = Field(default_factory=dict, description="partition key → reason")
    written: list[str] = Field(default_factory=list)
    published: list[str] = Field(default_factory=list)
    pass_ranges: list[list[str]] = Field(
        default_factory=list,
        description="the current pass's draft runs, each the partition keys of one contiguous range",
    )
    single_runs: bool = Field(
        default=False, description="the current pass redoes videos one per run (a failed one fails alone)"
    )


class PassResult(BaseModel):
    """What one pass of the writer did for one partition."""

    partition_key: str
    pass_number: int
    run_id: str
    outcome: Literal["deferred", "written", "failed"]
    stage: str | None = None
    records: dict[str, str] = Field(default_factory=dict, description="record id → request digest")
    stage_labels: dict[str, str] = Field(default_factory=dict, description="record id → stage label")
    reason: str | None = None

    @classmethod
    def deferred(cls, partition_key: str, pass_number: int, run_id: str, deferred: RequestsDeferred,
                 max_output_tokens: int) -> tuple[PassResult, list[dict]]:
        """The deferred outcome of a partition, and the JSONL records of its requests."""
        by_record = {record_id(partition_key, item.stage, item.digest): item for item in deferred.deferred}
        records = [converse_record(rid, item.request, max_output_tokens=max_output_tokens)
                   for rid, item in by_record.items()]
        return cls(
            partition_key=partition_key, pass_number=pass_number, run_id=run_id, outcome="deferred",
            stage=stage_family([item.stage for item in deferred.deferred]),
            records={rid: item.digest for rid, item in by_record.items()},
            stage_labels={rid: item.stage for rid, item in by_record.items()},
        ), records


def stage_family(labels: list[str]) -> str:
    """The writer stages of stage labels, in stage order: ["merge", "extract:chunk-02"] → "extract+merge"."""
    families = {label.split(":", 1)[0] for label in labels}
    return "+".join(sorted(families, key=lambda f: (STAGE_ORDER.index(f) if f in STAGE_ORDER else len(STAGE_ORDER), f)))


class GroupExistsError(ValueError):
    """`create_group` was given the id of a group already in the ledger."""


class LedgerAnswers:
    """Every answer of a group's jobs, by request digest (the `BatchAnswers` port)."""

    def __init__(self, by_digest: dict[str, BatchAnswer]):
        self._by_digest = by_digest

    def answer(self, digest: str) -> BatchAnswer | None:
        return self._by_digest.get(digest)

    def __len__(self) -> int:
        return len(self._by_digest)


class GroupReplies:
    """Model replies by request digest under one prefix of the store (a `ReplyCache`)."""

    def __init__(self, store: Storage, prefix: str):
        self.store = store
        self.prefix = prefix

    def _key(self, digest: str) -> str:
        return f"{self.prefix}/{digest[:2]}/{digest}.json"

    def get(self, digest: str) -> ModelReply | None:
        key = self._key(digest)
        if not self.store.exists(key):
            return None
        return ModelReply.model_validate_json(self.store.read_bytes(key))

    def put(self, digest: str, reply: ModelReply) -> None:
        self.store.write_bytes(self._key(digest), reply.model_dump_json().encode("utf-8"), "application/json")


def _partition_file(partition_key: str) -> str:
    # Partition keys hold '/', spaces and percent escapes; a hash is one safe key part.
    return hashlib.sha256(partition_key.encode("utf-8")).hexdigest()[:24]


def _checked_group_id(group_id: str) -> str:
    if not _GROUP_ID.match(group_id):
        raise ValueError(f"not a batch group id: {group_id!r}")
    return group_id


class BatchLedger:
    def __init__(self, store: Storage, scratch: Storage):
        self.store = store
        self.scratch = scratch

    # Groups

    def _group_key(self, group_id: str) -> str:
        return f"{_GROUPS_PREFIX}{_checked_group_id(group_id)}.json"

    def create_group(self, group: BatchGroup) -> None:
        """Records a new group; refuses (GroupExistsError) an id already recorded."""
        if self.store.exists(self._group_key(group.group_id)):
            raise GroupExistsError(f"batch group {group.group_id} already exists")
        self.save_group(group)

    def group(self, group_id: str) -> BatchGroup | None:
        key = self._group_key(group_id)
        if not self.store.exists(key):
            return None
        return BatchGroup.model_validate_json(self.store.read_bytes(key))

    def save_group(self, group: BatchGroup) -> None:
        self.store.write_bytes(
            self._group_key(group.group_id), group.model_dump_json(indent=1).encode("utf-8"),
            "application/json",
        )

    def open_groups(self) -> list[BatchGroup]:
        """Groups not done yet, oldest first."""
        groups = [
            BatchGroup.model_validate_json(self.store.read_bytes(stored.key))
            for stored in self._listed(self.store, _GROUPS_PREFIX)
            if stored.key.endswith(".json")
        ]
        return sorted(
            (group for group in groups if group.state != "done"),
            key=lambda group: (group.created_at, group.group_id),
        )

    # Passes

    def _pass_prefix(self, group_id: str, pass_number: int) -> str:
        return f"batch/{_checked_group_id(group_id)}/pass-{pass_number}"

    def pass_input_uri(self, group_id: str, pass_number: int) -> str:
        """The folder (with a trailing '/') the pass's job reads every `.jsonl` of."""
        return self.scratch.uri(f"{self._pass_prefix(group_id, pass_number)}/input") + "/"

    def pass_output_uri(self, group_id: str, pass_number: int) -> str:
        return self.scratch.uri(f"{self._pass_prefix(group_id, pass_number)}/output") + "/"

    def pass_input_key(self, group_id: str, pass_number: int, partition_key: str) -> str:
        """The scratch key of one partition's records in a pass."""
        name = _partition_file(partition_key)
        return f"{self._pass_prefix(group_id, pass_number)}/input/{name}.jsonl"

    def write_pass_result(self, group_id: str, result: PassResult, records: list[dict]) -> None:
        """The records first (scratch), then the result (store): a result the sensor reads
        always has its records in place. A run writing a partition's result again (a relaunch
        in the same pass) replaces both."""
        if result.outcome == "deferred" and not records:
            raise ValueError(f"{result.partition_key}: a deferred pass result needs its records")
        if records:
            write_records(
                self.scratch, self.pass_input_key(group_id, result.pass_number, result.partition_key),
                records,
            )
        name = _partition_file(result.partition_key)
        self.store.write_bytes(
            f"{self._pass_prefix(group_id, result.pass_number)}/results/{name}.json",
            result.model_dump_json().encode("utf-8"), "application/json",
        )

    def pass_results(self, group_id: str, pass_number: int) -> dict[str, PassResult]:
        """Partition key → its result in that pass (partitions not written yet are absent)."""
        results = {}
        for stored in self._listed(self.store, f"{self._pass_prefix(group_id, pass_number)}/results/"):
            result = PassResult.model_validate_json(self.store.read_bytes(stored.key))
            results[result.partition_key] = result
        return results

    # Answers

    def _answers_prefix(self, group_id: str) -> str:
        return f"batch/{_checked_group_id(group_id)}/answers/"

    def put_answers(self, group_id: str, pass_number: int, answers: list[BatchAnswer]) -> None:
        """The answers of the pass's job, one JSONL file per pass (written again, replaced)."""
        body = "".join(answer.model_dump_json() + "\n" for answer in answers)
        self.store.write_bytes(
            f"{self._answers_prefix(group_id)}pass-{pass_number}.jsonl", body.encode("utf-8"), _JSONL
        )

    def answers(self, group_id: str) -> LedgerAnswers:
        """Every pass's answers by digest; a reply wins over an error for the same digest, and a
        later pass over an earlier one of the same kind."""
        stored = list(self._listed(self.store, self._answers_prefix(group_id)))
        by_digest: dict[str, BatchAnswer] = {}
        for item in sorted(stored, key=lambda item: _pass_number_of(item.key)):
            for line in self.store.read_bytes(item.key).decode("utf-8").splitlines():
                if not line.strip():
                    continue
                answer = BatchAnswer.model_validate_json(line)
                earlier = by_digest.get(answer.digest)
                if earlier is None or answer.reply is not None or earlier.reply is None:
                    by_digest[answer.digest] = answer
        return LedgerAnswers(by_digest)

    def paid_replies(self, group_id: str) -> GroupReplies:
        """The on-demand replies the group's passes paid for (a record that errored in batch,
        a repair, a pass below the job minimum), by request digest: a later pass serves them
        at their cost instead of paying again or counting them as free."""
        return GroupReplies(self.store, f"batch/{_checked_group_id(group_id)}/on-demand")

    @staticmethod
    def _listed(storage: Storage, prefix: str) -> list[StoredObject]:
        """Objects under a prefix; a local store folder not created yet holds nothing (a
        missing bucket is still an error)."""
        try:
            return list(storage.list_objects(prefix))
        except InputError as error:
            if error.reason == "no such folder" and error.source == storage.root_uri:
                return []
            raise

def _pass_number_of(key: str) -> int:
    match = re.search(r"pass-(\d+)\.jsonl$", key)
    return int(match.group(1)) if match else 0
