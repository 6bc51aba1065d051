"""Run-status and check sensors on real runs: tracking records, notifications and log lines."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from techne_assets.adapters.demo import record_demo
from techne_assets.adapters.tracking import RunStatus, SqliteTracker
from techne_assets.core.observability import METRICS_NAMESPACE
from techne_assets.definitions import defs as load_defs
from techne_assets.defs.alerts import check_failed_sensor, run_completed_sensor, run_failed_sensor
from techne_assets.defs.resources import NotifierResource, TrackingResource, build_resources
from techne_assets.settings import Settings


@pytest.fixture(scope="module")
def demo_call(tmp_path_factory):
    return record_demo(tmp_path_factory.mktemp("alerts-demo"))


@pytest.fixture
def settings(tmp_path) -> Settings:
    (tmp_path / "inbox").mkdir()
    return Settings(input_uri=str(tmp_path / "inbox"), output_uri=str(tmp_path / "out"),
                    store_uri=str(tmp_path / "store"), state_dir=str(tmp_path / "state"))


def run_graph(instance, settings: Settings, partition_key: str) -> dg.ExecuteInProcessResult:
    definitions = load_defs()
    instance.add_dynamic_partitions("videos", [partition_key])
    return dg.materialize([*definitions.assets, *definitions.asset_checks], partition_key=partition_key,
                          instance=instance, resources=build_resources(settings), raise_on_error=False)


def notifications(settings: Settings) -> list[dict]:
    log = Path(settings.state_dir) / "notifications.log"
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def resources(settings: Settings):
    return dict(
        tracking=TrackingResource(profile="local", state_dir=settings.state_dir),
        notifier=NotifierResource(profile="local", state_dir=settings.state_dir, ui_base_url="http://ui.example"),
    )


def test_success_marks_the_record_completed_and_notifies_with_the_document_link(settings, demo_call, capsys):
    shutil.copy(demo_call[0], Path(settings.input_uri) / "aula.mp4")
    shutil.copy(demo_call[1], Path(settings.input_uri) / "aula.vtt")
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_graph(instance, settings, "aula.mp4")
        assert result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="run_completed_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_success_event(),
        )
        run_completed_sensor(context, **resources(settings))
    record = SqliteTracker(Path(settings.state_dir) / "tracking.sqlite3").get(result.run_id)
    assert record.status == RunStatus.COMPLETED and record.duration_seconds >= 0
    assert record.document_uris["document.md"].endswith("document.md")
    (sent,) = notifications(settings)
    assert "Completed" in sent["subject"] and "aula.mp4" in sent["subject"]
    assert record.document_uris["document.md"] in sent["body"]
    assert f"http://ui.example/runs/{result.run_id}" in sent["body"]
    lines = json_lines(capsys.readouterr().out)
    processing = next(line for line in lines if line.get("message") == "Processing result")
    assert processing["execution_id"] == result.run_id and processing["cost_usd"] == 0.0
    complete = next(line for line in lines if line.get("message") == "Document generation complete")
    assert complete["duration_seconds"] == pytest.approx(record.duration_seconds, abs=0.01)
    emf = next(line for line in lines if "_aws" in line)
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRICS_NAMESPACE
    assert all(metric["Name"] in emf for metric in directive["Metrics"])
    assert emf["RunsFailed"] == 0 and emf["RunsSucceeded"] == 1


def test_failure_names_the_video_the_step_and_the_reason(settings, capsys):
    (Path(settings.input_uri) / "quebrado.mp4").write_text("não é vídeo", encoding="utf-8")
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_graph(instance, settings, "quebrado.mp4")
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failed_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
        ).for_run_failure()
        run_failed_sensor(context, **resources(settings))
    record = SqliteTracker(Path(settings.state_dir) / "tracking.sqlite3").get(result.run_id)
    assert record.status == RunStatus.FAILED
    assert record.error.startswith("video:") and "not a video" in record.error
    (sent,) = notifications(settings)
    assert "Failed" in sent["subject"] and "quebrado.mp4" in sent["subject"]
    assert "not a video" in sent["body"] and sent["attributes"]["status"] == "FAILED"
    error_line = next(line for line in json_lines(capsys.readouterr().out) if line.get("level") == "ERROR")
    assert error_line["message"] == "Processing result" and error_line["execution_id"] == result.run_id


def test_a_failed_blocking_check_notifies_once(settings, demo_call):
    video = Path(settings.input_uri) / "curta.mp4"
    shutil.copy(demo_call[0], video)
    # Captions that stop after 10 s of a 2-minute video: the coverage check fails and blocks.
    video.with_suffix(".vtt").write_text(
        "WEBVTT\n\n00:00:00.500 --> 00:00:09.000\n<v Ana>Bom dia, vamos começar o treinamento.\n",
        encoding="utf-8",
    )
    # A run-sharded SQLite instance, as `dagster dev` uses: no global event cursor there.
    with dg.instance_for_test() as instance:
        result = run_graph(instance, settings, "curta.mp4")
        assert not result.success
        materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
        assert "draft" not in materialized  # blocked before the paid model
        notifier = resources(settings)["notifier"]
        definitions = load_defs()
        first = check_failed_sensor(dg.build_sensor_context(instance=instance, definitions=definitions),
                                    notifier=notifier)
        again = check_failed_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, definitions=definitions),
            notifier=notifier,
        )
    sent = notifications(settings)
    assert len(sent) == 1
    assert "transcript_covers_media" in sent[0]["body"] and "curta.mp4" in sent[0]["subject"]
    assert again.skip_reason is not None
