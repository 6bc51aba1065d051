"""The production instance's retry settings under `dagster dev`: a corrupt video is one run and
one failure notice, never retried (bad input is final; run retries are for dead processes).

`dagster dev` cannot use the production storage (RDS) or launcher (ECS), so the instance is the
local one with the production `run_retries` and `run_monitoring` sections copied in: those two
decide whether a failed run is retried.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from e2e_support import DagsterDev, free_port

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 240
# Long enough for the daemon's retry pass (it runs every few seconds) to have acted.
RETRY_WINDOW_SECONDS = 45


def production_retry_config() -> str:
    local = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    production = yaml.safe_load((PROJECT_ROOT / "infra" / "dagster" / "dagster.yaml").read_text(encoding="utf-8"))
    local["run_retries"] = production["run_retries"]
    # The local launcher cannot resume a run (ECS can): a dead run worker fails the run instead.
    local["run_monitoring"] = {**production["run_monitoring"], "poll_interval_seconds": 5,
                               "max_resume_run_attempts": 0}
    return yaml.safe_dump(local, sort_keys=False)


def test_a_corrupt_video_under_production_retry_settings_is_one_run_and_one_notice(tmp_path):
    folders = {name: tmp_path / name for name in ("inbox", "output", "store", "state", "home", "cwd")}
    for folder in folders.values():
        folder.mkdir()
    (folders["home"] / "dagster.yaml").write_text(production_retry_config(), encoding="utf-8")
    assert yaml.safe_load(production_retry_config())["run_retries"]["enabled"] is True
    port = free_port()
    env = {
        "TECHNE_PROFILE": "local",
        "TECHNE_INPUT_URI": str(folders["inbox"]),
        "TECHNE_OUTPUT_URI": str(folders["output"]),
        "TECHNE_STORE_URI": str(folders["store"]),
        "TECHNE_STATE_DIR": str(folders["state"]),
        "TECHNE_UI_BASE_URL": f"http://127.0.0.1:{port}",
    }
    with DagsterDev(PROJECT_ROOT, home=folders["home"], env=env, cwd=folders["cwd"], port=port) as dev:
        staging = folders["inbox"] / ".quebrado.mp4.partial"
        staging.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)  # an mp4 header, then garbage
        (folders["inbox"] / "quebrado.vtt").write_text(
            "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nOlá\n", encoding="utf-8")
        staging.rename(folders["inbox"] / "quebrado.mp4")

        def failed_runs():
            runs = [r for r in dev.runs() if r["tags"].get("dagster/partition") == "quebrado.mp4"]
            return runs if runs and all(r["status"] == "FAILURE" for r in runs) else None

        dev.wait_until(failed_runs, timeout=RUN_TIMEOUT, what="the corrupt video's run to fail", interval=2)
        time.sleep(RETRY_WINDOW_SECONDS)
        runs = [r for r in dev.runs() if r["tags"].get("dagster/partition") == "quebrado.mp4"]
        assert len(runs) == 1, [(r["runId"], r["status"], r["tags"].get("dagster/parent_run_id")) for r in runs]

        def failure_notices():
            path = folders["state"] / "notifications.log"
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            return [json.loads(line) for line in lines] or None

        notices = dev.wait_until(failure_notices, timeout=90, what="the failure notice", interval=2)
    assert len(notices) == 1, [(n["subject"], n["body"]) for n in notices]
    (notice,) = notices
    assert notice["attributes"]["status"] == "FAILED" and "quebrado.mp4" in notice["subject"]
    assert "corrupt" in notice["body"] or "not a video" in notice["body"]
