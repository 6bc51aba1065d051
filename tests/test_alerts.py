"""Run-status and check sensors on real runs: tracking records, notifications and log lines."""

import json
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from techne_assets.adapters.demo import record_demo
from techne_assets.adapters.tracking import RunStatus, SqliteTracker
from techne_assets.core.observability import METRICS_NAMESPACE
from techne_assets.core.writing.base import CallUsage
from techne_assets.definitions import defs as load_defs
from techne_assets.defs.alerts import (
    check_failed_sensor,
    run_completed_sensor,
    run_failed_sensor,
    run_started_sensor,
)
from techne_assets.defs.resources import (
    NotifierResource,
    TrackingResource,
    WriterResource,
    build_resources,
)
from techne_assets.defs.run_report import build_record
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


def report_failure(instance, settings: Settings, result: dg.ExecuteInProcessResult) -> None:
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failed_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()
    run_failed_sensor(context, **resources(settings))


def check_sensor_twice(instance, settings: Settings) -> dg.SensorResult:
    notifier = resources(settings)["notifier"]
    definitions = load_defs()
    first = check_failed_sensor(dg.build_sensor_context(instance=instance, definitions=definitions),
                                notifier=notifier)
    return check_failed_sensor(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, definitions=definitions),
        notifier=notifier,
    )


def test_a_failed_blocking_check_notifies_once_naming_the_check(settings, demo_call):
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
        report_failure(instance, settings, result)
        again = check_sensor_twice(instance, settings)
    (sent,) = notifications(settings)  # the run's failure notice; the check sensor adds none
    assert "transcript_covers_media" in sent["body"] and "curta.mp4" in sent["subject"]
    assert again.skip_reason is not None
    record = SqliteTracker(Path(settings.state_dir) / "tracking.sqlite3").get(result.run_id)
    assert record.status == RunStatus.FAILED
    assert record.error.startswith("transcript_covers_media: blocking check transcript_covers_media failed")
    assert "\n" not in record.error


class PlantingWriterResource(WriterResource):
    """The offline writer, plus a command nobody said: what a model could invent."""

    def get(self, bedrock, on_call=None):
        writer = super().get(bedrock, on_call)

        class Planting:
            name = writer.name

            def write(self, transcript, context):
                draft = writer.write(transcript, context)
                draft.document.executive_summary.append("Para limpar, rode `rm -rf /var/lib/fantasma`.")
                return draft

        return Planting()


def test_an_ungrounded_command_blocks_publication(settings, demo_call):
    shutil.copy(demo_call[0], Path(settings.input_uri) / "aula.mp4")
    shutil.copy(demo_call[1], Path(settings.input_uri) / "aula.vtt")
    graph_resources = build_resources(settings)
    graph_resources["writer"] = PlantingWriterResource(kind="offline", store_uri=settings.store_uri)
    definitions = load_defs()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("videos", ["aula.mp4"])
        result = dg.materialize([*definitions.assets, *definitions.asset_checks], partition_key="aula.mp4",
                                instance=instance, resources=graph_resources, raise_on_error=False)
        assert not result.success
        materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
        assert "document" in materialized and "published_document" not in materialized
        report_failure(instance, settings, result)
        check_sensor_twice(instance, settings)
    assert not Path(settings.output_uri).exists() or not any(Path(settings.output_uri).rglob("document.md"))
    (sent,) = notifications(settings)
    assert sent["attributes"]["status"] == "FAILED"
    assert "document_grounded" in sent["body"] and "rm -rf /var/lib/fantasma" in sent["body"]


class SpendThenFailWriterResource(WriterResource):
    """Two paid model calls, then a failure: what a run that dies after paying looks like."""

    def get(self, bedrock, on_call=None):
        class Spender:
            name = "bedrock:test"

            def write(self, transcript, context):
                for stage in ("extract:chunk-01", "merge"):
                    on_call(CallUsage(stage=stage, model_id="test", input_tokens=1000,
                                      output_tokens=200, cost_usd=0.25))
                raise RuntimeError("the model connection dropped\nafter two calls")

        return Spender()


def test_a_failed_run_reports_every_call_it_paid_and_its_own_duration(settings, demo_call):
    shutil.copy(demo_call[0], Path(settings.input_uri) / "aula.mp4")
    shutil.copy(demo_call[1], Path(settings.input_uri) / "aula.vtt")
    graph_resources = build_resources(settings)
    graph_resources["writer"] = SpendThenFailWriterResource(kind="bedrock", store_uri=settings.store_uri)
    definitions = load_defs()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("videos", ["aula.mp4"])
        result = dg.materialize([*definitions.assets, *definitions.asset_checks], partition_key="aula.mp4",
                                instance=instance, resources=graph_resources, raise_on_error=False)
        assert not result.success
        run_record = instance.get_run_record_by_id(result.run_id)
        time.sleep(1.5)  # the sensor's polling lag must not count
        report_failure(instance, settings, result)
    record = SqliteTracker(Path(settings.state_dir) / "tracking.sqlite3").get(result.run_id)
    assert record.cost_usd == pytest.approx(0.5)
    assert (record.input_tokens, record.output_tokens) == (2000, 400)
    assert record.duration_seconds == pytest.approx(run_record.end_time - run_record.start_time, abs=0.01)
    assert record.error.startswith("draft: step draft failed:")
    assert "the model connection dropped after two calls" in record.error
    (sent,) = notifications(settings)
    assert "US$ 0.50" in sent["body"] or "0,50" in sent["body"] or "0.50" in sent["body"]


def test_a_backfill_run_without_the_video_tag_names_the_video_not_a_slug(settings):
    """Backfill runs carry no per-run `techne/video_key` tag; the notice still names the file."""
    from techne_assets.core.partition_keys import partition_key_for

    key = "2023/Configuração [parte 1].mp4"
    (Path(settings.input_uri) / "2023").mkdir()
    (Path(settings.input_uri) / key).write_text("não é vídeo", encoding="utf-8")
    partition_key = partition_key_for(key)
    assert partition_key != key
    with dg.instance_for_test() as instance:
        result = run_graph(instance, settings, partition_key)
        assert not result.success and "techne/video_key" not in result.dagster_run.tags
        report_failure(instance, settings, result)
        # The started sensor may see the run only after it ended: it neither notifies nor
        # overwrites the final record.
        started = dg.build_run_status_sensor_context(
            sensor_name="run_started_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
        )
        run_started_sensor(started, tracking=resources(settings)["tracking"])
    (sent,) = notifications(settings)
    assert "Configuração [parte 1].mp4" in sent["subject"]
    record = SqliteTracker(Path(settings.state_dir) / "tracking.sqlite3").get(result.run_id)
    assert record.video_key == key and record.status == RunStatus.FAILED


class PricedOfflineWriterResource(WriterResource):
    """The offline writer, reporting one paid call per video (US$ 0.25); `fail_on` fails instead."""

    fail_on: str = ""

    def get(self, bedrock, on_call=None):
        writer = super().get(bedrock, on_call)
        fail_on = self.fail_on

        class Priced:
            name = "bedrock:test"

            def write(self, transcript, context):
                on_call(CallUsage(stage="extract:chunk-01", model_id="test", input_tokens=1000,
                                  output_tokens=200, cost_usd=0.25))
                if context.source_name == fail_on:
                    raise RuntimeError("the model answered without the forced tool")
                return writer.write(transcript, context)

        return Priced()


BACKFILL_VIDEOS = ["a.mp4", "b.mp4"]


def backfill_shaped(instance, settings: Settings, writer: WriterResource, selection: list[str], **tags) -> dg.ExecuteInProcessResult:
    """One run of what an asset backfill launches: `selection` of one partition (`partition`
    tag) or of the range of both videos (the draft backfill policy)."""
    definitions = load_defs()
    graph_resources = build_resources(settings) | {"writer": writer}
    assets = [a for a in definitions.assets if a.key.to_user_string() in selection]
    others = [a for a in definitions.assets if a.key.to_user_string() not in selection]
    partition = tags.pop("partition", None)
    return dg.materialize([*assets, *(a.to_source_assets()[0] for a in others)], partition_key=partition,
                          instance=instance, resources=graph_resources, raise_on_error=False, tags=tags,
                          selection=selection)


def transcribed(instance, settings: Settings, demo_call, writer) -> list[dg.ExecuteInProcessResult]:
    instance.add_dynamic_partitions("videos", BACKFILL_VIDEOS)
    results = []
    for name in BACKFILL_VIDEOS:
        shutil.copy(demo_call[0], Path(settings.input_uri) / name)
        shutil.copy(demo_call[1], Path(settings.input_uri) / name.replace(".mp4", ".vtt"))
        results.append(backfill_shaped(instance, settings, writer, ["video", "transcript"],
                                       partition=name))
        assert results[-1].success
    return results


RANGE = {"dagster/asset_partition_range_start": "a.mp4", "dagster/asset_partition_range_end": "b.mp4"}


def test_a_backfill_reports_each_video_once_with_the_cost_of_its_ranged_draft(settings, demo_call):
    """A backfill runs transcripts, then one ranged draft, then one document run per video:
    only the publication is the video's success, and it carries the ranged run's spend for it."""
    writer = PricedOfflineWriterResource(kind="offline", store_uri=settings.store_uri)
    with dg.instance_for_test() as instance:
        for result in transcribed(instance, settings, demo_call, writer):
            context = dg.build_run_status_sensor_context(
                sensor_name="run_completed_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
                dagster_event=result.get_run_success_event(),
            )
            run_completed_sensor(context, **resources(settings))
        assert notifications(settings) == []  # transcribing is not the video's success
        drafted = backfill_shaped(instance, settings, writer, ["draft"], **RANGE)
        assert drafted.success and set(drafted.dagster_run.tags) >= set(RANGE)
        published = []
        for name in BACKFILL_VIDEOS:
            result = backfill_shaped(instance, settings, writer, ["document", "published_document"],
                                     partition=name)
            assert result.success
            context = dg.build_run_status_sensor_context(
                sensor_name="run_completed_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
                dagster_event=result.get_run_success_event(),
            )
            run_completed_sensor(context, **resources(settings))
            published.append(result.run_id)
        again = backfill_shaped(instance, settings, writer, ["document", "published_document"],
                                partition="a.mp4")
        rerendered = build_record(instance, again.dagster_run, resources(settings)["tracking"])
    tracker = SqliteTracker(Path(settings.state_dir) / "tracking.sqlite3")
    records = [tracker.get(run_id) for run_id in published]
    assert [(r.partition_key, r.status, r.cost_usd, r.input_tokens) for r in records] == [
        ("a.mp4", RunStatus.COMPLETED, 0.25, 1000), ("b.mp4", RunStatus.COMPLETED, 0.25, 1000)]
    assert [n["attributes"]["status"] for n in notifications(settings)] == ["COMPLETED", "COMPLETED"]
    assert rerendered.cost_usd == 0.0  # a later re-render does not pay for the draft again


def test_a_failed_ranged_draft_reports_every_video_of_its_range_with_its_own_reason(settings, demo_call):
    writer = PricedOfflineWriterResource(kind="offline", store_uri=settings.store_uri, fail_on="b.mp4")
    with dg.instance_for_test() as instance:
        transcribed(instance, settings, demo_call, writer)
        drafted = backfill_shaped(instance, settings, writer, ["draft"], **RANGE)
        assert not drafted.success
        report_failure(instance, settings, drafted)
    tracker = SqliteTracker(Path(settings.state_dir) / "tracking.sqlite3")
    failed_b = tracker.get(f"{drafted.run_id}/b.mp4")
    assert failed_b.status == RunStatus.FAILED and failed_b.partition_key == "b.mp4"
    assert failed_b.error == "draft: the model answered without the forced tool"
    assert failed_b.cost_usd == 0.25  # its own call, not the range's
    kept_back = tracker.get(f"{drafted.run_id}/a.mp4")
    assert kept_back.status == RunStatus.FAILED and "written, but not kept" in kept_back.error
    sent = {n["subject"]: n for n in notifications(settings)}
    assert len(sent) == 2 and all(n["attributes"]["status"] == "FAILED" for n in sent.values())
    (about_b,) = [n for subject, n in sent.items() if "b.mp4" in subject]
    assert "without the forced tool" in about_b["body"] and drafted.run_id in about_b["body"]
