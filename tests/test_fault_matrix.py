"""The fault matrix: every fault the platform claims to survive, and the tests that show it.

Each entry names tests by `file::function`; this module checks that each one is collected (a
top-level test function of that name exists in that file, parsed, so one broken module does not
hide the others) and that the README's "Fault matrix" table lists exactly these faults and
tests. A fault without a test is not listed as covered: it would have to appear here with its
test first.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# fault → (what the platform does about it, tests that show it)
FAULTS: dict[str, tuple[str, list[str]]] = {
    "Bedrock throttle storm": (
        "breaker opens after 5 quota errors; the step retries at the breaker's time, bounded by "
        "TECHNE_QUOTA_WAIT_MAX_SECONDS, then fails naming the quota",
        [
            "tests/test_bedrock_client.py::test_persistent_throttling_opens_the_circuit_and_stops_calling",
            "tests/test_bedrock_breaker.py::test_a_throttle_storm_waits_at_the_breakers_time_then_fails_naming_the_quota",
        ],
    ),
    "Bedrock 5xx burst": (
        "tenacity retries inside the call (backoff with jitter), the reservation is given back",
        [
            "tests/test_bedrock_client.py::test_transient_errors_are_retried_then_succeed",
            "tests/test_bedrock_client.py::test_read_timeouts_are_retried",
        ],
    ),
    "Bedrock configuration error (no region, no credentials, unknown model)": (
        "never retried; one line naming the setting",
        [
            "tests/test_bedrock_configuration.py::test_missing_credentials_fail_once_and_give_the_quota_and_the_probe_back",
            "tests/test_bedrock_configuration.py::test_either_region_variable_reaches_the_client",
            "tests/test_bedrock_client.py::test_an_invalid_model_fails_at_once_without_retry",
            "tests/test_bedrock_breaker.py::test_configuration_errors_fail_the_step_once_naming_the_setting",
        ],
    ),
    "Transcribe job FAILED": (
        "the run fails with Transcribe's reason; a re-run deletes the failed job and starts it again",
        [
            "tests/test_transcription.py::test_a_failed_job_raises_with_transcribes_reason",
            "tests/test_transcription.py::test_a_rerun_after_a_failure_deletes_the_failed_job_and_starts_it_again",
            "tests/test_pipeline_aws.py::test_a_failed_transcription_job_fails_the_run_and_reports_it",
        ],
    ),
    "S3 unreachable mid-run": (
        "one line naming the bucket; a publication cut off leaves the previous version whole",
        [
            "tests/test_input_hygiene.py::test_an_unreachable_s3_endpoint_names_the_bucket",
            "tests/test_publishing.py::test_s3_dropped_upload_mid_republication_readers_see_the_old_version_whole",
        ],
    ),
    "Process killed while draft waits for a Bedrock slot": (
        "run monitoring marks the run failed and frees its pool claim; the run retry resumes from "
        "the failed step",
        ["tests/test_e2e_dagster_dev.py::test_killed_run_is_retried_from_failure_without_transcribing_again"],
    ),
    "Process killed mid-draft (inside a model call)": (
        "the run is marked failed; its one retry redoes draft onward, not the transcript; only the "
        "retry publishes, once; the retry's record names its parent, and a late STARTED record "
        "never replaces the killed run's FAILED one",
        [
            "tests/test_e2e_killed_steps.py::test_process_killed_mid_draft_is_retried_from_draft",
            "tests/test_tracking.py::test_a_late_started_record_never_replaces_a_final_one",
        ],
    ),
    "Process killed mid-document (rendering frames)": (
        "the run is marked failed; its one retry redoes document and publication only; exactly "
        "one document is published, by the retry",
        ["tests/test_e2e_killed_steps.py::test_process_killed_mid_document_is_retried_from_document"],
    ),
    "Daemon restarted mid-backfill": (
        "the backfill and its queued runs resume; no video gets a second run",
        ["tests/test_e2e_backfill.py::test_thirty_old_videos_copied_in_then_a_backfill_give_exactly_thirty_runs"],
    ),
    "Sensor and backfill on the same videos": (
        "each skips what the other requested (active backfill, queued or running run, same content)",
        [
            "tests/test_e2e_backfill.py::test_thirty_old_videos_copied_in_then_a_backfill_give_exactly_thirty_runs",
            "tests/test_inbox_sensor.py::test_partitions_an_active_backfill_targets_are_left_to_it",
            "tests/test_backfill.py::test_partitions_with_a_queued_or_running_run_are_skipped",
            "tests/test_backfill.py::test_videos_already_materialized_with_the_same_content_are_skipped",
        ],
    ),
    "Malformed S3 event in the SQS batch": (
        "logged and deleted; the other events of the batch become runs",
        [
            "tests/test_s3_events.py::test_a_malformed_message_is_dropped_and_never_blocks_its_batch",
            "tests/test_s3_events.py::test_the_sqs_sensor_requests_the_valid_videos_of_a_mixed_batch",
        ],
    ),
    "Corrupt video, under local and production retry settings": (
        "one line naming the file, exit non-zero, nothing written; one run and one notice, never retried",
        [
            "tests/test_cli.py::test_corrupt_video",
            "tests/test_e2e_production_retries.py::test_a_corrupt_video_under_production_retry_settings_is_one_run_and_one_notice",
        ],
    ),
    "Old-mtime copy into the inbox (cp -p, rsync -t, mv)": (
        "seen keys are tracked by ETag (size + mtime locally), not a high-water mark: it runs once",
        [
            "tests/test_inbox_plan.py::test_a_video_with_an_old_mtime_copied_in_later_is_picked",
            "tests/test_inbox_sensor.py::test_a_video_copied_in_with_an_old_mtime_runs_once",
            "tests/test_e2e_backfill.py::test_thirty_old_videos_copied_in_then_a_backfill_give_exactly_thirty_runs",
        ],
    ),
    "Ctrl-C or SIGTERM during a quota wait": (
        "the wait ends at once, the run is tracked FAILED with its reason; the waiting call holds no quota",
        [
            "tests/test_cli.py::test_sigterm_during_a_quota_wait_ends_the_run_at_once_tracked_failed",
            "tests/test_bedrock_limiter.py::test_ctrl_c_during_a_quota_wait_ends_it_at_once_and_holds_no_quota",
        ],
    ),
    "Sensor state lost or torn": (
        "the seen set is rebuilt; the run keys and the materialization check keep done videos done",
        ["tests/test_inbox_sensor.py::test_a_lost_seen_set_is_rebuilt"],
    ),
    "Quota wait polling": (
        "waits and reads do not write the shared DynamoDB state; TTL expires idle state",
        [
            "tests/test_bedrock_limiter.py::test_waits_and_reads_do_not_write_the_dynamo_item",
            "tests/test_bedrock_limiter.py::test_every_dynamo_write_pushes_the_ttl_attribute_forward",
        ],
    ),
    "Emulator without an API (doctor on moto)": (
        "reported as not checked, exit 0",
        ["tests/test_permissions.py::test_doctor_on_moto_reports_the_missing_bedrock_runtime_as_not_checked"],
    ),
    "Dropped upload during a republication": (
        "the new version goes under a fresh v<N>/ and the pointer is written last: readers see the old version, whole",
        [
            "tests/test_publishing.py::test_s3_dropped_upload_mid_republication_readers_see_the_old_version_whole",
            "tests/test_publishing.py::test_local_failure_while_copying_leaves_no_version_and_no_staging",
        ],
    ),
    "Old versions cannot be deleted (AccessDenied inside DeleteObjects' 200)": (
        "the per-key errors fail the step naming the key and s3:DeleteObject; the new version stays published",
        ["tests/test_publishing.py::test_s3_refused_deletions_inside_a_200_answer_are_reported"],
    ),
    "Scratch expired under a COMPLETED Transcribe job": (
        "audio extracted again, the job re-run under the next name (-r1), its result read",
        ["tests/test_transcription.py::test_a_completed_job_whose_result_expired_runs_again_under_a_new_name"],
    ),
    "Two videos with the same name outside the input": (
        "keyed by their whole path: two partitions, two documents",
        [
            "tests/test_partition_keys.py::test_two_different_videos_never_share_a_partition",
            "tests/test_cli.py::test_same_name_in_two_folders_outside_the_inbox_gets_two_documents",
        ],
    ),
    "Captions longer than the media, runaway or inverted cue timings": (
        "blocking transcript checks stop the run before the writer, naming the cue's line or time",
        [
            "tests/test_cli.py::test_captions_longer_than_the_video_stop_the_run_before_the_writer",
            "tests/test_input_hygiene.py::test_a_cue_ending_before_it_starts_is_reported_with_its_line",
            "tests/test_input_hygiene.py::test_timestamps_of_any_number_of_hours_are_read_and_caught_past_the_media",
        ],
    ),
    "Captions in a legacy or undecidable encoding": (
        "decoded by charset-normalizer (Shift-JIS, Windows-1252, UTF-16) or one line saying to save as UTF-8; never mojibake",
        [
            "tests/test_input_hygiene.py::test_shift_jis_captions_decode_to_the_right_characters",
            "tests/test_input_hygiene.py::test_bytes_no_encoding_reads_cleanly_fail_with_a_clear_reason",
        ],
    ),
    "`techne transcript` on a device, a FIFO, a huge file or a closed pipe": (
        "refused in one line (devices, FIFOs, past TECHNE_MAX_CAPTION_BYTES); a closed pipe exits quietly",
        [
            "tests/test_input_hygiene.py::test_transcript_refuses_a_device",
            "tests/test_input_hygiene.py::test_transcript_refuses_a_fifo_without_hanging",
            "tests/test_input_hygiene.py::test_transcript_caps_the_size_it_reads",
            "tests/test_input_hygiene.py::test_transcript_exits_quietly_when_the_reader_closes_the_pipe",
        ],
    ),
    "Unreadable input, refused or unreachable output, S3 access denied": (
        "one line naming the file, folder, bucket or object and what was refused, before any paid step",
        [
            "tests/test_input_hygiene.py::test_an_unreadable_file_is_one_line_naming_it",
            "tests/test_cli.py::test_refused_output_folder_is_one_line_before_any_work",
            "tests/test_cli.py::test_unreachable_s3_output_is_one_line_naming_the_bucket",
            "tests/test_input_hygiene.py::test_an_s3_access_denied_names_the_object",
        ],
    ),
}


@cache
def _test_functions(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    )


ALL_TESTS = sorted({test for _, tests in FAULTS.values() for test in tests})


@pytest.mark.parametrize("test_id", ALL_TESTS)
def test_every_listed_test_exists(test_id):
    path, _, name = test_id.partition("::")
    assert (ROOT / path).is_file(), f"{path} is missing"
    assert name in _test_functions(path), f"{test_id} is not a test function"


def test_every_fault_has_at_least_one_test():
    assert all(tests for _, tests in FAULTS.values())


def readme_matrix() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Fault matrix"):]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in {"fault", ""} and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = re.findall(r"`([^`]+::[^`]+)`", cells[2])
    return rows


def test_the_readme_prints_this_matrix():
    assert readme_matrix() == {fault: tests for fault, (_, tests) in FAULTS.items()}


def render_readme_table() -> str:
    """The README table, printed from FAULTS so the two are written once."""
    lines = ["| fault | what happens | tests |", "|---|---|---|"]
    for fault, (claim, tests) in FAULTS.items():
        lines.append(f"| {fault} | {claim} | " + "<br>".join(f"`{t}`" for t in tests) + " |")
    return "\n".join(lines)
