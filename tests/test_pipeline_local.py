"""The whole graph on the embedded local profile, on a real generated video with captions."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from docx import Document as DocxDocument

from techne_assets.adapters.demo import record_demo
from techne_assets.core.document import SECTION_HEADINGS, TITLE
from techne_assets.core.partition_keys import partition_key_for
from techne_assets.definitions import defs as load_defs
from techne_assets.defs.resources import build_resources
from techne_assets.pipeline import process_video
from techne_assets.settings import Settings


@pytest.fixture(scope="session")
def demo_call(tmp_path_factory) -> tuple[Path, Path]:
    return record_demo(tmp_path_factory.mktemp("demo-inbox"))


@pytest.fixture
def local_settings(tmp_path) -> Settings:
    return Settings(
        input_uri=str(tmp_path / "inbox"),
        output_uri=str(tmp_path / "output"),
        store_uri=str(tmp_path / "store"),
        state_dir=str(tmp_path / "state"),
    )


def copy_demo(demo_call, settings: Settings, name: str = "treinamento k8s.mp4") -> Path:
    inbox = Path(settings.input_uri)
    inbox.mkdir(parents=True, exist_ok=True)
    video = inbox / name
    shutil.copy(demo_call[0], video)
    shutil.copy(demo_call[1], video.with_suffix(".vtt"))
    return video


def test_definitions_load_the_graph_checks_sensors_and_job():
    definitions = load_defs()
    assert {a.key.to_user_string() for a in definitions.assets} == {
        "video", "transcript", "draft", "document", "published_document"}
    graph = definitions.resolve_asset_graph()
    assert graph.get(dg.AssetKey("document")).parent_keys >= {dg.AssetKey("draft"), dg.AssetKey("transcript")}
    assert graph.get(dg.AssetKey("published_document")).parent_keys == {dg.AssetKey("document")}
    assert graph.get(dg.AssetKey("draft")).parent_keys == {dg.AssetKey("video"), dg.AssetKey("transcript")}
    check_names = {key.name for checks in definitions.asset_checks for key in checks.check_keys}
    assert {"transcript_not_empty", "transcript_covers_media", "document_grounded"} <= check_names
    assert {"inbox_sensor", "s3_events_sensor", "check_failed_sensor"} <= {s.name for s in definitions.sensors}
    assert definitions.resolve_job_def("process_video") is not None
    for asset in definitions.assets:
        spec = next(iter(asset.specs))
        assert spec.description and spec.owners and spec.kinds and spec.code_version and spec.group_name


def test_whole_graph_materializes_with_every_check_passing(demo_call, local_settings):
    video = copy_demo(demo_call, local_settings)
    partition_key = partition_key_for(video.name)
    definitions = load_defs()
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("videos", [partition_key])
        result = dg.materialize(
            [*definitions.assets, *definitions.asset_checks],
            partition_key=partition_key,
            instance=instance,
            resources=build_resources(local_settings),
        )
        evaluations = result.get_asset_check_evaluations()
        materializations = {
            m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()
        }
    assert result.success
    assert set(materializations) == {"video", "transcript", "draft", "document", "published_document"}
    failed = [(e.check_name, e.description) for e in evaluations if not e.passed]
    assert failed == []
    assert len(evaluations) == 11  # every transcript and document check, document_evidenced included

    document_meta = materializations["published_document"].materialization.metadata
    markdown_path = Path(document_meta["document_md"].value)
    assert Path(local_settings.output_uri) / partition_key in markdown_path.parents
    markdown = markdown_path.read_text(encoding="utf-8")
    assert markdown.startswith(f"# {TITLE}")
    positions = [markdown.index(heading) for heading in SECTION_HEADINGS]
    assert positions == sorted(positions)
    assert "kubectl get pods -n pagamentos" in markdown
    assert "**[00:00:00] Ana:**" in markdown or "Ana:**" in markdown
    assert "offline" in markdown.split(SECTION_HEADINGS[0])[0].lower()
    screenshots = list((markdown_path.parent / "screenshots").iterdir())
    assert screenshots, "steps shown on screen carry a real frame"
    assert all(f"screenshots/{s.name}" in markdown for s in screenshots)

    rendered_meta = materializations["document"].materialization.metadata
    assert rendered_meta["key_frames"].value >= 1, "the slides of the call are topic key frames"
    assert "![Tela do tópico" in markdown
    assert rendered_meta["audio_only"].value is False and rendered_meta["frame_warnings"].value == []

    html = (markdown_path.parent / "document.html").read_text(encoding="utf-8")
    assert all(h.removeprefix("## ") in html for h in SECTION_HEADINGS)
    assert '<details class="evidence">' in html, "items show their evidence"
    docx_headings = {p.text for p in DocxDocument(markdown_path.parent / "document.docx").paragraphs
                     if p.style.name.startswith("Heading")}
    assert {h.removeprefix("## ") for h in SECTION_HEADINGS} <= docx_headings
    draft_meta = materializations["draft"].materialization.metadata
    assert draft_meta["cost_usd"].value == 0.0 and draft_meta["writer"].value == "offline"
    assert materializations["video"].materialization.metadata["duration_seconds"].value > 60


def test_process_video_writes_the_document_and_leaves_the_video_untouched(demo_call, local_settings):
    video = copy_demo(demo_call, local_settings, name="Configuração [parte 1].mp4")
    before = (video.read_bytes(), video.stat().st_mtime_ns)
    with dg.DagsterInstance.ephemeral() as instance:
        published = process_video(str(video), settings=local_settings, instance=instance)
        assert partition_key_for(video.name) in instance.get_dynamic_partitions("videos")
    assert Path(published.markdown_uri).is_file()
    assert published.partition_key == partition_key_for(video.name) != video.name
    assert (video.read_bytes(), video.stat().st_mtime_ns) == before


def test_dg_lists_the_definitions(tmp_path):
    """`[tool.dg]` in pyproject makes the project a dg project: `dg list defs` loads it."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    project = Path(__file__).resolve().parents[1]
    dg_command = Path(sys.executable).with_name("dg")
    listed = subprocess.run([str(dg_command), "list", "defs", "--json"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=180)
    assert listed.returncode == 0, listed.stderr
    defs = json.loads(listed.stdout)
    assets = {a["asset_key"]: a for a in defs["assets"]}
    assert set(assets) == {"video", "transcript", "draft", "document", "published_document"}
    assert set(assets["document"]["dependency_keys"]) == {"video", "transcript", "draft"}
    assert set(assets["published_document"]["dependency_keys"]) == {"document"}
    assert {"process_video", "archive_transcripts", "batch_draft", "batch_publish"} == {
        j["name"] for j in defs["jobs"]}
    assert {"inbox_sensor", "run_failed_sensor"} <= {s["name"] for s in defs["sensors"]}


def test_time_links_open_the_local_video_from_the_document_folder(demo_call, local_settings):
    from techne_assets.core.publication import video_link

    video = copy_demo(demo_call, local_settings, name="aula 1.mp4")
    with dg.DagsterInstance.ephemeral() as instance:
        published = process_video(str(video), settings=local_settings, instance=instance)
    document_dir = Path(published.markdown_uri).parent
    link = video_link(video_key=video.name, partition_key=published.partition_key,
                      input_uri=local_settings.input_uri, output_uri=local_settings.output_uri)
    assert (document_dir / link.replace("%20", " ")).resolve() == video.resolve()
    markdown = published.markdown
    assert f"]({link}#t=" in markdown
    html = (document_dir / "document.html").read_text(encoding="utf-8")
    assert f'href="{link}#t=' in html
    assert video_link(video_key="a b.mp4", partition_key="p", input_uri="s3://in/", output_uri="s3://out/") is None
    assert video_link(video_key="a b.mp4", partition_key="p", input_uri="s3://in/", output_uri="s3://out/",
                      template="https://videos.example/{key}") == "https://videos.example/a%20b.mp4"
