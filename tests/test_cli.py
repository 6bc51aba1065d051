"""`techne` as a user runs it: one-line errors naming the input, nothing written on failure."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from techne_assets.adapters.demo import record_demo


@pytest.fixture(scope="module")
def demo_call(tmp_path_factory) -> tuple[Path, Path]:
    return record_demo(tmp_path_factory.mktemp("cli-demo"))


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "inbox").mkdir()
    return tmp_path


def techne(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNE_")}
    env.update(
        DAGSTER_HOME=str(workdir / "dagster_home"),
        TECHNE_INPUT_URI=str(workdir / "inbox"),
        TECHNE_OUTPUT_URI=str(workdir / "output"),
        TECHNE_STORE_URI=str(workdir / "store"),
        TECHNE_STATE_DIR=str(workdir / "state"),
    )
    return subprocess.run(
        [sys.executable, "-m", "techne_assets.cli", *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, names: str, reason: str, workdir: Path):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("techne: error: ")
    assert names in lines[0] and reason in lines[0].lower(), lines[0]
    assert "Traceback" not in result.stderr
    output = workdir / "output"
    assert not output.exists() or not any(p.is_file() for p in output.rglob("*"))


def test_process_prints_the_document_path(workdir, demo_call):
    video = workdir / "inbox" / "aula.mp4"
    shutil.copy(demo_call[0], video)
    shutil.copy(demo_call[1], video.with_suffix(".vtt"))
    result = techne(workdir, "process", str(video))
    assert result.returncode == 0, result.stderr
    document = Path(result.stdout.strip().splitlines()[-1])
    assert document.name == "document.md" and document.is_file()
    assert "## 4. Troubleshooting" in document.read_text(encoding="utf-8")


def test_explicit_captions_and_output_folder(workdir, demo_call):
    video = workdir / "elsewhere" / "gravação.mp4"
    video.parent.mkdir()
    shutil.copy(demo_call[0], video)
    result = techne(workdir, "process", str(video), "--captions", str(demo_call[1]), "--out", str(workdir / "docs"))
    assert result.returncode == 0, result.stderr
    document = Path(result.stdout.strip())
    # Outside the inbox the partition is the video's whole path; the document is version 1.
    assert document.is_file() and document.parent.name == "v1"
    assert document.parent.parent == workdir / "docs" / "%" / str(video.resolve()).lstrip("/")


def test_same_name_in_two_folders_outside_the_inbox_gets_two_documents(workdir, demo_call):
    documents = []
    for folder in ("x", "y"):
        video = workdir / folder / "call.mp4"
        video.parent.mkdir()
        shutil.copy(demo_call[0], video)
        shutil.copy(demo_call[1], video.with_suffix(".vtt"))
        result = techne(workdir, "process", str(video))
        assert result.returncode == 0, result.stderr
        documents.append(Path(result.stdout.strip()))
    assert documents[0] != documents[1]
    assert all(document.is_file() for document in documents)


def test_missing_file(workdir):
    result = techne(workdir, "process", str(workdir / "inbox" / "nao-existe.mp4"))
    assert_one_line_error(result, "nao-existe.mp4", "no such file", workdir)


def test_zero_length_file(workdir):
    video = workdir / "inbox" / "vazio.mp4"
    video.touch()
    assert_one_line_error(techne(workdir, "process", str(video)), "vazio.mp4", "empty", workdir)


def test_text_file_named_mp4(workdir):
    video = workdir / "inbox" / "notas.mp4"
    video.write_text("isto não é um vídeo\n" * 20, encoding="utf-8")
    assert_one_line_error(techne(workdir, "process", str(video)), "notas.mp4", "not a video", workdir)


@pytest.mark.parametrize("name", ["cortado.mp4", "lixo.mp4"])
def test_corrupt_video(workdir, demo_call, name):
    video = workdir / "inbox" / name
    data = demo_call[0].read_bytes()
    # A download that lost its head (no ftyp/moov atoms), or bytes that never were a video.
    video.write_bytes(data[len(data) // 2 :] if name == "cortado.mp4" else os.urandom(200_000))
    assert_one_line_error(techne(workdir, "process", str(video)), name, "corrupt", workdir)


def test_captions_that_do_not_parse_say_where(workdir, demo_call):
    video = workdir / "inbox" / "aula.mp4"
    shutil.copy(demo_call[0], video)
    video.with_suffix(".vtt").write_text("WEBVTT\n\n1\n00:00:01.000 --> isto-nao-e-tempo\nOlá\n", encoding="utf-8")
    result = techne(workdir, "process", str(video))
    assert_one_line_error(result, "aula.vtt", "line 4", workdir)


def test_video_without_captions_and_no_transcriber(workdir, demo_call):
    video = workdir / "inbox" / "sem-legenda.mp4"
    shutil.copy(demo_call[0], video)
    result = techne(workdir, "process", str(video))
    assert_one_line_error(result, "sem-legenda.mp4", "no captions", workdir)


def test_leading_dot_video_finds_its_leading_dot_captions(workdir, demo_call):
    video = workdir / "inbox" / ".aula.mp4"
    shutil.copy(demo_call[0], video)
    shutil.copy(demo_call[1], workdir / "inbox" / ".aula.vtt")
    result = techne(workdir, "process", str(video))
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_file()


def test_captions_longer_than_the_video_stop_the_run_before_the_writer(workdir, demo_call):
    video = workdir / "inbox" / "aula.mp4"
    shutil.copy(demo_call[0], video)
    captions = demo_call[1].read_text(encoding="utf-8")
    captions += "\n\n999999:00:00.000 --> 999999:00:05.000\nOutra gravação.\n"
    video.with_suffix(".vtt").write_text(captions, encoding="utf-8")
    result = techne(workdir, "process", str(video))
    assert_one_line_error(result, "transcript_within_media", "after the media", workdir)
    assert not (workdir / "store" / "assets" / "draft").exists()


def test_refused_output_folder_is_one_line_before_any_work(workdir, demo_call):
    video = workdir / "inbox" / "aula.mp4"
    shutil.copy(demo_call[0], video)
    shutil.copy(demo_call[1], video.with_suffix(".vtt"))
    (workdir / "docs").write_text("a file where the output folder should be")
    result = techne(workdir, "process", str(video), "--out", str(workdir / "docs" / "out"))
    assert_one_line_error(result, str(workdir / "docs"), "cannot write", workdir)
    assert not (workdir / "store").exists()


def test_unreachable_s3_output_is_one_line_naming_the_bucket(workdir, demo_call, monkeypatch):
    video = workdir / "inbox" / "aula.mp4"
    shutil.copy(demo_call[0], video)
    shutil.copy(demo_call[1], video.with_suffix(".vtt"))
    for name, value in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    result = techne(workdir, "process", str(video), "--out", "s3://techne-docs-dev/")
    assert_one_line_error(result, "s3://techne-docs-dev", "cannot reach s3", workdir)
    assert "techne-docs-dev" in result.stderr and "DagsterExecutionStepExecutionError" not in result.stderr


def test_audio_only_input_is_accepted(workdir, demo_call):
    audio = workdir / "inbox" / "aula.flac"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(demo_call[0]), "-vn", str(audio)],
                   check=True, timeout=120)
    shutil.copy(demo_call[1], audio.with_suffix(".vtt"))
    result = techne(workdir, "process", str(audio))
    assert result.returncode == 0, result.stderr
    document = Path(result.stdout.strip())
    markdown = document.read_text(encoding="utf-8")
    assert "Troubleshooting" in markdown
    # No frame is grabbed from a recording without video, and the document says so.
    assert "Gravação sem vídeo: o documento não tem capturas de tela." in markdown
    assert "![" not in markdown and not (document.parent / "screenshots").exists()


def test_transcript_prints_normalized_json_of_each_format(workdir, demo_call, data_dir):
    result = techne(workdir, "transcript", str(demo_call[1]))
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert set(parsed) == {"language", "duration", "segments"}
    spoken = " ".join(s["text"] for s in parsed["segments"])
    raw_words = [w for line in demo_call[1].read_text(encoding="utf-8").splitlines()
                 if line.startswith("<v ") for w in line.split(">", 1)[1].split()]
    assert spoken.split() == raw_words
    assert {s["speaker"] for s in parsed["segments"]} == {"Ana", "Bruno", "Carla"}


def test_transcript_error_is_one_line(workdir):
    bad = workdir / "quebrado.srt"
    bad.write_bytes(b"1\n00:00:01,000 --> xx\nOi\n")
    result = techne(workdir, "transcript", str(bad))
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert "quebrado.srt" in result.stderr and "Traceback" not in result.stderr


def test_process_reports_its_own_runs_in_the_state_folder(workdir, demo_call):
    from techne_assets.adapters.tracking import SqliteTracker

    shutil.copy(demo_call[0], workdir / "inbox" / "sem-legenda.mp4")
    failed = techne(workdir, "process", str(workdir / "inbox" / "sem-legenda.mp4"))
    assert_one_line_error(failed, "sem-legenda.mp4", "no captions", workdir)
    video = workdir / "inbox" / "aula.mp4"
    shutil.copy(demo_call[0], video)
    shutil.copy(demo_call[1], video.with_suffix(".vtt"))
    result = techne(workdir, "process", str(video))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1  # the JSON log lines are not on stdout
    document = result.stdout.strip()

    lines = (workdir / "state" / "notifications.log").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["attributes"]["status"] for line in lines] == ["FAILED", "COMPLETED"]
    failure, completion = (json.loads(line) for line in lines)
    assert "sem-legenda.mp4" in failure["subject"] and "no captions" in failure["body"]
    assert "aula.mp4" in completion["subject"] and document in completion["body"]
    tracker = SqliteTracker(workdir / "state" / "tracking.sqlite3")
    [record] = tracker.for_video("aula.mp4")
    assert record.status == "COMPLETED" and record.document_uris["document.md"] == document
    assert completion["attributes"]["execution_id"] == record.execution_id
    assert tracker.for_video("sem-legenda.mp4")[0].status == "FAILED"


def test_captions_far_past_the_video_publish_nothing_and_exit_non_zero(workdir, demo_call):
    """Captions 90 minutes longer than the 2-minute video: a blocking check stops the run before
    publication, one failure notice names it, and the command ends with that line."""
    video = workdir / "inbox" / "longa.mp4"
    shutil.copy(demo_call[0], video)
    cues = [
        f"{minute // 60:02d}:{minute % 60:02d}:00.000 --> {minute // 60:02d}:{minute % 60:02d}:05.000\n"
        f"<v Ana>Agora rode kubectl get pods no minuto {minute}.\n"
        for minute in range(0, 92)
    ]
    video.with_suffix(".vtt").write_text("WEBVTT\n\n" + "\n".join(cues), encoding="utf-8")
    result = techne(workdir, "process", str(video))
    assert_one_line_error(result, "nothing was published", "blocking check", workdir)
    lines = (workdir / "state" / "notifications.log").read_text(encoding="utf-8").splitlines()
    (sent,) = (json.loads(line) for line in lines)
    assert sent["attributes"]["status"] == "FAILED" and "longa.mp4" in sent["subject"]
    check = result.stderr.split("blocking check ", 1)[1].split()[0]
    assert check in sent["body"] and check.startswith(("transcript_", "document_"))


def test_sigterm_during_a_quota_wait_ends_the_run_at_once_tracked_failed(workdir, demo_call):
    """The shared breaker is open (another run exhausted the quota): the draft step waits 300 s;
    SIGTERM ends `techne process` at once, and the run is tracked FAILED with its reason."""
    from techne_assets.adapters.bedrock_limiter import CircuitBreaker
    from techne_assets.adapters.bedrock_state import SqliteStateStore
    from techne_assets.adapters.tracking import SqliteTracker
    from techne_assets.settings import DEFAULT_MODEL_ID

    breaker = CircuitBreaker(SqliteStateStore(workdir / "state" / "bedrock_state.sqlite3"), DEFAULT_MODEL_ID)
    for _ in range(5):
        breaker.before_call()
        breaker.record_failure()
    video = workdir / "inbox" / "aula.mp4"
    shutil.copy(demo_call[0], video)
    shutil.copy(demo_call[1], video.with_suffix(".vtt"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHNE_", "AWS_"))}
    env.update(
        DAGSTER_HOME=str(workdir / "dagster_home"), TECHNE_INPUT_URI=str(workdir / "inbox"),
        TECHNE_OUTPUT_URI=str(workdir / "output"), TECHNE_STORE_URI=str(workdir / "store"),
        TECHNE_STATE_DIR=str(workdir / "state"), TECHNE_WRITER="bedrock", AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
    )
    process = subprocess.Popen([sys.executable, "-m", "techne_assets.cli", "process", str(video)],
                               cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_line = process.stderr.readline()  # the first line is the wait's
        assert wait_line.startswith("techne: cota do Bedrock esgotada (circuito aberto): nova tentativa em ")
        assert wait_line.rstrip().endswith(", 1/3")
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill()
    assert time.monotonic() - signalled < 30  # not the 300 s wait
    assert process.returncode != 0
    assert "Retrying" not in rest and "Traceback" not in rest
    (record,) = SqliteTracker(workdir / "state" / "tracking.sqlite3").for_video("aula.mp4")
    assert record.status == "FAILED" and "interrupted" in record.error.lower()
