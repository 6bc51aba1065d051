"""`techne backfill`: existing videos become partitions and one Dagster backfill, through the instance."""

import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg

from techne_assets.adapters.storage import storage_from_uri
from techne_assets.backfill import plan_archive, submit_backfill
from techne_assets.core.partition_keys import partition_key_for
from techne_assets.settings import Settings


def archive(tmp_path) -> Settings:
    inbox = tmp_path / "inbox"
    for name in ["2023/aula 01.mp4", "2023/aula [02].mov", "2024/aula 03.mkv", "2024/notas.txt", "vazio.mp4"]:
        path = inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"" if name == "vazio.mp4" else b"video")
    old = datetime(2023, 6, 1, tzinfo=UTC).timestamp()
    for name in ["2023/aula 01.mp4", "2023/aula [02].mov"]:
        os.utime(inbox / name, (old, old))
    return Settings(input_uri=str(inbox), store_uri=str(tmp_path / "store"))


def test_backfill_registers_partitions_and_submits_one_backfill(tmp_path):
    settings = archive(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        plan = submit_backfill(settings, instance)
        backfill = instance.get_backfill(plan.backfill_id)
        partitions = set(instance.get_dynamic_partitions("videos"))
    expected = {partition_key_for(k) for k in ["2023/aula 01.mp4", "2023/aula [02].mov", "2024/aula 03.mkv"]}
    assert set(plan.partition_keys) == expected == partitions
    assert backfill is not None and backfill.status.value == "REQUESTED"
    targeted = backfill.asset_backfill_data.target_subset
    # Every asset of the graph (the publication step too, when it is an asset of its own).
    assert {"video", "transcript", "draft", "document"} <= {k.to_user_string() for k in targeted.asset_keys}
    assert {p for p in targeted.get_partitions_subset(dg.AssetKey("document")).get_partition_keys()} == expected


def test_prefix_since_and_dry_run(tmp_path):
    settings = archive(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        recent = submit_backfill(settings, instance, since=datetime(2024, 1, 1, tzinfo=UTC), dry_run=True)
        prefixed = submit_backfill(settings, instance, prefix="2023/", dry_run=True)
        assert instance.get_dynamic_partitions("videos") == []
        assert instance.get_backfills() == []
    assert recent.partition_keys == ["2024/aula 03.mkv"] and recent.backfill_id is None
    assert sorted(prefixed.partition_keys) == sorted(
        partition_key_for(k) for k in ["2023/aula 01.mp4", "2023/aula [02].mov"]
    )


def test_cli_prints_the_backfill_id_and_count(tmp_path):
    settings = archive(tmp_path)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNE_")}
    env.update(DAGSTER_HOME=str(home), TECHNE_INPUT_URI=settings.input_uri, TECHNE_STORE_URI=settings.store_uri)
    result = subprocess.run([sys.executable, "-m", "techne_assets.cli", "backfill"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    *skipped, last = result.stdout.strip().splitlines()
    assert skipped == ["skipped vazio.mp4: empty file"]
    assert last.startswith("backfill ") and last.endswith("3 videos")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (backfill,) = instance.get_backfills()
    assert backfill.backfill_id in result.stdout


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_dry_run_writes_nothing_anywhere(tmp_path):
    settings = archive(tmp_path)
    before = files_under(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance_files = files_under(home)
        plan = submit_backfill(settings, instance, dry_run=True)
        assert instance.get_dynamic_partitions("videos") == [] and instance.get_backfills() == []
    assert len(plan.partition_keys) == 3 and plan.backfill_id is None
    assert files_under(tmp_path) == sorted(before + ["home"] + [f"home/{f}" for f in instance_files])


def test_a_second_backfill_skips_what_the_active_one_targets_and_says_why(tmp_path):
    settings = archive(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        first = submit_backfill(settings, instance, prefix="2023/")
        second = submit_backfill(settings, instance)
        assert len(instance.get_backfills()) == 2
    assert sorted(second.partition_keys) == ["2024/aula 03.mkv"]
    assert sorted((s.key, s.reason) for s in second.skipped) == [
        ("2023/aula 01.mp4", "an active backfill already targets it"),
        ("2023/aula [02].mov", "an active backfill already targets it"),
        ("vazio.mp4", "empty file"),
    ]
    assert len(first.partition_keys) == 2


def test_videos_already_materialized_with_the_same_content_are_skipped(tmp_path):
    settings = archive(tmp_path)
    inbox = tmp_path / "inbox"
    done = next(o for o in storage_from_uri(str(inbox)).list_objects() if o.key == "2024/aula 03.mkv")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("videos", ["2024/aula 03.mkv"])
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="video", partition="2024/aula 03.mkv",
            metadata={"etag": done.etag, "size_bytes": done.size},
        ))
        unchanged = plan_archive(settings, instance)
        (inbox / "2024/aula 03.mkv").write_bytes(b"video, new cut")
        changed = plan_archive(settings, instance)
    assert "2024/aula 03.mkv" not in unchanged.partition_keys
    assert ("2024/aula 03.mkv", "already materialized with this content") in [
        (s.key, s.reason) for s in unchanged.skipped
    ]
    assert "2024/aula 03.mkv" in changed.partition_keys


def test_partitions_with_a_queued_or_running_run_are_skipped(tmp_path):
    """The sensor already requested these: the backfill must not run them a second time."""

    @dg.op
    def noop():
        return None

    @dg.job
    def placeholder():
        noop()

    settings = archive(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.create_run_for_job(placeholder, tags={"dagster/partition": "2024/aula 03.mkv"})
        plan = submit_backfill(settings, instance, dry_run=True)
    assert "2024/aula 03.mkv" not in plan.partition_keys
    assert ("2024/aula 03.mkv", "a run of it is queued or in progress") in [(s.key, s.reason) for s in plan.skipped]


def batch_ready(settings: Settings) -> Settings:
    """Batch available: the aws profile with an S3 scratch store, a service role, a listed model
    (nothing here reaches AWS: the group is recorded in the local store)."""
    return settings.model_copy(update={
        "profile": "aws", "writer": "bedrock", "scratch_uri": "s3://work/scratch/",
        "batch_role_arn": "arn:aws:iam::123456789012:role/techne-batch",
    })


def test_a_batch_backfill_transcribes_through_dagster_and_records_its_batch_group(tmp_path):
    from techne_assets.adapters.batch_ledger import BatchLedger

    settings = batch_ready(archive(tmp_path))
    with dg.DagsterInstance.ephemeral() as instance:
        plan = submit_backfill(settings, instance, via="batch")
        backfill = instance.get_backfill(plan.backfill_id)
        again = submit_backfill(settings, instance, via="batch", dry_run=True)
    assert plan.writer_mode == "batch" and plan.fallback_reason is None and len(plan.partition_keys) == 3
    targeted = backfill.asset_backfill_data.target_subset
    assert {k.to_user_string() for k in targeted.asset_keys} == {"video", "transcript"}
    assert backfill.tags == {"techne/launched_by": "backfill", "techne/writer_mode": "batch"}
    ledger = BatchLedger(storage_from_uri(settings.store_uri), storage_from_uri(str(tmp_path / "scratch")))
    group = ledger.group(plan.backfill_id)
    assert group is not None and group.state == "transcribing" and group.pass_number == 0
    assert group.partition_keys == plan.partition_keys and group.model_id == settings.bedrock_model_id
    # The group's videos are busy: another backfill leaves them to it.
    assert again.partition_keys == [] and {s.key for s in again.skipped} >= {
        "2023/aula 01.mp4", "2023/aula [02].mov", "2024/aula 03.mkv"}


def test_without_batch_a_batch_backfill_goes_on_demand_and_says_why(tmp_path):
    from techne_assets.adapters.batch_ledger import BatchLedger

    settings = archive(tmp_path).model_copy(update={"writer": "bedrock"})
    with dg.DagsterInstance.ephemeral() as instance:
        plan = submit_backfill(settings, instance, via="batch")
        backfill = instance.get_backfill(plan.backfill_id)
    assert plan.writer_mode == "on-demand" and "S3 scratch store" in plan.fallback_reason
    assert "draft" in {k.to_user_string() for k in backfill.asset_backfill_data.target_subset.asset_keys}
    assert "techne/writer_mode" not in backfill.tags
    ledger = BatchLedger(storage_from_uri(settings.store_uri), storage_from_uri(str(tmp_path / "scratch")))
    assert ledger.open_groups() == []
    no_role = batch_ready(archive(tmp_path)).model_copy(update={"batch_role_arn": None})
    with dg.DagsterInstance.ephemeral() as instance:
        assert "TECHNE_BATCH_ROLE_ARN" in submit_backfill(no_role, instance, via="batch", dry_run=True).fallback_reason


def test_cli_says_in_one_line_that_batch_is_unavailable(tmp_path):
    settings = archive(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNE_")}
    env.update(DAGSTER_HOME=str(tmp_path / "home"), TECHNE_INPUT_URI=settings.input_uri,
               TECHNE_STORE_URI=settings.store_uri)
    result = subprocess.run([sys.executable, "-m", "techne_assets.cli", "backfill", "--via", "batch"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    first, *_, last = result.stdout.strip().splitlines()
    assert first == ("batch unavailable: the offline writer makes no model calls (TECHNE_WRITER=bedrock "
                     "for batch); backfilling on-demand instead")
    assert re.fullmatch(r"backfill \S+ submitted: 3 videos", last)
