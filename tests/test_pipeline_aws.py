"""`techne process` on the aws profile: the whole graph for a video in S3.

S3, DynamoDB (tracking table and the Bedrock limiter's state table) and SNS (with an SQS queue
subscribed, to read the notification) are moto over HTTP. Amazon Transcribe goes through
botocore's Stubber on a real client, which checks every request against the service model and
fails on any call the test did not expect; its result is a Transcribe-shaped JSON put where
the job would write it. Bedrock is the Converse simulator over real HTTP, reached by the real
client through `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, answering each stage's forced tool.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import dagster as dg
import pytest
from botocore.stub import Stubber
from docx import Document as DocxDocument
from media_support import make_test_video

from techne_assets.adapters.storage import S3Storage
from techne_assets.adapters.tracking import DynamoTracker, RunStatus
from techne_assets.adapters.transcription import AmazonTranscribeTranscriber
from techne_assets.core.captions import parse_transcript
from techne_assets.core.chunking import chunk_transcript
from techne_assets.core.document import SECTION_HEADINGS, TITLE
from techne_assets.core.errors import ProcessingFailed
from techne_assets.core.partition_keys import partition_key_for
from techne_assets.pipeline import process_video
from techne_assets.settings import DEFAULT_MODEL_ID, Settings
from techne_assets.testing.canned_answers import CannedAnswers
from techne_assets.testing.converse_simulator import ConverseSimulator

INPUT_BUCKET = "techne-input"
OUTPUT_BUCKET = "techne-output"
WORK_BUCKET = "techne-work"
WORK_PREFIX = "dev"
TRACKING_TABLE = "techne-runs"
STATE_TABLE = "techne-bedrock-state"
VIDEO_KEY = "aulas/Treinamento Configuração.mp4"
VIDEO_URI = f"s3://{INPUT_BUCKET}/{VIDEO_KEY}"
FILE_NAME = "Treinamento Configuração.mp4"
VIDEO_SECONDS = 150
CHUNK_MAX_TOKENS = 450
UI_BASE_URL = "https://dagster.example.com"
NOT_FOUND = "The requested job couldn't be found. Check the job name and try again."
BAD_FORMAT = "The media format provided does not match the detected media format."

# Two speakers taking turns, about 180 words a minute; the command is said on the call, so a
# document quoting it is grounded.
TURNS = [
    ("spk_0", "Bom dia pessoal, hoje vamos configurar o serviço de pagamentos no cluster"),
    ("spk_1", "Bom dia Ana, o deploy de ontem ficou em CrashLoopBackOff e ninguém sabe por quê"),
    ("spk_0", "Primeiro olhamos os pods com kubectl get pods -n pagamentos e depois os eventos"),
    ("spk_1", "Apareceu que o secret do banco não existe no namespace novo da aplicação"),
    ("spk_0", "Então criamos o secret de novo e reiniciamos o deployment com rollout restart"),
    ("spk_1", "Funcionou, os pods estão prontos e o health check responde normalmente agora"),
    ("spk_0", "Anotem que a variável de ambiente precisa apontar para o banco de homologação"),
    ("spk_1", "E quem vai atualizar a documentação do procedimento para o time de plantão"),
]
SECONDS_PER_WORD = 0.33


def transcribe_json(job_name: str, seconds: float) -> bytes:
    """What Transcribe writes for a job with speaker labels: the turns repeated until ~seconds."""
    items, segments, sentences, speakers = [], [], [], set()
    at, index = 0.5, 0
    while True:
        speaker, text = TURNS[index % len(TURNS)]
        words = text.split()
        if at + len(words) * SECONDS_PER_WORD > seconds - 1:
            break
        speakers.add(speaker)
        segment_items = []
        for word in words:
            begin, end = f"{at:.3f}", f"{at + SECONDS_PER_WORD - 0.05:.3f}"
            items.append(
                {
                    "type": "pronunciation",
                    "alternatives": [{"confidence": "0.97", "content": word}],
                    "start_time": begin,
                    "end_time": end,
                    "speaker_label": speaker,
                }
            )
            segment_items.append({"start_time": begin, "end_time": end, "speaker_label": speaker})
            at += SECONDS_PER_WORD
        items.append(
            {
                "type": "punctuation",
                "alternatives": [{"confidence": "0.0", "content": "."}],
                "speaker_label": speaker,
            }
        )
        segments.append(
            {
                "start_time": segment_items[0]["start_time"],
                "end_time": segment_items[-1]["end_time"],
                "speaker_label": speaker,
                "items": segment_items,
            }
        )
        sentences.append(f"{text}.")
        at += 0.4
        index += 1
    return json.dumps(
        {
            "jobName": job_name,
            "accountId": "123456789012",
            "status": "COMPLETED",
            "results": {
                "language_code": "pt-BR",
                "transcripts": [{"transcript": " ".join(sentences)}],
                "speaker_labels": {"speakers": len(speakers), "segments": segments},
                "items": items,
            },
        },
        ensure_ascii=False,
    ).encode()


def job(name: str, status: str, **extra) -> dict:
    description = {
        "TranscriptionJobName": name,
        "TranscriptionJobStatus": status,
        "LanguageCode": "pt-BR",
        "MediaFormat": "flac",
        "CreationTime": datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
        **extra,
    }
    if status == "COMPLETED":
        description["Transcript"] = {
            "TranscriptFileUri": f"https://s3.us-east-1.amazonaws.com/{WORK_BUCKET}/"
            f"{WORK_PREFIX}/transcripts/raw/{name}.json"
        }
    return {"TranscriptionJob": description}


class AwsWorld:
    """The moto side of one test: buckets, tables, topic and the queue subscribed to it."""

    def __init__(self, video: Path):
        self.s3 = boto3.client("s3")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET, WORK_BUCKET):
            self.s3.create_bucket(Bucket=bucket)
        self.s3.upload_file(str(video), INPUT_BUCKET, VIDEO_KEY)
        self.video_etag = self.s3.head_object(Bucket=INPUT_BUCKET, Key=VIDEO_KEY)["ETag"]
        self.tracker = DynamoTracker(TRACKING_TABLE)
        self.tracker.ensure_table()
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=STATE_TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        dynamodb.get_waiter("table_exists").wait(TableName=STATE_TABLE)
        self.sns = boto3.client("sns")
        self.topic_arn = self.sns.create_topic(Name="techne-notifications")["TopicArn"]
        self.sqs = boto3.client("sqs")
        self.queue_url = self.sqs.create_queue(QueueName="techne-notifications-inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def keys(self, bucket: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def read(self, bucket: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def notifications(self) -> list[dict]:
        """The SNS envelopes that reached the subscribed queue."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]


@pytest.fixture(scope="module")
def video_file(tmp_path_factory) -> Path:
    return make_test_video(tmp_path_factory.mktemp("aws-video") / "call.mp4", VIDEO_SECONDS)


@pytest.fixture
def world(aws_env, video_file) -> AwsWorld:
    return AwsWorld(video_file)


@pytest.fixture
def settings(world, tmp_path) -> Settings:
    return Settings(
        profile="aws",
        input_uri=f"s3://{INPUT_BUCKET}/",
        output_uri=f"s3://{OUTPUT_BUCKET}/documentos/",
        store_uri=f"s3://{WORK_BUCKET}/store/",
        scratch_uri=f"s3://{WORK_BUCKET}/{WORK_PREFIX}/",
        state_dir=str(tmp_path / "state"),
        tracking_table=TRACKING_TABLE,
        notify_topic_arn=world.topic_arn,
        bedrock_model_id=DEFAULT_MODEL_ID,
        bedrock_requests_per_minute=1_000,
        bedrock_tokens_per_minute=10_000_000,
        bedrock_state_table=STATE_TABLE,
        chunk_max_tokens=CHUNK_MAX_TOKENS,
        ui_base_url=UI_BASE_URL,
    )


@pytest.fixture
def transcribe(monkeypatch, aws_env):
    """The Stubber behind every `boto3.client("transcribe")`; other services stay on moto."""
    client = boto3.client("transcribe")
    real_client = boto3.client

    def client_for(service_name, *args, **kwargs):
        return (
            client if service_name == "transcribe" else real_client(service_name, *args, **kwargs)
        )

    monkeypatch.setattr(boto3, "client", client_for)
    with Stubber(client) as stubber:
        yield stubber


def expected_job(settings: Settings, etag: str) -> tuple[str, str]:
    """(job name, key of the extracted audio under the work prefix) the run will use."""
    partition_key = partition_key_for(VIDEO_KEY)
    name = AmazonTranscribeTranscriber(
        S3Storage(WORK_BUCKET, WORK_PREFIX),
        language=settings.transcribe_language,
        max_speakers=settings.transcribe_max_speakers,
    ).job_name(f"{partition_key}-{etag}")
    assert re.fullmatch(r"[0-9A-Za-z._-]{1,200}", name) and name.endswith("-p00of01"), name
    safe_key = name.removesuffix("-p00of01").rsplit("-", 1)[0]
    return name, f"audio/{safe_key}/part-00.flac"


def expect_transcription(stubber: Stubber, name: str, audio_key: str, final: dict) -> None:
    """get (unknown) → start (checked) → get (`final`)."""
    stubber.add_client_error(
        "get_transcription_job",
        service_error_code="BadRequestException",
        service_message=NOT_FOUND,
        http_status_code=400,
        expected_params={"TranscriptionJobName": name},
    )
    stubber.add_response(
        "start_transcription_job",
        job(name, "IN_PROGRESS"),
        {
            "TranscriptionJobName": name,
            "Media": {"MediaFileUri": f"s3://{WORK_BUCKET}/{WORK_PREFIX}/{audio_key}"},
            "OutputBucketName": WORK_BUCKET,
            "OutputKey": f"{WORK_PREFIX}/transcripts/raw/{name}.json",
            "MediaFormat": "flac",
            "LanguageCode": "pt-BR",
            "Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 10},
        },
    )
    stubber.add_response("get_transcription_job", final, {"TranscriptionJobName": name})


def attributes(envelope: dict) -> dict[str, str]:
    return {name: value["Value"] for name, value in envelope["MessageAttributes"].items()}


def test_process_video_on_the_aws_profile(world, settings, transcribe, monkeypatch):
    etag = world.video_etag.strip('"')
    job_name, audio_key = expected_job(settings, etag)
    raw = transcribe_json(job_name, VIDEO_SECONDS)
    world.s3.put_object(
        Bucket=WORK_BUCKET, Key=f"{WORK_PREFIX}/transcripts/raw/{job_name}.json", Body=raw
    )
    expect_transcription(transcribe, job_name, audio_key, job(job_name, "COMPLETED"))
    transcript = parse_transcript(raw, "result.json")
    chunks = chunk_transcript(transcript, CHUNK_MAX_TOKENS)
    assert len(chunks) >= 2, "the call is cut into several extraction chunks"
    partition_key = partition_key_for(VIDEO_KEY)

    simulator = ConverseSimulator(
        requests_per_minute=1_000,
        tokens_per_minute=10_000_000,
        time_scale=0.02,
        responder=CannedAnswers(),
    )
    with simulator, dg.DagsterInstance.ephemeral() as instance:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", simulator.endpoint_url)
        published = process_video(VIDEO_URI, settings=settings, instance=instance)
        calls = simulator.calls
        assert partition_key in instance.get_dynamic_partitions("videos")
        [run] = instance.get_runs()
        evaluations = [
            record.event_log_entry.dagster_event.event_specific_data
            for record in instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
        ]
    assert run.tags["techne/launched_by"] == "cli"
    assert len(evaluations) == 11  # every transcript and document check, document_evidenced included
    assert [(e.check_name, e.description) for e in evaluations if not e.passed] == []
    transcribe.assert_no_pending_responses()

    # The document, published as version 1 under the partition, the pointer beside it.
    prefix = f"documentos/{partition_key}"
    output_keys = set(world.keys(OUTPUT_BUCKET))
    published_names = ("document.md", "document.html", "document.docx")
    assert {f"{prefix}/v1/{name}" for name in published_names} | {f"{prefix}/manifest.json"} <= output_keys
    assert all(key.startswith(f"{prefix}/") for key in output_keys)
    manifest = json.loads(world.read(OUTPUT_BUCKET, f"{prefix}/manifest.json"))
    assert manifest["version"] == 1
    assert set(published_names) <= set(manifest["files"])
    assert published.markdown_uri == f"s3://{OUTPUT_BUCKET}/{prefix}/v1/document.md"

    markdown = world.read(OUTPUT_BUCKET, f"{prefix}/v1/document.md").decode("utf-8")
    assert markdown == published.markdown
    header = markdown.split(SECTION_HEADINGS[0])[0]
    assert header.startswith(f"# {TITLE}")
    assert f"- **Redator:** {DEFAULT_MODEL_ID}\n" in header
    assert "offline" not in header.lower()
    assert f"**Fonte:** {FILE_NAME}" in header
    positions = [markdown.index(heading) for heading in SECTION_HEADINGS]
    assert positions == sorted(positions)
    appendix = markdown.split(SECTION_HEADINGS[-1])[1]
    assert "Falante 1" in appendix and "Falante 2" in appendix
    assert "kubectl get pods -n pagamentos" in appendix
    assert "Falante 1, Falante 2" in header
    html = world.read(OUTPUT_BUCKET, f"{prefix}/v1/document.html").decode("utf-8")
    assert all(heading.removeprefix("## ") in html for heading in SECTION_HEADINGS)
    docx = DocxDocument(io.BytesIO(world.read(OUTPUT_BUCKET, f"{prefix}/v1/document.docx")))
    docx_headings = {p.text for p in docx.paragraphs if p.style.name.startswith("Heading")}
    assert {heading.removeprefix("## ") for heading in SECTION_HEADINGS} <= docx_headings

    # The extracted audio (FLAC) Transcribe read, and the raw result, are in the work bucket.
    work_keys = set(world.keys(WORK_BUCKET))
    assert f"{WORK_PREFIX}/{audio_key}" in work_keys
    # Asset values live in the durable store, never in the expiring scratch prefix.
    assert {f"store/assets/{asset}/{partition_key}.json" for asset in ("video", "transcript", "draft")} <= work_keys
    assert not any(key.startswith(f"{WORK_PREFIX}/assets/") for key in work_keys)
    assert world.read(WORK_BUCKET, f"{WORK_PREFIX}/{audio_key}")[:4] == b"fLaC"

    # Bedrock: one extraction per chunk, then merge, the section groups with something to cover
    # (the summary always) and the review; the
    # extractions share one prefix (tool, system, call context): the first admitted writes it
    # to the prompt cache and every other one reads it.
    tools = [call.tool_name for call in calls]
    assert tools.count("registrar_extracao") == len(chunks)
    assert tools.count("registrar_roteiro") == tools.count("registrar_revisao") == 1
    groups = set(tools) - {"registrar_extracao", "registrar_roteiro", "registrar_revisao"}
    assert "registrar_sumario_topicos" in groups and len(groups) == len(tools) - len(chunks) - 2
    extractions = sorted((c for c in calls if c.tool_name == "registrar_extracao"), key=lambda c: c.admitted_at)
    first, *later = extractions
    assert first.cache_write_input_tokens > 1024 and first.cache_read_input_tokens == 0
    assert all(call.cache_read_input_tokens == first.cache_write_input_tokens for call in later)
    assert all(call.cache_write_input_tokens == 0 for call in later)
    assert {call.model_id for call in calls} == {DEFAULT_MODEL_ID}

    # The tracking record: the simulator's usage, its cost at the configured price, the links.
    records = world.tracker.for_video(VIDEO_KEY)
    assert len(records) == 1
    record = records[0]
    assert record.execution_id == run.run_id
    assert record.status == RunStatus.COMPLETED and record.error is None
    assert record.partition_key == partition_key
    assert record.input_tokens == sum(
        c.input_tokens + c.cache_read_input_tokens + c.cache_write_input_tokens for c in calls
    )
    assert record.output_tokens == sum(c.output_tokens for c in calls) > 0
    price = settings.price_for(DEFAULT_MODEL_ID)
    expected_cost = (
        sum(
            c.input_tokens * price.input
            + c.output_tokens * price.output
            + c.cache_write_input_tokens * price.cache_write
            + c.cache_read_input_tokens * price.cache_read
            for c in calls
        )
        / 1_000_000
    )
    assert record.cost_usd > 0
    assert record.cost_usd == pytest.approx(expected_cost, abs=1e-5)
    assert record.cost_usd == pytest.approx(published.cost_usd)
    assert record.document_uris["document.md"] == published.markdown_uri
    assert set(record.document_uris) >= {"document.md", "document.html", "document.docx"}
    assert record.media_duration_seconds == pytest.approx(VIDEO_SECONDS, abs=0.5)
    assert record.finished_at is not None and record.duration_seconds > 0

    # The completion notification, on the queue subscribed to the topic.
    [envelope] = world.notifications()
    assert FILE_NAME in envelope["Subject"] and "Completed" in envelope["Subject"]
    sent = attributes(envelope)
    assert sent["execution_id"] == record.execution_id
    assert sent["status"] == "COMPLETED"
    assert float(sent["cost_usd"]) == pytest.approx(record.cost_usd, abs=1e-6)
    assert envelope["MessageAttributes"]["cost_usd"]["Type"] == "Number"
    assert published.markdown_uri in envelope["Message"]
    assert f"{UI_BASE_URL}/runs/{record.execution_id}" in envelope["Message"]

    # The input video is untouched, and nothing else appeared in the input bucket.
    assert world.keys(INPUT_BUCKET) == [VIDEO_KEY]
    assert world.s3.head_object(Bucket=INPUT_BUCKET, Key=VIDEO_KEY)["ETag"] == world.video_etag


def test_a_failed_transcription_job_fails_the_run_and_reports_it(world, settings, transcribe):
    etag = world.video_etag.strip('"')
    job_name, audio_key = expected_job(settings, etag)
    expect_transcription(
        transcribe, job_name, audio_key, job(job_name, "FAILED", FailureReason=BAD_FORMAT)
    )

    with dg.DagsterInstance.ephemeral() as instance, pytest.raises(ProcessingFailed) as failed:
        process_video(VIDEO_URI, settings=settings, instance=instance)
    transcribe.assert_no_pending_responses()

    message = str(failed.value)
    assert job_name in message and BAD_FORMAT in message
    assert world.keys(OUTPUT_BUCKET) == []

    [record] = world.tracker.for_video(VIDEO_KEY)
    assert record.status == RunStatus.FAILED
    assert record.error.startswith("transcript: ")
    assert job_name in record.error and BAD_FORMAT in record.error
    assert record.cost_usd == 0 and record.document_uris == {}

    [envelope] = world.notifications()
    assert FILE_NAME in envelope["Subject"] and "Failed" in envelope["Subject"]
    sent = attributes(envelope)
    assert sent["execution_id"] == record.execution_id and sent["status"] == "FAILED"
    assert BAD_FORMAT in envelope["Message"] and "transcript" in envelope["Message"]

    assert world.keys(INPUT_BUCKET) == [VIDEO_KEY]
    assert world.s3.head_object(Bucket=INPUT_BUCKET, Key=VIDEO_KEY)["ETag"] == world.video_etag
