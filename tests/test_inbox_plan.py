"""The sensor's planning rules: new, changed, old-mtime and still-copying videos, bursts, restarts."""

from datetime import UTC, datetime, timedelta

import pytest

from techne_assets.core.inbox import (
    SETTLE_WINDOW,
    InboxObject,
    SeenSet,
    finish_tick,
    is_video,
    object_digest,
    plan_tick,
)

EXTENSIONS = ["mp4", "mov", "mkv", "webm", "m4v", "avi", "flv"]
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=900)


def obj(key, etag="e1", size=100, at=OLD):
    return InboxObject(key=key, size=size, etag=etag, last_modified=at)


class Sensor:
    """Ticks the way the sensor does: handles every ready video up to `max_runs`, stores the set
    as bytes (what the work storage keeps) between ticks."""

    def __init__(self, max_runs=25, stable=False):
        self.max_runs, self.stable = max_runs, stable
        self.seen_bytes, self.pending = b"", {}

    def tick(self, objects, now=NOW):
        plan = plan_tick(objects, SeenSet.from_bytes(self.seen_bytes), self.pending,
                         extensions=EXTENSIONS, now=now, require_stable_size=self.stable)
        taken = plan.ready[: self.max_runs]
        outcome = finish_tick(plan, taken, now=now)
        self.seen_bytes, self.pending = outcome.seen.to_bytes(), outcome.pending_sizes
        return taken, plan, outcome


def keys(objects):
    return sorted(o.key for o in objects)


def test_only_videos_are_picked():
    names = ["a.mp4", "b.MOV", "c.vtt", "d.srt", "notes.txt", ".hidden.mp4", "e.mkv", "f.mp4.part"]
    taken, _, _ = Sensor().tick([obj(k) for k in names])
    assert keys(taken) == ["a.mp4", "b.MOV", "e.mkv"]
    assert not is_video("sem extensão", EXTENSIONS)


def test_same_content_is_not_requested_again_after_a_restart():
    sensor = Sensor()
    first, _, _ = sensor.tick([obj("a.mp4")])
    restarted = Sensor()
    restarted.seen_bytes = sensor.seen_bytes
    second, _, _ = restarted.tick([obj("a.mp4")])
    assert keys(first) == ["a.mp4"] and second == []


def test_new_content_under_the_same_key_is_requested_again():
    sensor = Sensor()
    sensor.tick([obj("a.mp4", etag="v1")])
    second, _, _ = sensor.tick([obj("a.mp4", etag="v2")])
    assert [(o.key, o.etag) for o in second] == [("a.mp4", "v2")]


def test_a_video_with_an_old_mtime_copied_in_later_is_picked():
    """`cp -p`, `rsync -t` and `mv` keep a recording's old mtime; it still runs, once."""
    sensor = Sensor()
    sensor.tick([obj("recente.mp4", at=NOW - timedelta(minutes=5))])
    archived = obj("2019/gravacao antiga.mp4", etag="x", at=NOW - timedelta(days=2000))
    second, _, _ = sensor.tick([obj("recente.mp4", at=NOW - timedelta(minutes=5)), archived], now=NOW)
    third, _, _ = sensor.tick([obj("recente.mp4", at=NOW - timedelta(minutes=5)), archived], now=NOW)
    assert keys(second) == ["2019/gravacao antiga.mp4"] and third == []


def test_a_removed_video_leaves_the_seen_set():
    sensor = Sensor()
    sensor.tick([obj("a.mp4"), obj("b.mp4")])
    _, _, outcome = sensor.tick([obj("b.mp4")])
    assert outcome.seen.digests == {object_digest("b.mp4", "e1")}


def test_a_burst_of_1000_files_goes_through_in_ticks_of_at_most_n_without_repeats():
    burst = [obj(f"lote/video {i:04d}.mp4", etag=f"e{i}") for i in range(1000)]
    sensor, seen, ticks = Sensor(max_runs=25), [], 0
    while True:
        taken, _, _ = sensor.tick(burst)
        if not taken:
            break
        assert len(taken) <= 25
        seen += [o.key for o in taken]
        ticks += 1
    assert ticks == 40
    assert sorted(seen) == keys(burst) and len(seen) == len(set(seen))


def test_a_recent_file_still_being_copied_waits_until_its_size_is_stable():
    sensor = Sensor(stable=True)
    copying = NOW - timedelta(seconds=5)
    first, plan, _ = sensor.tick([obj("big.mp4", size=1_000, at=copying)])
    growing, _, _ = sensor.tick([obj("big.mp4", size=5_000, at=copying)])
    stable, _, _ = sensor.tick([obj("big.mp4", size=5_000, at=copying)])
    assert first == [] and plan.waiting_for_stable_size == {"big.mp4": 1_000}
    assert growing == []
    assert keys(stable) == ["big.mp4"]


def test_a_file_not_modified_for_the_settle_window_needs_no_second_look():
    taken, _, _ = Sensor(stable=True).tick([obj("pronto.mp4", at=NOW - SETTLE_WINDOW * 2)])
    assert keys(taken) == ["pronto.mp4"]


def test_left_over_recent_videos_stay_ready_without_waiting_again():
    recent = NOW - timedelta(seconds=30)
    videos = [obj(f"v{i}.mp4", etag=f"e{i}", at=recent) for i in range(3)]
    sensor = Sensor(max_runs=2, stable=True)
    sensor.tick(videos)  # sizes noted
    first, _, outcome = sensor.tick(videos)
    second, _, _ = sensor.tick(videos)
    assert len(first) == 2 and outcome.left_for_next_tick == 1
    assert keys(second) == ["v2.mp4"]


def test_empty_files_are_ignored():
    assert Sensor().tick([obj("vazio.mp4", size=0)])[0] == []


def test_names_with_spaces_accents_and_odd_characters_are_kept_verbatim():
    names = ["Configuração do ERP.mp4", "aula [parte 1], turma|b.mp4", "x...y.mov"]
    taken, _, _ = Sensor().tick([obj(k) for k in names])
    assert keys(taken) == sorted(names)


def test_the_seen_set_round_trips_and_rejects_torn_data():
    seen = SeenSet(object_digest(f"k{i}", "e") for i in range(1000))
    data = seen.to_bytes()
    assert len(data) == 8000 and SeenSet.from_bytes(data) == seen
    with pytest.raises(ValueError, match="multiple of 8"):
        SeenSet.from_bytes(data[:-3])
