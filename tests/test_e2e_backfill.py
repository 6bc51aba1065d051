"""End to end: the inbox sensor and `techne backfill` on the same archive never run a video twice.

With `dagster dev` running, 30 old recordings are copied into the inbox the way `cp -p` does it
(old mtimes), the sensor ticks over them, and `techne backfill` is run on the same inbox; then
`dagster dev` (its daemon with it) is stopped and started again while the backfill's runs wait in
the queue. Every video gets exactly one run, whichever of the two asked first, and the ticks
that follow add none. Runs that retry a run killed by the stop carry a parent and are not counted, nor are the
backfill's later runs of a video it already started (ranged `draft` runs, per-video `document`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import DagsterDev, free_port, instance_config

from techne_assets.adapters.demo import record_demo

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VIDEOS = 30
PARTITION_TAG = "dagster/partition"
PARENT_RUN_TAG = "dagster/parent_run_id"
OLD_MTIME = time.mktime((2019, 3, 14, 10, 0, 0, 0, 0, -1))


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("e2e-backfill")
    named = {name: root / name for name in ("inbox", "output", "store", "scratch", "state", "home", "cwd")}
    for folder in named.values():
        folder.mkdir()
    named["recorded"] = root / "recorded"
    return named


@pytest.fixture(scope="module")
def environment(folders) -> dict[str, str]:
    return {
        "TECHNE_PROFILE": "local",
        "TECHNE_INPUT_URI": str(folders["inbox"]),
        "TECHNE_OUTPUT_URI": str(folders["output"]),
        "TECHNE_STORE_URI": str(folders["store"]),
        "TECHNE_SCRATCH_URI": str(folders["scratch"]),
        "TECHNE_STATE_DIR": str(folders["state"]),
        # Ten per tick: the sensor takes some, the backfill (run before its third tick) the rest.
        "TECHNE_SENSOR_MAX_RUNS_PER_TICK": "10",
        "AWS_CONFIG_FILE": str(folders["cwd"] / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folders["cwd"] / "aws-credentials"),
    }


def start_dagster_dev(folders, environment) -> DagsterDev:
    """`dagster dev` on the module's instance; a second one after a stop is a restarted daemon."""
    home = folders["home"]
    (home / "dagster.yaml").write_text(instance_config(PROJECT_ROOT), encoding="utf-8")
    port = free_port()
    env = environment | {"TECHNE_UI_BASE_URL": f"http://127.0.0.1:{port}"}
    return DagsterDev(PROJECT_ROOT, home=home, env=env, cwd=folders["cwd"], port=port)


def copy_archive(folders) -> list[str]:
    """30 recordings with their captions, copied in with their old mtime kept (`cp -p`)."""
    video, captions = record_demo(folders["recorded"])
    keys = []
    for i in range(VIDEOS):
        stem = f"arquivo-2019/chamada-{i:02d}"
        target = folders["inbox"] / f"{stem}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(captions, target.with_suffix(".vtt"))
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(video, partial)
        os.utime(partial, (OLD_MTIME, OLD_MTIME))
        partial.replace(target)
        keys.append(f"{stem}.mp4")
    return keys


def sensor_ticks_since(dev: DagsterDev, since: float) -> list[dict]:
    return [t for t in dev.sensor_ticks("inbox_sensor") if float(t["timestamp"]) > since]


def starts_the_video(run: dict) -> bool:
    """A run of the whole per-video job, or the first run of a backfill's video (`video`,
    `transcript`): a backfill then writes `draft` in ranged runs (its BackfillPolicy) and runs
    `document` per video, runs that continue a video already counted."""
    selection = run.get("assetSelection")
    return selection is None or ["video"] in [key["path"] for key in selection]


def original_runs(dev: DagsterDev, partitions: set[str]) -> list[dict]:
    """Runs that start these partitions, not counting run retries of a dead process (they carry
    a parent)."""
    return [r for r in dev.runs() if r["tags"].get(PARTITION_TAG) in partitions
            and PARENT_RUN_TAG not in r["tags"] and starts_the_video(r)]


def run_backfill(folders, environment) -> tuple[list[str], int]:
    """`techne backfill` on the instance; (its skip lines, the number of videos it submitted)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHNE_", "DAGSTER_"))}
    env.update(environment, DAGSTER_HOME=str(folders["home"]))
    backfill = subprocess.run([sys.executable, "-m", "techne_assets.cli", "backfill"], env=env,
                              cwd=folders["cwd"], capture_output=True, text=True, timeout=180)
    assert backfill.returncode == 0, backfill.stderr
    lines = backfill.stdout.strip().splitlines()
    skipped = [line for line in lines if line.startswith("skipped ")]
    submitted = re.fullmatch(r"backfill \S+ submitted: (\d+) videos", lines[-1])
    assert submitted is not None, lines
    return skipped, int(submitted.group(1))


def test_thirty_old_videos_copied_in_then_a_backfill_give_exactly_thirty_runs(folders, environment):
    """Also: the daemon restarted while the backfill's runs are queued adds no run."""
    dev = start_dagster_dev(folders, environment).__enter__()
    try:
        dev.wait_until(lambda: dev.sensor_ticks("inbox_sensor"), timeout=120, what="the inbox sensor's first tick")
        keys = copy_archive(folders)
        copied_at = time.time()
        # The sensor sees the copies first: their old mtimes do not hide them.
        dev.wait_until(lambda: [t for t in sensor_ticks_since(dev, copied_at) if t["runIds"]], timeout=120,
                       what="a sensor tick that requests runs for the copied videos", interval=2)
        skipped, submitted = run_backfill(folders, environment)
        assert skipped and all(line.endswith("a run of it is queued or in progress") for line in skipped)
        assert submitted + len(skipped) == VIDEOS
        partitions = set(keys)
        dev.wait_until(lambda: [r for r in original_runs(dev, partitions) if "dagster/backfill" in r["tags"]],
                       timeout=180, what="the backfill's first runs", interval=3)
    finally:
        dev.__exit__(None, None, None)

    with start_dagster_dev(folders, environment) as dev:
        dev.wait_until(lambda: {r["tags"][PARTITION_TAG] for r in original_runs(dev, partitions)} == partitions,
                       timeout=300, what="one run for every copied video", interval=3)
        # Two more sensor ticks: whatever the backfill targets, the sensor leaves alone.
        settled_at = time.time()
        dev.wait_until(lambda: len(sensor_ticks_since(dev, settled_at)) >= 2, timeout=150,
                       what="two sensor ticks after the restart", interval=3)
        runs = original_runs(dev, partitions)
    per_partition: dict[str, list[str]] = {}
    for run in runs:
        per_partition.setdefault(run["tags"][PARTITION_TAG], []).append(run["runId"])
    assert {k: v for k, v in per_partition.items() if len(v) > 1} == {}
    assert len(runs) == VIDEOS
    assert {("backfill" if "dagster/backfill" in r["tags"] else "sensor") for r in runs} == {"backfill", "sensor"}
