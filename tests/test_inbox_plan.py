"""The sensor's planning rules: new, changed and still-copying videos, bursts and restarts."""

from datetime import UTC, datetime, timedelta

from techne_assets.core.inbox import SAFETY_WINDOW, InboxCursor, InboxObject, is_video, plan_tick

EXTENSIONS = ["mp4", "mov", "mkv", "webm", "m4v", "avi", "flv"]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def obj(key, etag="e1", size=100, at=T0):
    return InboxObject(key=key, size=size, etag=etag, last_modified=at)


def plan(objects, cursor=None, max_runs=25, stable=False):
    return plan_tick(
        objects, cursor or InboxCursor(), extensions=EXTENSIONS, max_runs=max_runs, require_stable_size=stable
    )


def restart(cursor: InboxCursor) -> InboxCursor:
    """What a restarted daemon reads back: the cursor's stored JSON."""
    return InboxCursor.model_validate_json(cursor.model_dump_json())


def test_only_videos_are_picked():
    keys = ["a.mp4", "b.MOV", "c.vtt", "d.srt", "notes.txt", ".hidden.mp4", "e.mkv", "f.mp4.part"]
    result = plan([obj(k) for k in keys])
    assert sorted(o.key for o in result.ready) == ["a.mp4", "b.MOV", "e.mkv"]
    assert not is_video("sem extensão", EXTENSIONS)


def test_same_content_is_not_requested_again_after_a_restart():
    first = plan([obj("a.mp4")])
    second = plan([obj("a.mp4")], restart(first.cursor))
    assert [o.key for o in first.ready] == ["a.mp4"]
    assert second.ready == []


def test_new_content_under_the_same_key_is_requested_again():
    first = plan([obj("a.mp4", etag="v1")])
    second = plan([obj("a.mp4", etag="v2", at=T0 + timedelta(minutes=5))], restart(first.cursor))
    assert [(o.key, o.etag) for o in second.ready] == [("a.mp4", "v2")]


def test_object_written_during_a_tick_with_an_older_timestamp_is_not_missed():
    first = plan([obj("late-listed-later.mp4", at=T0 + timedelta(minutes=2))])
    # Written while the first tick listed: its last-modified is older than the mark.
    straggler = obj("straggler.mp4", at=T0 + timedelta(minutes=1))
    second = plan([obj("late-listed-later.mp4", at=T0 + timedelta(minutes=2)), straggler], first.cursor)
    assert [o.key for o in second.ready] == ["straggler.mp4"]


def test_objects_older_than_the_safety_window_are_not_listed_as_new():
    first = plan([obj("new.mp4", at=T0 + SAFETY_WINDOW * 3)])
    second = plan([obj("ancient.mp4", at=T0), obj("new.mp4", at=T0 + SAFETY_WINDOW * 3)], first.cursor)
    assert second.ready == []


def test_a_burst_of_1000_files_goes_through_in_ticks_of_at_most_n_without_repeats():
    burst = [obj(f"lote/video {i:04d}.mp4", etag=f"e{i}") for i in range(1000)]
    cursor, seen, ticks = InboxCursor(), [], 0
    while True:
        result = plan(burst, restart(cursor), max_runs=25)
        if not result.ready:
            break
        assert len(result.ready) <= 25
        seen += [o.key for o in result.ready]
        cursor, ticks = result.cursor, ticks + 1
    assert ticks == 40
    assert sorted(seen) == sorted(o.key for o in burst)
    assert len(seen) == len(set(seen))


def test_a_local_file_still_being_copied_waits_until_its_size_is_stable():
    first = plan([obj("big.mp4", size=1_000)], stable=True)
    growing = plan([obj("big.mp4", size=5_000)], first.cursor, stable=True)
    stable = plan([obj("big.mp4", size=5_000)], growing.cursor, stable=True)
    assert first.ready == [] and first.waiting_for_stable_size == 1
    assert growing.ready == [] and growing.waiting_for_stable_size == 1
    assert [o.key for o in stable.ready] == ["big.mp4"]


def test_empty_files_are_ignored():
    assert plan([obj("vazio.mp4", size=0)]).ready == []


def test_names_with_spaces_accents_and_odd_characters_are_kept_verbatim():
    keys = ["Configuração do ERP.mp4", "aula [parte 1], turma|b.mp4", "x...y.mov"]
    result = plan([obj(k) for k in keys])
    assert sorted(o.key for o in result.ready) == sorted(keys)
