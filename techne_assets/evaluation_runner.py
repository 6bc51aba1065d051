"""Runs writers over evaluation sets and measures their documents (`techne eval`).

A set is a folder of transcripts (`.vtt`, `.srt` or Transcribe `.json`), each with a
`<name>.gold.json` beside it; `core/evaluation.py` defines that file and the metrics. Two sets
ship with the repository: `gold`, the evaluation set, and `dev`, the hand-written development
calls the offline writer's rules are developed on (so the gold set measures calls the rules
were never tuned on).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from techne_assets.core.captions import load_transcript
from techne_assets.core.document import render_markdown
from techne_assets.core.errors import InputError, ProcessingFailed
from techne_assets.core.evaluation import Embedder, EvaluationRow, GoldCall, evaluate_document
from techne_assets.core.transcript import Transcript
from techne_assets.core.writing.base import Writer, WritingContext
from techne_assets.core.writing.offline import OfflineWriter

GOLD_SUFFIX = ".gold.json"
TRANSCRIPT_SUFFIXES = (".vtt", ".srt", ".json")

WriterChoice = Literal["offline", "bedrock", "all"]
SetChoice = Literal["gold", "dev", "all"]
# The sets `techne eval` knows by name, relative to the repository root (the working folder).
EVALUATION_SETS: dict[str, Path] = {"gold": Path("tests/data/gold"), "dev": Path("tests/data/dev")}


class GoldCase(BaseModel):
    name: str
    transcript_path: Path
    gold: GoldCall


def load_gold_set(gold_dir: Path) -> list[GoldCase]:
    """Every `<name>.gold.json` in the folder with its transcript, by name."""
    if not gold_dir.is_dir():
        raise InputError(str(gold_dir), "not a folder of gold calls")
    cases: list[GoldCase] = []
    for gold_path in sorted(gold_dir.glob(f"*{GOLD_SUFFIX}")):
        name = gold_path.name.removesuffix(GOLD_SUFFIX)
        transcripts = [gold_dir / f"{name}{suffix}" for suffix in TRANSCRIPT_SUFFIXES]
        transcript_path = next((p for p in transcripts if p.is_file()), None)
        if transcript_path is None:
            raise InputError(
                str(gold_path),
                f"no transcript beside it ({', '.join(p.name for p in transcripts)})",
            )
        try:
            gold = GoldCall.model_validate_json(gold_path.read_bytes())
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InputError(str(gold_path), f"{where}: {first['msg']}") from None
        cases.append(GoldCase(name=name, transcript_path=transcript_path, gold=gold))
    if not cases:
        raise InputError(str(gold_dir), f"no *{GOLD_SUFFIX} files")
    return cases


def media_duration(transcript: Transcript) -> float:
    """The recording's length: the transcript's own when it has one, else the end of speech."""
    return transcript.duration or transcript.spoken_end


def evaluate(
    gold_dir: Path, writers: list[Writer], *, embed: Embedder | None = None
) -> list[EvaluationRow]:
    """One row per (writer, gold call), writers in the given order."""
    cases = load_gold_set(gold_dir)
    transcripts = {case.name: load_transcript(case.transcript_path) for case in cases}
    rows: list[EvaluationRow] = []
    for writer in writers:
        for case in cases:
            transcript = transcripts[case.name]
            duration = media_duration(transcript)
            context = WritingContext(source_name=case.transcript_path.name, media_duration=duration)
            started = time.perf_counter()
            draft = writer.write(transcript, context)
            seconds = time.perf_counter() - started
            markdown = render_markdown(draft.document, transcript)
            rows.append(
                evaluate_document(
                    case.name,
                    markdown,
                    transcript,
                    case.gold,
                    draft,
                    media_duration=duration,
                    embed=embed,
                    seconds=seconds,
                )
            )
    return rows


def evaluation_sets(choice: SetChoice) -> dict[str, Path]:
    """The named sets to evaluate, in a stable order (gold first)."""
    return dict(EVALUATION_SETS) if choice == "all" else {choice: EVALUATION_SETS[choice]}


def evaluate_sets(
    sets: dict[str, Path], writers: list[Writer], *, embed: Embedder | None = None
) -> dict[str, list[EvaluationRow]]:
    """The rows of every set, by set name; a missing or empty set is an `InputError`."""
    return {name: evaluate(folder, writers, embed=embed) for name, folder in sets.items()}


def aws_credentials_available() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


def bedrock_writer() -> Writer:
    """The staged model writer on the configured Bedrock model (circuit breaker and quota included)."""
    from botocore.exceptions import BotoCoreError

    from techne_assets.defs.resources import build_writer
    from techne_assets.settings import get_settings

    try:
        # The evaluation pays for every call: replies cached by earlier runs are not reused.
        return build_writer(get_settings().model_copy(update={"writer": "bedrock"}), reuse_replies=False)
    except BotoCoreError as error:
        # A missing region or profile is a setup problem: one line, not a traceback.
        raise ProcessingFailed(f"cannot create the Bedrock client: {error}") from None


def select_writers(choice: WriterChoice) -> tuple[list[Writer], str | None]:
    """The writers to evaluate, and a note when the Bedrock writer was left out.

    `all` adds Bedrock only when AWS credentials are found; `bedrock` asks for it regardless,
    so a missing credential fails loudly at the first call.
    """
    if choice == "offline":
        return [OfflineWriter()], None
    if choice == "bedrock":
        return [bedrock_writer()], None
    if aws_credentials_available():
        return [OfflineWriter(), bedrock_writer()], None
    return [
        OfflineWriter()
    ], "no AWS credentials found: Bedrock writer skipped (use --writer bedrock to force it)"


def load_embedder(model: str) -> Embedder:
    """A sentence-transformers model (a local folder or a cached name) as an `Embedder`."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise InputError(
            model, "embedding similarity needs the 'eval' extra (sentence-transformers)"
        ) from None
    encoder = SentenceTransformer(model)
    return lambda texts: encoder.encode(texts, normalize_embeddings=True).tolist()
