"""`techne`: process one video, print a transcript, record the demo, backfill, evaluate, check the setup."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from techne_assets.core.errors import InputError, ProcessingFailed


def _fail(message: str, code: int = 1) -> int:
    print(f"techne: error: {' '.join(message.split())}", file=sys.stderr)
    return code


def cmd_transcript(args: argparse.Namespace) -> int:
    from techne_assets.core.captions import load_transcript
    from techne_assets.settings import get_settings

    transcript = load_transcript(Path(args.file), max_bytes=get_settings().max_caption_bytes)
    json.dump(transcript.to_public_json(), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from techne_assets.adapters.demo import record_demo
    from techne_assets.settings import get_settings

    inbox = Path(args.inbox or get_settings().input_uri)
    if str(inbox).startswith("s3://"):
        return _fail(f"{inbox}: the demo is written to a local folder; pass --inbox DIR")
    video, captions = record_demo(inbox)
    print(video)
    print(captions)
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    from techne_assets.pipeline import process_video

    published = process_video(
        args.video,
        captions=Path(args.captions) if args.captions else None,
        output=args.out,
        verbose=args.verbose,
    )
    print(published.markdown_uri)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    import dagster as dg

    from techne_assets.backfill import submit_backfill
    from techne_assets.settings import get_settings

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            return _fail(f"--since {args.since}: not a date (expected YYYY-MM-DD)")
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    plan = submit_backfill(
        get_settings(), dg.DagsterInstance.get(), prefix=args.prefix, since=since, dry_run=args.dry_run,
        via=args.via,
    )
    if plan.fallback_reason:
        print(f"batch unavailable: {plan.fallback_reason}; backfilling on-demand instead")
    for skipped in plan.skipped:
        print(f"skipped {skipped.key}: {skipped.reason}")
    through = " through Bedrock batch" if plan.writer_mode == "batch" else ""
    if args.dry_run:
        for key in plan.partition_keys:
            print(key)
        print(f"{len(plan.partition_keys)} videos would be backfilled{through} (dry run: nothing submitted)")
    elif plan.backfill_id is None:
        print("no videos to backfill")
    else:
        print(f"backfill {plan.backfill_id} submitted{through}: {len(plan.partition_keys)} videos")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from techne_assets.core.evaluation import format_set_tables
    from techne_assets.evaluation_runner import (
        evaluate_sets,
        evaluation_sets,
        load_embedder,
        select_writers,
    )

    sets = {Path(args.dir).name: Path(args.dir)} if args.dir else evaluation_sets(args.set)
    writers, note = select_writers(args.writer)
    if note:
        print(f"techne: {note}", file=sys.stderr)
    embed = load_embedder(args.embedding_model) if args.embedding_model else None
    table = format_set_tables(evaluate_sets(sets, writers, embed=embed))
    print(table, end="")
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from techne_assets.adapters.doctor import diagnose
    from techne_assets.settings import get_settings

    settings = get_settings()
    print(f"profile: {settings.profile} (writer: {settings.writer}, transcriber: {settings.transcriber})")
    findings = diagnose(settings)
    for finding in findings:
        mark = ("ok " if finding.checked else "?? ") if finding.ok else ("!! " if finding.required else "-- ")
        print(f"{mark} {finding.name}: {finding.detail}")
        if not finding.ok and finding.fix:
            print(f"     fix: {finding.fix}")
    return 1 if any(not f.ok and f.required for f in findings) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="techne", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    process = sub.add_parser("process", help="materialize video → transcript → draft → document for one video")
    process.add_argument("video", help="a local video file or an s3://bucket/key URI")
    process.add_argument("--captions", help="caption file (.vtt, .srt, Transcribe .json) to use as transcript")
    process.add_argument("--out", help="output folder or s3:// URI (default: TECHNE_OUTPUT_URI)")
    process.add_argument("--verbose", action="store_true", help="show Dagster's step logs")
    process.set_defaults(handler=cmd_process)

    transcript = sub.add_parser("transcript", help="print the normalized transcript JSON of a caption file")
    transcript.add_argument("file")
    transcript.set_defaults(handler=cmd_transcript)

    demo = sub.add_parser("demo", help="record a short sample pt-BR training call into the inbox")
    demo.add_argument("--inbox", help="folder to write into (default: TECHNE_INPUT_URI)")
    demo.set_defaults(handler=cmd_demo)

    doctor = sub.add_parser("doctor", help="check programs, credentials, buckets, model access, table and topic")
    doctor.set_defaults(handler=cmd_doctor)

    backfill = sub.add_parser("backfill", help="register existing videos and submit one Dagster backfill")
    backfill.add_argument("--prefix", default="", help="only keys starting with this prefix")
    backfill.add_argument("--since", help="only videos modified on or after this date (YYYY-MM-DD)")
    backfill.add_argument("--dry-run", action="store_true", help="list what would be backfilled")
    backfill.add_argument(
        "--via", choices=["on-demand", "batch"], default="on-demand",
        help="how the drafts are written: on-demand Converse calls (default) or Bedrock batch jobs "
        "(half the price, outside the on-demand quota; falls back to on-demand, saying why, when "
        "batch is not configured)",
    )
    backfill.set_defaults(handler=cmd_backfill)

    evaluation = sub.add_parser("eval", help="write documents for the evaluation calls and print their quality metrics")
    evaluation.add_argument("dir", nargs="?", help="one folder of calls with .gold.json files (instead of --set)")
    evaluation.add_argument("--set", choices=["gold", "dev", "all"], default="all",
                            help="gold: tests/data/gold, dev: tests/data/dev, all: both (default)")
    evaluation.add_argument("--writer", choices=["offline", "bedrock", "all"], default="all",
                            help="all: offline, plus Bedrock when AWS credentials are found (default)")
    evaluation.add_argument("--out", help="also write the Markdown table to this file")
    evaluation.add_argument("--embedding-model", help="sentence-transformers model for embedding similarity (optional)")
    evaluation.set_defaults(handler=cmd_eval)
    return parser


def _prepare_dagster_home() -> None:
    """The instance lives in a project-local DAGSTER_HOME unless the environment names another;
    a new one gets the project's dagster.yaml (or at least telemetry off)."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        project_config = Path("dagster.yaml")
        config.write_text(
            project_config.read_text(encoding="utf-8")
            if project_config.is_file()
            else "telemetry:\n  enabled: false\n",
            encoding="utf-8",
        )


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _configure_logging() -> None:
    """One line per quota wait on stderr; nothing else from the libraries (tenacity's
    "Retrying…" lines included): the run's outcome is the CLI's own one line."""
    logging.getLogger("techne_assets").addHandler(logging.NullHandler())
    waits = logging.getLogger("techne_assets.quota_waits")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("techne: %(message)s"))
    waits.addHandler(handler)
    waits.setLevel(logging.WARNING)
    waits.propagate = False


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    # SIGTERM (docker stop, a supervisor) ends a run as Ctrl-C does: at once, tracked FAILED.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    _configure_logging()
    _prepare_dagster_home()
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except InputError as error:
        return _fail(error.one_line())
    except ProcessingFailed as error:
        return _fail(str(error))
    except ValidationError as error:
        problem = error.errors()[0]
        setting = "TECHNE_" + "_".join(str(part) for part in problem["loc"]).upper()
        return _fail(f"{setting}: {problem['msg']}")
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        # The reader went away (`| head -1`): nothing more to say, and nobody to say it to.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
