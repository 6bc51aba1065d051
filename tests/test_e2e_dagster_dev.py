"""End to end, local profile: a real `dagster dev` over the project's workspace.yaml and a copy of its
dagster.yaml, videos dropped into a real inbox folder, the UI's GraphQL API over HTTP, and the
asset lineage in headless Chromium.

The inbox sensor ticks every 30 s and takes a local file on the second tick that sees it at the
same size, so each drop costs 30-60 s before its run is requested. To keep the module near four
minutes, the "same file again" drop is made before the recovery test (which waits for its own
video anyway) and checked after it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from browser import HeadlessChromium
from e2e_support import DagsterDev, free_port, instance_config

from techne_assets.adapters.demo import record_demo
from techne_assets.adapters.publishing import read_published
from techne_assets.adapters.storage import LocalStorage
from techne_assets.adapters.tracking import RunStatus, SqliteTracker
from techne_assets.core.partition_keys import storage_prefix

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ASSETS = ("video", "transcript", "draft", "document", "published_document")
# Every asset's inputs: the lineage the UI must draw, one edge per dependency.
LINEAGE_EDGES = {
    ("video", "transcript"),
    ("video", "draft"),
    ("transcript", "draft"),
    ("video", "document"),
    ("transcript", "document"),
    ("draft", "document"),
    ("document", "published_document"),
}
LOCATION = "techne_assets"
PARTITION_TAG = "dagster/partition"
PARENT_RUN_TAG = "dagster/parent_run_id"
RUN_TIMEOUT = 240  # drop → run requested (≤ 60 s) → run finished, on a busy 2-core machine
# The retry waits for the dead run's pool claim to be freed (run_monitoring) before it runs.
RETRY_TIMEOUT = 300
BEDROCK_POOL = "bedrock"

class Inbox:
    """The running instance's folders, and the demo call recorded once for every drop."""

    def __init__(self, root: Path):
        self.root = root
        self.inbox, self.output, self.work, self.state = (
            root / name for name in ("inbox", "output", "work", "state")
        )
        self.demo_video, self.demo_captions = record_demo(root / "recorded")

    def drop(self, stem: str) -> Path:
        """Writes the captions first, then the video (as a hidden file renamed into place)."""
        self.inbox.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.demo_captions, self.inbox / f"{stem}.vtt")
        video = self.inbox / f"{stem}.mp4"
        partial = self.inbox / f".{stem}.mp4.partial"
        shutil.copyfile(self.demo_video, partial)
        partial.replace(video)
        return video

    def drop_again_preserving_mtime(self, video: Path) -> None:
        """`cp -p` of the same bytes over the same name: new inode, same size and mtime."""
        stat = video.stat()
        partial = video.with_name(f".{video.name}.partial")
        shutil.copyfile(self.demo_video, partial)
        os.utime(partial, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        partial.replace(video)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Inbox:
    return Inbox(tmp_path_factory.mktemp("e2e-folders"))


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory, inbox: Inbox):
    home = tmp_path_factory.mktemp("e2e-dagster-home")
    (home / "dagster.yaml").write_text(instance_config(PROJECT_ROOT), encoding="utf-8")
    cwd = tmp_path_factory.mktemp("e2e-cwd")  # no .env, no data/ of the developer's
    port = free_port()
    env = {
        "TECHNE_PROFILE": "local",
        "TECHNE_INPUT_URI": str(inbox.inbox),
        "TECHNE_OUTPUT_URI": str(inbox.output),
        "TECHNE_STORE_URI": str(inbox.work),
        "TECHNE_STATE_DIR": str(inbox.state),
        "TECHNE_UI_BASE_URL": f"http://127.0.0.1:{port}",
        "AWS_CONFIG_FILE": str(cwd / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "aws-credentials"),
    }
    for folder in (inbox.inbox, inbox.output, inbox.work, inbox.state):
        folder.mkdir(parents=True, exist_ok=True)
    with DagsterDev(PROJECT_ROOT, home=home, env=env, cwd=cwd, port=port) as dev:
        yield dev


@pytest.fixture(autouse=True)
def _dagster_dev_log_on_failure(dagster_dev: DagsterDev):
    yield
    # Captured output is shown only for a failing test: there it helps to see what dagster did.
    print(dagster_dev.log_tail())


def _instance(dev: DagsterDev):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(dev.home))


def _runs_for(dev: DagsterDev, partition: str) -> list[dict]:
    return dev.runs({PARTITION_TAG: partition})


def _finished_run(dev: DagsterDev, run_id: str, timeout: float = RUN_TIMEOUT) -> dict:
    def finished():
        runs = [r for r in dev.runs() if r["runId"] == run_id]
        return runs[0] if runs and runs[0]["status"] in {"SUCCESS", "FAILURE", "CANCELED"} else None

    return dev.wait_until(finished, timeout=timeout, what=f"run {run_id} to finish", interval=2)


def _first_run_for(dev: DagsterDev, partition: str, timeout: float = RUN_TIMEOUT) -> dict:
    runs = dev.wait_until(
        lambda: _runs_for(dev, partition),
        timeout=timeout,
        what=f"the inbox sensor to request a run for {partition}",
        interval=2,
    )
    return runs[-1]


def _notifications(state_dir: Path) -> list[dict]:
    path = state_dir / "notifications.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _check_names(dev: DagsterDev) -> dict[str, list[str]]:
    data = dev.graphql(
        """
        query {
          assetNodes(group: {groupName: "call_documents", repositoryName: "__repository__",
                             repositoryLocationName: "techne_assets"}) {
            assetKey { path }
            assetChecksOrError { ... on AssetChecks { checks { name } } }
          }
        }
        """
    )
    return {
        node["assetKey"]["path"][-1]: sorted(c["name"] for c in node["assetChecksOrError"]["checks"])
        for node in data["assetNodes"]
    }


def _check_executions(dev: DagsterDev, asset: str, check: str, partition: str) -> list[dict]:
    data = dev.graphql(
        """
        query Executions($path: [String!]!, $check: String!, $partition: String) {
          assetCheckExecutions(assetKey: {path: $path}, checkName: $check,
                               partition: $partition, limit: 10) {
            runId
            status
            partition
            evaluation { success severity }
          }
        }
        """,
        {"path": [asset], "check": check, "partition": partition},
    )
    return data["assetCheckExecutions"]


@pytest.fixture(scope="module")
def first_video(dagster_dev: DagsterDev, inbox: Inbox) -> dict:
    """The demo call dropped into the inbox and processed by the run the sensor requested."""
    video = inbox.drop("treinamento-k8s-crashloop")
    partition = video.name  # a valid Dagster partition key, used as is
    run = _first_run_for(dagster_dev, partition)
    finished = _finished_run(dagster_dev, run["runId"])
    return {"video": video, "partition": partition, "run": finished}


@pytest.fixture(scope="module")
def same_file_dropped_again(dagster_dev: DagsterDev, inbox: Inbox, first_video: dict) -> float:
    """The first video copied again with its mtime preserved; returns when (epoch seconds)."""
    dropped_at = time.time()
    inbox.drop_again_preserving_mtime(first_video["video"])
    return dropped_at


def test_dropped_video_materializes_the_four_assets_checks_pass_and_notifies(
    dagster_dev: DagsterDev, inbox: Inbox, first_video: dict
):
    run, partition = first_video["run"], first_video["partition"]
    assert run["status"] == "SUCCESS", f"run {run['runId']} ended {run['status']}"
    assert run["jobName"] == "process_video"
    assert run["tags"]["dagster/sensor_name"] == "inbox_sensor"
    assert run["tags"]["techne/video_key"] == first_video["video"].name

    for asset in ASSETS:
        events = dagster_dev.materializations(asset, partition)
        assert [(e["partition"], e["runId"]) for e in events] == [(partition, run["runId"])], asset

    checks = _check_names(dagster_dev)
    assert set(checks) == set(ASSETS)
    from techne_assets.definitions import defs as load_defs

    defined: dict[str, list[str]] = {asset: [] for asset in ASSETS}
    for check_key in load_defs().resolve_asset_graph().asset_check_keys:
        defined[check_key.asset_key.path[-1]].append(check_key.name)
    assert checks == {asset: sorted(names) for asset, names in defined.items()}, checks
    for asset, names in checks.items():
        for name in names:
            executions = _check_executions(dagster_dev, asset, name, partition)
            assert [(e["runId"], e["status"], e["evaluation"]["success"]) for e in executions] == [
                (run["runId"], "SUCCEEDED", True)
            ], f"{asset}/{name}: {executions}"

    # Readers go through the partition's pointer (manifest.json) to its current version.
    document = read_published(LocalStorage(inbox.output), storage_prefix(partition), "document.md")
    assert "Documento de Treinamento e Troubleshooting" in document.decode("utf-8")

    # The run status sensor runs in the daemon a few seconds after the run ends.
    def completed_notifications():
        return [
            n for n in _notifications(inbox.state)
            if n["attributes"].get("status") == "COMPLETED"
            and n["attributes"].get("execution_id") == run["runId"]
        ]

    (notification,) = dagster_dev.wait_until(
        completed_notifications, timeout=90, what="the COMPLETED notification", interval=2
    )
    # "Document ready" links the published document.md (sent only after publication).
    published_md = next(line for line in notification["body"].splitlines() if "document.md" in line)
    assert str(inbox.output) in published_md
    assert f"{dagster_dev.url}/runs/{run['runId']}" in notification["body"]


# The lineage graph is one SVG: a foreignObject per asset node, a path with an arrowhead per edge.
# Each expression is wrapped in a function so that polling it again declares nothing twice.
GRAPH_JS = r"""
const nodeName = (node) => {
  const html = node.querySelector('div');
  return (html ? html.innerText : node.textContent).trim().split('\n')[0].trim();
};
const assetNodes = () => Array.from(document.querySelectorAll('svg foreignObject'));
"""

NODE_NAMES_JS = "(() => {" + GRAPH_JS + r"""
  const names = assetNodes().map(nodeName);
  return names.length >= 4 ? names : null;
})()"""

# Each edge starts at the right side of its upstream node and ends at the left side of its
# downstream node: map both ends of every edge path to the nodes they touch.
EDGES_JS = "(() => {" + GRAPH_JS + r"""
  const nodes = assetNodes().map(node => ({
    name: nodeName(node),
    x: node.x.baseVal.value, y: node.y.baseVal.value,
    w: node.width.baseVal.value, h: node.height.baseVal.value,
  }));
  const svg = assetNodes()[0].ownerSVGElement;
  const touching = (point, side) => nodes.find(n =>
    Math.abs(point.x - (side === 'right' ? n.x + n.w : n.x)) < 40 &&
    point.y >= n.y - 5 && point.y <= n.y + n.h + 5);
  const edges = Array.from(svg.querySelectorAll(':scope > path[marker-end]')).map(path => {
    const from = touching(path.getPointAtLength(0), 'right');
    const to = touching(path.getPointAtLength(path.getTotalLength()), 'left');
    return [from ? from.name : null, to ? to.name : null];
  });
  return edges.length >= 6 ? edges : null;
})()"""


SKIP_DIALOG_JS = """
Array.from(document.querySelectorAll('button'))
  .filter(b => b.textContent.trim() === 'Skip')
  .map(b => b.click()).length
"""


def _dismiss_community_dialog(page, quiet_seconds: float = 3, timeout: float = 15) -> None:
    """A first visit opens a "Join the Dagster community" dialog a moment after the page loads;
    click its Skip like a user, until none has shown up for `quiet_seconds`."""
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if page.evaluate(SKIP_DIALOG_JS):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return
        time.sleep(0.2)
    raise AssertionError("the community dialog kept covering the lineage")


def test_lineage_page_shows_the_four_assets_and_their_edges(dagster_dev: DagsterDev, first_video):
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "asset-lineage.png"
    with HeadlessChromium(timeout=60) as browser:
        page = browser.open(f"{dagster_dev.url}/locations/{LOCATION}/asset-groups/call_documents")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            width=1600, height=1000, deviceScaleFactor=1, mobile=False,
        )
        names = page.wait_for(NODE_NAMES_JS, timeout=90)
        edges = page.wait_for(EDGES_JS, timeout=30)
        _dismiss_community_dialog(page)
        page.screenshot(screenshot)
        errors = list(page.console_errors)
    assert sorted(names) == sorted(ASSETS)
    assert sorted(tuple(edge) for edge in edges) == sorted(LINEAGE_EDGES), edges
    assert errors == [], errors
    assert screenshot.stat().st_size > 10_000


def test_killed_run_is_retried_from_failure_without_transcribing_again(
    dagster_dev: DagsterDev, inbox: Inbox, same_file_dropped_again: float
):
    """`same_file_dropped_again` is requested here only so its sensor ticks overlap this test."""
    instance = _instance(dagster_dev)
    storage = instance.event_log_storage
    # No `bedrock` slot: the run stops before `draft`, after `transcript` is materialized.
    storage.set_concurrency_slots(BEDROCK_POOL, 0)
    try:
        video = inbox.drop("recuperacao-k8s-crashloop")
        partition = video.name
        run_id = _first_run_for(dagster_dev, partition)["runId"]

        def waiting_for_a_slot():
            events = dagster_dev.run_events(run_id)
            blocked = any(
                e.get("stepKey") == "draft"
                and (e.get("message") or "").startswith(f"Step blocked by limit for pool {BEDROCK_POOL}")
                for e in events
            )
            return events if blocked and dagster_dev.materializations("transcript", partition) else None

        events = dagster_dev.wait_until(
            waiting_for_a_slot, timeout=RUN_TIMEOUT,
            what="the run to materialize transcript and wait for a bedrock slot", interval=1,
        )
        assert dagster_dev.materializations("draft", partition) == []
        started = [
            e for e in events if (e.get("message") or "").startswith("Started process for run (pid:")
        ]
        assert len(started) == 1, started
        pid = int(started[0]["message"].split("pid:")[1].strip(" ).\n"))
        # Only ever kill what this dagster dev started.
        (worker,) = [p for p in dagster_dev.processes() if p.pid == pid]
        worker.send_signal(signal.SIGKILL)

        failed = _finished_run(dagster_dev, run_id, timeout=60)
        assert failed["status"] == "FAILURE"
        retries = dagster_dev.wait_until(
            lambda: dagster_dev.runs({PARENT_RUN_TAG: run_id}),
            timeout=90, what="the daemon to launch a retry of the killed run", interval=2,
        )
        assert len(retries) == 1, retries
        retry = retries[0]
        assert retry["tags"].get("dagster/root_run_id") == run_id
        assert retry["tags"].get(PARTITION_TAG) == partition
    finally:
        storage.set_concurrency_slots(BEDROCK_POOL, 1)

    # The retry's first step is `draft`: it leaves the queue once the dead run's claim on the pool
    # is released, which only run monitoring's free_slots_after_run_end_seconds does.
    def dead_run_claims() -> list[str]:
        info = storage.get_concurrency_info(BEDROCK_POOL)
        return [s.run_id for s in [*info.pending_steps, *info.claimed_slots] if s.run_id == run_id]

    try:
        if not instance.run_monitoring_settings.get("free_slots_after_run_end_seconds"):
            assert not dead_run_claims(), (
                f"the killed run {run_id} keeps its claim on pool {BEDROCK_POOL!r} and nothing will "
                f"release it, so retry {retry['runId']} stays queued: dagster.yaml's run_monitoring "
                "needs free_slots_after_run_end_seconds"
            )
        finished = _finished_run(dagster_dev, retry["runId"], timeout=RETRY_TIMEOUT)
    finally:
        instance.dispose()
    assert finished["status"] == "SUCCESS", finished

    by_asset = {asset: dagster_dev.materializations(asset, partition) for asset in ASSETS}
    assert [e["runId"] for e in by_asset["video"]] == [run_id]
    assert [e["runId"] for e in by_asset["transcript"]] == [run_id]
    assert [e["runId"] for e in by_asset["draft"]] == [retry["runId"]]
    assert [e["runId"] for e in by_asset["document"]] == [retry["runId"]]
    assert read_published(LocalStorage(inbox.output), storage_prefix(partition), "document.md")

    # The tracking records and notifications tell the story: the killed run FAILED, its retry
    # (attempt 2, naming its parent) COMPLETED.
    tracker = SqliteTracker(inbox.state / "tracking.sqlite3")
    # The record appears when the run-status sensor first sees the retry.
    not_yet_recorded = SimpleNamespace(status=None)
    dagster_dev.wait_until(
        lambda: (tracker.get(retry["runId"]) or not_yet_recorded).status == RunStatus.COMPLETED,
        timeout=120, what="the run-status sensor to mark the retry COMPLETED", interval=2,
    )
    killed, retried = tracker.get(run_id), tracker.get(retry["runId"])
    assert killed.status == RunStatus.FAILED
    assert (retried.parent_execution_id, retried.attempt) == (run_id, 2)
    # Durations are the runs' own, not the sensor's polling lag.
    with _instance(dagster_dev) as reader:
        retry_record = reader.get_run_record_by_id(retry["runId"])
    assert retried.duration_seconds == pytest.approx(
        retry_record.end_time - retry_record.start_time, abs=0.05)
    statuses = {(n["attributes"]["execution_id"], n["attributes"]["status"]) for n in _notifications(inbox.state)}
    assert {(run_id, "FAILED"), (retry["runId"], "COMPLETED")} <= statuses


def test_same_file_dropped_again_starts_no_new_run(
    dagster_dev: DagsterDev, first_video: dict, same_file_dropped_again: float
):
    partition = first_video["partition"]

    # A changed file is requested on the second tick that sees it; wait for two full ticks.
    def two_ticks_after_the_drop():
        ticks = [
            t for t in dagster_dev.sensor_ticks("inbox_sensor")
            if float(t["timestamp"]) > same_file_dropped_again and t["status"] != "STARTED"
        ]
        return ticks if len(ticks) >= 2 else None

    ticks = dagster_dev.wait_until(
        two_ticks_after_the_drop, timeout=120, what="two inbox_sensor ticks after the drop",
        interval=2,
    )
    assert all(t["status"] in {"SKIPPED", "SUCCESS"} for t in ticks), ticks
    runs = _runs_for(dagster_dev, partition)
    assert [r["runId"] for r in runs] == [first_video["run"]["runId"]]
    requested = {run_id for t in ticks for run_id in t["runIds"]}
    assert first_video["run"]["runId"] not in requested
