"""End to end under `dagster dev`: the run's process is killed (SIGKILL) in the middle of `draft`
and in the middle of `document`; run monitoring marks the run failed, run retries resume it from
the failed step, and exactly one document is published, by the retry.

The writer is the Bedrock one, pointed (through boto3's standard AWS_ENDPOINT_URL_BEDROCK_RUNTIME)
at a `ConverseSimulator` in this process, so the test knows when `draft` is inside a model call:
its first call is held until the process that made it is dead. `document` is caught while its
ffmpeg scene detection runs: the run's process is frozen (SIGSTOP) the moment that ffmpeg child
appears, the step is confirmed started and unfinished, then the process is killed.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from e2e_support import DagsterDev, free_port, instance_config
from test_e2e_dagster_dev import (
    ASSETS,
    PARENT_RUN_TAG,
    PARTITION_TAG,
    RETRY_TIMEOUT,
    RUN_TIMEOUT,
    Inbox,
    _finished_run,
    _first_run_for,
)

from techne_assets.adapters.publishing import read_published
from techne_assets.adapters.storage import LocalStorage
from techne_assets.adapters.tracking import RunStatus, SqliteTracker
from techne_assets.core.partition_keys import storage_prefix
from techne_assets.testing.canned_answers import CannedAnswers
from techne_assets.testing.converse_simulator import CannedReply, ConverseCall, ConverseSimulator

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parent.parent
QUOTA = {"requests_per_minute": 1_000, "tokens_per_minute": 10_000_000}
# Held calls give up after this long, so a failing test never leaves a thread waiting forever.
HOLD_LIMIT_SECONDS = 300


class HeldFirstCall:
    """Canned answers, except that the first call waits until `release()` (or the hold limit)."""

    def __init__(self):
        self._answers = CannedAnswers()
        self._lock = threading.Lock()
        self._held = threading.Event()
        self._released = threading.Event()
        self.calls = 0

    def __call__(self, call: ConverseCall) -> CannedReply:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            self._held.set()
            self._released.wait(HOLD_LIMIT_SECONDS)
        return self._answers(call)

    def holding(self) -> bool:
        return self._held.is_set() and not self._released.is_set()

    def release(self) -> None:
        self._released.set()


@pytest.fixture(scope="module")
def held_call() -> HeldFirstCall:
    return HeldFirstCall()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Inbox:
    return Inbox(tmp_path_factory.mktemp("e2e-killed-folders"))


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory, inbox: Inbox, held_call: HeldFirstCall):
    home = tmp_path_factory.mktemp("e2e-killed-home")
    (home / "dagster.yaml").write_text(instance_config(PROJECT_ROOT), encoding="utf-8")
    cwd = tmp_path_factory.mktemp("e2e-killed-cwd")
    port = free_port()
    with ConverseSimulator(**QUOTA, time_scale=0.01, responder=held_call) as simulator:
        env = {
            "TECHNE_PROFILE": "local",
            "TECHNE_WRITER": "bedrock",
            "TECHNE_BEDROCK_REQUESTS_PER_MINUTE": str(QUOTA["requests_per_minute"]),
            "TECHNE_BEDROCK_TOKENS_PER_MINUTE": str(QUOTA["tokens_per_minute"]),
            "TECHNE_INPUT_URI": str(inbox.inbox),
            "TECHNE_OUTPUT_URI": str(inbox.output),
            "TECHNE_STORE_URI": str(inbox.work),
            "TECHNE_STATE_DIR": str(inbox.state),
            "TECHNE_UI_BASE_URL": f"http://127.0.0.1:{port}",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": simulator.endpoint_url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": str(cwd / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "aws-credentials"),
        }
        for folder in (inbox.inbox, inbox.output, inbox.work, inbox.state):
            folder.mkdir(parents=True, exist_ok=True)
        try:
            with DagsterDev(PROJECT_ROOT, home=home, env=env, cwd=cwd, port=port) as dev:
                yield dev
        finally:
            held_call.release()


@pytest.fixture(autouse=True)
def _dagster_dev_log_on_failure(dagster_dev: DagsterDev):
    yield
    print(dagster_dev.log_tail())


def _step_events(dev: DagsterDev, run_id: str, step: str) -> list[str]:
    return [e["__typename"] for e in dev.run_events(run_id) if e.get("stepKey") == step]


def _run_worker(dev: DagsterDev, run_id: str) -> psutil.Process:
    started = [
        e for e in dev.run_events(run_id)
        if (e.get("message") or "").startswith("Started process for run (pid:")
    ]
    assert len(started) == 1, started
    pid = int(started[0]["message"].split("pid:")[1].strip(" ).\n"))
    # Only ever signal what this dagster dev started.
    (worker,) = [p for p in dev.processes() if p.pid == pid]
    return worker


def _scene_detection_child(worker: psutil.Process) -> psutil.Process | None:
    """The ffmpeg child `document` runs for its frames (scene detection or a frame grab)."""
    for child in worker.children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "ffmpeg" in command and ("gt(scene" in command or "frames-" in command):
            return child
    return None


def _assert_retried_from_failure(dev: DagsterDev, inbox: Inbox, run_id: str, partition: str,
                                 redone: set[str]) -> None:
    """The killed run FAILED; its one retry (naming it) did only `redone`, and published once."""
    failed = _finished_run(dev, run_id, timeout=120)
    assert failed["status"] == "FAILURE", failed
    retries = dev.wait_until(
        lambda: dev.runs({PARENT_RUN_TAG: run_id}),
        timeout=120, what="the daemon to launch a retry of the killed run", interval=2,
    )
    assert len(retries) == 1, retries
    retry = retries[0]
    assert retry["tags"].get(PARTITION_TAG) == partition
    finished = _finished_run(dev, retry["runId"], timeout=RETRY_TIMEOUT)
    assert finished["status"] == "SUCCESS", finished

    by_asset = {asset: [e["runId"] for e in dev.materializations(asset, partition)] for asset in ASSETS}
    for asset in ASSETS:
        expected = [retry["runId"]] if asset in redone else [run_id]
        assert by_asset[asset] == expected, (asset, by_asset)
    # The killed run's steps after the failure never ran: nothing of it was published (its
    # only publication events are the run's plan, written when the run was created).
    assert set(_step_events(dev, run_id, "published_document")) <= {"AssetMaterializationPlannedEvent"}
    output = LocalStorage(inbox.output)
    assert read_published(output, storage_prefix(partition), "document.md")
    published = [
        o.key for o in output.list_objects(storage_prefix(partition)) if o.key.endswith("/document.md")
    ]
    assert len(published) == 1, published

    tracker = SqliteTracker(inbox.state / "tracking.sqlite3")
    not_yet_recorded = SimpleNamespace(status=None)
    dev.wait_until(
        lambda: (tracker.get(retry["runId"]) or not_yet_recorded).status == RunStatus.COMPLETED,
        timeout=120, what="the run-status sensor to mark the retry COMPLETED", interval=2,
    )
    # Each run-status sensor ticks on its own: the killed run's FAILED record may come later.
    dev.wait_until(
        lambda: (tracker.get(run_id) or not_yet_recorded).status == RunStatus.FAILED,
        timeout=120, what="the run-failure sensor to mark the killed run FAILED", interval=2,
    )
    retried = tracker.get(retry["runId"])
    assert (retried.parent_execution_id, retried.attempt) == (run_id, 2)


def test_process_killed_mid_draft_is_retried_from_draft(
    dagster_dev: DagsterDev, inbox: Inbox, held_call: HeldFirstCall
):
    video = inbox.drop("morto-no-rascunho")
    partition = video.name
    run_id = _first_run_for(dagster_dev, partition)["runId"]
    dagster_dev.wait_until(
        lambda: held_call.holding() or None, timeout=RUN_TIMEOUT,
        what="draft's first model call to reach the simulator", interval=0.5,
    )
    assert "ExecutionStepStartEvent" in _step_events(dagster_dev, run_id, "draft")
    assert dagster_dev.materializations("draft", partition) == []
    worker = _run_worker(dagster_dev, run_id)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    held_call.release()

    _assert_retried_from_failure(
        dagster_dev, inbox, run_id, partition,
        redone={"draft", "document", "published_document"},
    )


def test_process_killed_mid_document_is_retried_from_document(
    dagster_dev: DagsterDev, inbox: Inbox, held_call: HeldFirstCall
):
    held_call.release()  # this call's draft runs through
    video = inbox.drop("morto-no-documento")
    partition = video.name
    run_id = _first_run_for(dagster_dev, partition)["runId"]
    worker = dagster_dev.wait_until(
        lambda: _run_worker(dagster_dev, run_id) if any(
            "Started process for run (pid:" in (e.get("message") or "")
            for e in dagster_dev.run_events(run_id)) else None,
        timeout=RUN_TIMEOUT, what="the run's process to start", interval=0.5,
    )
    deadline = time.monotonic() + RUN_TIMEOUT
    while _scene_detection_child(worker) is None:
        assert worker.is_running(), "the run's process ended before document read any frame"
        assert time.monotonic() < deadline, "document never started reading frames"
        time.sleep(0.02)
    worker.suspend()
    try:
        assert "ExecutionStepStartEvent" in _step_events(dagster_dev, run_id, "document")
        assert dagster_dev.materializations("document", partition) == []
        assert dagster_dev.materializations("draft", partition)
    finally:
        worker.send_signal(signal.SIGKILL)
    worker.wait(10)

    _assert_retried_from_failure(
        dagster_dev, inbox, run_id, partition, redone={"document", "published_document"},
    )
