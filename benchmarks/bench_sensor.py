"""Sensor tick with 100,000 existing objects and 100 new ones: moto S3 (real HTTP) and a local folder;
and the SQS mode's tick for the same 100 events. Prints tick time and peak memory; records RESULTS.md."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import boto3
import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record_section  # noqa: E402

from techne_assets.adapters.storage import storage_from_uri  # noqa: E402
from techne_assets.core.inbox import InboxCursor, SeenSet, object_digest  # noqa: E402
from techne_assets.settings import get_settings  # noqa: E402
from techne_assets.testing.moto_server import running_moto_server  # noqa: E402

EXISTING = int(os.environ.get("BENCH_EXISTING_OBJECTS", "100000"))
NEW = 100
NOTES: list[str] = []
REPETITIONS = 3


def _cursor_after_seeing_everything(input_uri: str, store_uri: str) -> str:
    """The cursor (and the seen set in the store) of a sensor that has handled every object."""
    from techne_assets.defs.sensors import store_seen

    seen = SeenSet(object_digest(o.key, o.etag) for o in storage_from_uri(input_uri).list_objects())
    cursor = store_seen(storage_from_uri(store_uri), InboxCursor(), seen, SeenSet())
    return cursor.model_dump_json()


def _evaluate(sensor, cursor: str | None, traced: bool) -> tuple[float, float, int]:
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        result = sensor(context)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else 0.0
        if traced:
            tracemalloc.stop()
    return elapsed, peak, len(result.run_requests)


def _timed_tick(sensor, cursor: str | None, prepare=lambda: None) -> tuple[float, float, int]:
    """(seconds, peak traced MB, run requests) of one real sensor evaluation.

    Timed untraced; the memory peak comes from a second, traced evaluation (tracing slows Python).
    `prepare` runs before each evaluation (the SQS mode refills its queue).
    """
    prepare()
    elapsed, _, requests = _evaluate(sensor, cursor, traced=False)
    prepare()
    _, peak, _ = _evaluate(sensor, cursor, traced=True)
    return elapsed, peak, requests


def _summary(label: str, runs: list[tuple[float, float, int]]) -> str:
    seconds = [r[0] for r in runs]
    return (f"| {label} | {statistics.median(seconds):.2f} | {min(seconds):.2f}–{max(seconds):.2f} | "
            f"{statistics.median(r[1] for r in runs):.0f} | {runs[0][2]} |")


def bench_local(work: Path) -> str:
    from techne_assets.defs.sensors import inbox_sensor

    inbox = work / "inbox"
    for i in range(EXISTING):
        folder = inbox / f"arquivo/{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"aula {i:06d}.mp4").write_bytes(b"v")
    os.environ.update(TECHNE_INPUT_URI=str(inbox), TECHNE_STORE_URI=str(work / "store-local"),
                      TECHNE_SENSOR_MAX_RUNS_PER_TICK=str(NEW), TECHNE_SENSOR_MODE="list")
    get_settings.cache_clear()
    cursor = _cursor_after_seeing_everything(str(inbox), str(work / "store-local"))
    time.sleep(0.05)
    for i in range(NEW):
        (inbox / "novos").mkdir(exist_ok=True)
        (inbox / "novos" / f"novo {i:03d}.mp4").write_bytes(b"novo")
    # Local files are taken once their size is stable: the first tick notes sizes, the second runs.
    with dg.DagsterInstance.ephemeral() as instance:
        first = inbox_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    runs = [_timed_tick(inbox_sensor, first.cursor) for _ in range(REPETITIONS)]
    seen_count = InboxCursor.model_validate_json(first.cursor).seen_count
    NOTES.append(f"Local list mode: the cursor is {len(first.cursor)} characters; the seen set of "
                 f"{seen_count:,} digests is {seen_count * 8 / 2**20:.2f} MB in the store, read every "
                 "tick and written (to the other slot) only by ticks that handle a video.")
    return _summary(f"local folder, list mode ({EXISTING:,} + {NEW} files)", runs)


def bench_s3(endpoint: str) -> list[str]:
    from techne_assets.defs.sensors import inbox_sensor, s3_events_sensor

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bench-input")

    def put(i: int) -> None:
        s3.put_object(Bucket="bench-input", Key=f"arquivo/{i // 1000:03d}/aula {i:06d}.mp4", Body=b"v")

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(EXISTING)))
    print(f"seeded {EXISTING:,} objects in moto S3 in {time.perf_counter() - started:.0f} s", flush=True)
    with tempfile.TemporaryDirectory() as work:
        os.environ.update(TECHNE_INPUT_URI="s3://bench-input/", TECHNE_STORE_URI=work,
                          TECHNE_SENSOR_MAX_RUNS_PER_TICK=str(NEW), TECHNE_SENSOR_MODE="list")
        get_settings.cache_clear()
        cursor = _cursor_after_seeing_everything("s3://bench-input/", work)
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: s3.put_object(Bucket="bench-input", Key=f"novos/novo {i:03d}.mp4",
                                                  Body=b"novo"), range(NEW)))
        list_runs = [_timed_tick(inbox_sensor, cursor) for _ in range(REPETITIONS)]
        raw_listing = []
        for _ in range(REPETITIONS):
            started = time.perf_counter()
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket="bench-input")
            listed = sum(len(page.get("Contents", [])) for page in pages)
            raw_listing.append((time.perf_counter() - started, 0.0, 0))
        print(f"listed {listed:,} objects", flush=True)

        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="bench-events")["QueueUrl"]

        def fill_queue() -> None:
            for i in range(NEW):
                record = {"eventName": "ObjectCreated:Put", "eventTime": datetime.now(UTC).isoformat(),
                          "s3": {"bucket": {"name": "bench-input"},
                                 "object": {"key": f"novos/novo+{i:03d}.mp4", "size": 4, "eTag": f"e{i}"}}}
                sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Records": [record]}))

        os.environ.update(TECHNE_SENSOR_MODE="sqs", TECHNE_SQS_QUEUE_URL=queue)
        get_settings.cache_clear()
        sqs_runs = [_timed_tick(s3_events_sensor, None, prepare=fill_queue) for _ in range(REPETITIONS)]
        os.environ["TECHNE_SENSOR_MODE"] = "list"
    return [
        _summary(f"moto S3 over HTTP, list mode ({EXISTING:,} + {NEW} objects)", list_runs),
        _summary("baseline: boto3 paginating the same bucket on moto, nothing else", raw_listing),
        _summary(f"SQS mode ({NEW} S3 event messages, moto SQS over HTTP)", sqs_runs),
    ]


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        rows.append(bench_local(Path(work)))
    with running_moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        rows += bench_s3(endpoint)
    text = "\n".join([
        f"One real `inbox_sensor` / `s3_events_sensor` evaluation (`build_sensor_context`, ephemeral instance), "
        f"{REPETITIONS} repetitions; at most {NEW} run requests per tick. Peak = Python allocations traced "
        "during the tick (tracemalloc), not process RSS.",
        "",
        "| setup | median tick s | range | peak traced MB | run requests |",
        "|---|---|---|---|---|",
        *rows,
        "",
        *NOTES,
    ])
    print(text)
    record_section("bench_sensor", "Sensor tick at 100,000 objects", text)


if __name__ == "__main__":
    main()
