"""Short calls written as (speaker, text) lines, for the offline writer's stage tests."""

from __future__ import annotations

from techne_assets.core.document import Document
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.writing.base import WritingContext
from techne_assets.core.writing.offline import OfflineWriter
from techne_assets.core.writing.offline.analysis import Analysis, analyze
from techne_assets.core.writing.offline.roles import assign_roles


def transcript_of(
    lines: list[tuple[str | None, str]], step: float = 15.0, language: str | None = "pt-BR"
) -> Transcript:
    return Transcript(
        language=language,
        segments=[
            Segment(start=step * i, end=step * i + step - 2, speaker=speaker, text=text)
            for i, (speaker, text) in enumerate(lines)
        ],
    )


def analysis_of(lines: list[tuple[str | None, str]], language: str | None = "pt-BR") -> Analysis:
    analysis = analyze(transcript_of(lines, language=language))
    assign_roles(analysis)
    return analysis


def role_of(text: str, speaker: str = "Ana", language: str | None = "pt-BR") -> str:
    (sentence,) = analysis_of([(speaker, text)], language=language).sentences
    return sentence.role


def document_of(
    lines: list[tuple[str | None, str]], step: float = 15.0, language: str | None = "pt-BR"
) -> Document:
    transcript = transcript_of(lines, step=step, language=language)
    return OfflineWriter().write(transcript, WritingContext(source_name="teste.mp4")).document
