"""`techne backfill`: existing videos become partitions and one Dagster backfill, through the instance."""

import os
import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg

from techne_assets.backfill import submit_backfill
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
    return Settings(input_uri=str(inbox), work_uri=str(tmp_path / "work"))


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
    assert {k.to_user_string() for k in targeted.asset_keys} == {"video", "transcript", "draft", "document"}
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
    env.update(DAGSTER_HOME=str(home), TECHNE_INPUT_URI=settings.input_uri, TECHNE_WORK_URI=settings.work_uri)
    result = subprocess.run([sys.executable, "-m", "techne_assets.cli", "backfill"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("backfill ") and result.stdout.strip().endswith("3 videos")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (backfill,) = instance.get_backfills()
    assert backfill.backfill_id in result.stdout
