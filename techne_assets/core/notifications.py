"""The messages sent when a run completes, fails, or a quality check fails (pure: no sending here).

Subjects keep their emoji: SNS documents the Subject as "UTF-8 text with no line breaks or
control characters, and less than 100 characters long". Length is counted in UTF-16 code units
(what a Java-side "character" is), so an emoji outside the BMP never pushes a subject over.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

SUBJECT_MAX_LENGTH = 99
_ELLIPSIS = "…"


class NotificationStatus(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CHECK_FAILED = "CHECK_FAILED"


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _one_line(text: str) -> str:
    """Control characters (line breaks included) become spaces; runs of spaces collapse."""
    cleaned = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return " ".join(cleaned.split())


class Notification(BaseModel):
    subject: str = Field(description="one line, under 100 characters (the SNS limit)")
    body: str
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("subject")
    @classmethod
    def _fits_an_sns_subject(cls, subject: str) -> str:
        if _one_line(subject) != subject or not subject:
            raise ValueError("subject must be one non-empty line without control characters")
        if _utf16_length(subject) > SUBJECT_MAX_LENGTH:
            raise ValueError(f"subject longer than {SUBJECT_MAX_LENGTH} characters")
        return subject

    @field_validator("attributes")
    @classmethod
    def _values_not_empty(cls, attributes: dict[str, str]) -> dict[str, str]:
        empty = [name for name, value in attributes.items() if not value]
        if empty:
            raise ValueError(f"empty attribute values: {empty}")
        return attributes


def _subject(headline: str, file_name: str) -> str:
    """`<headline> - <file>`, with the file name shortened (never the headline) to fit."""
    name = _one_line(file_name)
    subject = f"{headline} - {name}"
    while _utf16_length(subject) > SUBJECT_MAX_LENGTH:
        name = name[:-1]
        subject = f"{headline} - {name.rstrip()}{_ELLIPSIS}"
    return subject


def format_usd(amount: float) -> str:
    return f"US$ {amount:.4f}"


def format_duration(seconds: float | None) -> str:
    """HH:MM:SS (hours past 24 keep counting); 'n/d' when unknown."""
    if seconds is None:
        return "n/d"
    total = round(seconds)
    return f"{total // 3600:02}:{total % 3600 // 60:02}:{total % 60:02}"


def _cost_attribute(cost_usd: float) -> str:
    return f"{cost_usd:.6f}"


def _lines(*pairs: tuple[str, str]) -> str:
    return "\n".join(f"{label}: {value}" for label, value in pairs)


def completed_notification(
    file_name: str,
    execution_id: str,
    document_url: str,
    cost_usd: float,
    duration_seconds: float | None,
    media_duration_seconds: float | None,
    run_url: str,
    writer_mode: str | None = None,
) -> Notification:
    headline = "✅ Video Processing Completed"
    body = (
        f"{headline}\n\n"
        f"O documento de treinamento de {_one_line(file_name)} está pronto.\n\n"
        + _lines(
            ("Arquivo", file_name),
            ("Documento", document_url),
            ("Custo", format_usd(cost_usd)),
            ("Duração do vídeo", format_duration(media_duration_seconds)),
            ("Tempo de processamento", format_duration(duration_seconds)),
            *_writer_mode_line(writer_mode),
            ("Execução", execution_id),
            ("Detalhes no Dagster", run_url),
        )
        + "\n"
    )
    return Notification(
        subject=_subject(headline, file_name),
        body=body,
        attributes={
            "execution_id": execution_id,
            "status": NotificationStatus.COMPLETED.value,
            "file_name": file_name,
            "cost_usd": _cost_attribute(cost_usd),
            **({"writer_mode": writer_mode} if writer_mode else {}),
        },
    )


def _writer_mode_line(writer_mode: str | None) -> list[tuple[str, str]]:
    """How the model was called: in a batch job (half price, hours) or on demand."""
    if writer_mode is None:
        return []
    return [("Modo do modelo", "lote (Bedrock batch)" if writer_mode == "batch" else "sob demanda")]


def failed_notification(
    file_name: str,
    execution_id: str,
    step_or_check: str,
    reason: str,
    run_url: str,
    cost_usd: float | None = None,
    writer_mode: str | None = None,
) -> Notification:
    """A failed run; `cost_usd`, when known, is what the run spent before failing."""
    headline = "❌ Video Processing Failed"
    details = [("Arquivo", file_name), ("Etapa", step_or_check), ("Motivo", reason)]
    if cost_usd is not None:
        details.append(("Custo até a falha", format_usd(cost_usd)))
    details += [*_writer_mode_line(writer_mode), ("Execução", execution_id), ("Detalhes no Dagster", run_url)]
    attributes = {
        "execution_id": execution_id,
        "status": NotificationStatus.FAILED.value,
        "file_name": file_name,
    }
    if cost_usd is not None:
        attributes["cost_usd"] = _cost_attribute(cost_usd)
    if writer_mode:
        attributes["writer_mode"] = writer_mode
    return Notification(
        subject=_subject(headline, file_name),
        body=(
            f"{headline}\n\nO processamento de {_one_line(file_name)} falhou.\n\n"
            f"{_lines(*details)}\n"
        ),
        attributes=attributes,
    )


def check_failed_notification(
    file_name: str,
    execution_id: str,
    check_name: str,
    asset: str,
    severity: str,
    description: str,
    run_url: str,
) -> Notification:
    """A failed asset check; `severity` is Dagster's WARN or ERROR."""
    emoji = {"WARN": "⚠️", "ERROR": "❌"}.get(severity.upper())
    if emoji is None:
        raise ValueError(f"unknown check severity {severity!r}: expected WARN or ERROR")
    headline = f"{emoji} Quality Check Failed"
    body = (
        f"{headline}\n\n"
        f"Uma verificação de qualidade de {_one_line(file_name)} não passou.\n\n"
        + _lines(
            ("Arquivo", file_name),
            ("Verificação", check_name),
            ("Asset", asset),
            ("Severidade", severity.upper()),
            ("Descrição", description),
            ("Execução", execution_id),
            ("Detalhes no Dagster", run_url),
        )
        + "\n"
    )
    return Notification(
        subject=_subject(headline, file_name),
        body=body,
        attributes={
            "execution_id": execution_id,
            "status": NotificationStatus.CHECK_FAILED.value,
            "file_name": file_name,
            "severity": severity.upper(),
        },
    )
