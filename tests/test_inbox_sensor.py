"""The inbox sensor through Dagster's own sensor context: partitions, run keys and cursor."""

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from techne_assets.core.partition_keys import partition_key_for
from techne_assets.defs.sensors import inbox_sensor


@pytest.fixture
def inbox(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("TECHNE_INPUT_URI", str(folder))
    monkeypatch.setenv("TECHNE_STORE_URI", str(tmp_path / "store"))
    return folder


def tick(instance, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    return inbox_sensor(context)


def settle(instance, cursor=None) -> dg.SensorResult:
    """Local files are picked once their size is stable: the second tick sees them ready."""
    first = tick(instance, cursor)
    return tick(instance, first.cursor)


def write(folder: Path, name: str, data: bytes = b"\x00" * 64) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_new_videos_become_partitions_and_runs_in_the_same_tick(inbox):
    names = ["aula 01.mp4", "Configuração [parte 1], turma|B.mov", "notas.txt", "aula 01.vtt"]
    for name in names:
        write(inbox, name)
    with dg.DagsterInstance.ephemeral() as instance:
        result = settle(instance)
    expected = {partition_key_for("aula 01.mp4"), partition_key_for("Configuração [parte 1], turma|B.mov")}
    assert {r.partition_key for r in result.run_requests} == expected
    (add_request,) = result.dynamic_partitions_requests
    assert set(add_request.partition_keys) == expected
    assert all(r.run_key.startswith(r.partition_key + "@") for r in result.run_requests)


def test_restart_with_the_stored_cursor_requests_nothing_new(inbox):
    write(inbox, "aula.mp4")
    with dg.DagsterInstance.ephemeral() as instance:
        first = settle(instance)
        again = tick(instance, first.cursor)
    assert len(first.run_requests) == 1
    assert again.run_requests == []
    assert "no new or changed video" in again.skip_reason.skip_message


def test_replaced_content_runs_again_with_a_new_run_key(inbox):
    path = write(inbox, "aula.mp4", b"v1" * 10)
    with dg.DagsterInstance.ephemeral() as instance:
        first = settle(instance)
        path.write_bytes(b"v2" * 20)
        later = time.time() + 5
        os.utime(path, (later, later))
        second = settle(instance, first.cursor)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].partition_key == first.run_requests[0].partition_key
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def test_a_burst_of_1000_files_is_spread_over_ticks(inbox, monkeypatch):
    monkeypatch.setenv("TECHNE_SENSOR_MAX_RUNS_PER_TICK", "100")
    for i in range(1000):
        write(inbox, f"lote/vídeo {i:04d}.mp4", bytes([i % 256]) * 8)
    requested: list[str] = []
    with dg.DagsterInstance.ephemeral() as instance:
        result = tick(instance)
        for _ in range(12):
            result = tick(instance, result.cursor)
            requested += [r.partition_key for r in result.run_requests]
            assert len(result.run_requests) <= 100
    assert len(requested) == 1000 == len(set(requested))


def test_a_file_still_growing_is_not_picked(inbox):
    path = write(inbox, "copiando.mp4", b"x" * 10)
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance)
        path.write_bytes(b"x" * 1000)
        second = tick(instance, first.cursor)
        third = tick(instance, second.cursor)
    assert first.run_requests == [] and second.run_requests == []
    assert "still being copied" in second.skip_reason.skip_message
    assert [r.partition_key for r in third.run_requests] == ["copiando.mp4"]


def test_input_videos_are_left_untouched(inbox):
    path = write(inbox, "aula.mp4", b"conteudo")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with dg.DagsterInstance.ephemeral() as instance:
        settle(instance)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_a_video_already_processed_outside_the_sensor_is_not_run_again(inbox, tmp_path):
    """`techne process` or a backfill materialized this content, or the same file is copied in
    again: the sensor leaves it alone; changed content runs."""
    import shutil

    from media_support import make_test_video

    from techne_assets.definitions import defs as load_defs
    from techne_assets.defs.resources import build_resources
    from techne_assets.settings import get_settings

    make_test_video(tmp_path / "source.mp4", 2)
    shutil.copy(tmp_path / "source.mp4", inbox / "aula.mp4")
    definitions = load_defs()
    video_asset = next(a for a in definitions.assets if a.key == dg.AssetKey("video"))
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("videos", ["aula.mp4"])
        assert dg.materialize([video_asset], partition_key="aula.mp4", instance=instance,
                              resources=build_resources(get_settings())).success
        result = settle(instance)
        assert result.run_requests == []
        # The same file copied in again: new mtime, same bytes.
        shutil.copy(tmp_path / "source.mp4", inbox / "aula.mp4")
        later = time.time() + 3
        os.utime(inbox / "aula.mp4", (later, later))
        result = settle(instance, result.cursor)
        assert result.run_requests == []
        (inbox / "aula.mp4").write_bytes((tmp_path / "source.mp4").read_bytes() + b"\0")
        later = time.time() + 5
        os.utime(inbox / "aula.mp4", (later, later))
        changed = settle(instance, result.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["aula.mp4"]


def test_a_video_copied_in_with_an_old_mtime_runs_once(inbox):
    """`cp -p`, `rsync -t` and `mv` of an old recording keep its old mtime."""
    write(inbox, "hoje.mp4")
    with dg.DagsterInstance.ephemeral() as instance:
        first = settle(instance)
        old = write(inbox, "2019/gravação antiga.mp4", b"\x01" * 64)
        years_ago = time.time() - 6 * 365 * 86400
        os.utime(old, (years_ago, years_ago))
        second = tick(instance, first.cursor)
        third = tick(instance, second.cursor)
    assert [r.partition_key for r in first.run_requests] == ["hoje.mp4"]
    assert [r.tags["techne/video_key"] for r in second.run_requests] == ["2019/gravação antiga.mp4"]
    assert third.run_requests == []


def test_the_seen_set_lives_in_the_work_storage_and_the_cursor_stays_small(inbox, tmp_path):
    for i in range(300):
        write(inbox, f"arquivo/aula {i:03d}.mp4", bytes([i % 256]) * 4)
        os.utime(inbox / f"arquivo/aula {i:03d}.mp4", (1e9, 1e9))  # long settled
    with dg.DagsterInstance.ephemeral() as instance:
        result = tick(instance)
        for _ in range(12):
            result = tick(instance, result.cursor)
    stored = list((tmp_path / "store" / "sensors" / "inbox_sensor").glob("seen-*.bin"))
    assert {p.name for p in stored} <= {"seen-a.bin", "seen-b.bin"}
    assert max(p.stat().st_size for p in stored) == 300 * 8
    assert len(result.cursor) < 200


def test_a_lost_seen_set_is_rebuilt(inbox, tmp_path):
    write(inbox, "aula.mp4")
    os.utime(inbox / "aula.mp4", (1e9, 1e9))
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance)
        stored = list((tmp_path / "store" / "sensors" / "inbox_sensor").glob("seen-*.bin"))
        assert stored
        for path in stored:
            path.write_bytes(b"")
        again = tick(instance, first.cursor)
    # Without a materialization the video is requested again under the same run key, which
    # Dagster itself drops; what matters is that the tick does not fail.
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]


def test_partitions_an_active_backfill_targets_are_left_to_it(inbox, tmp_path):
    from techne_assets.backfill import submit_backfill
    from techne_assets.settings import get_settings

    write(inbox, "arquivo.mp4")
    os.utime(inbox / "arquivo.mp4", (1e9, 1e9))
    with dg.DagsterInstance.ephemeral() as instance:
        plan = submit_backfill(get_settings(), instance)
        assert plan.partition_keys == ["arquivo.mp4"]
        result = tick(instance)
    assert result.run_requests == []
    assert "arquivo.mp4: an active backfill already targets it" in result.skip_reason.skip_message
