"""The document model (the format in PRODUCT.md) and its Markdown rendering."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from techne_assets.core.text_rules import escape_markdown
from techne_assets.core.transcript import Transcript, format_timestamp

TITLE = "Documento de Treinamento e Troubleshooting"

# One source of truth for the section headings, in the order the format prescribes.
SECTION_HEADINGS: tuple[str, ...] = (
    "## 1. Sumário Executivo",
    "## 2. Tópicos Principais Discutidos",
    "## 3. Procedimentos e Instruções",
    "## 4. Troubleshooting",
    "## 5. Perguntas e Respostas",
    "## 6. Action Items e Próximos Passos",
    "## 7. Referências e Links",
    "## 8. Glossário",
    "## Apêndice A: Transcrição Completa",
)


class TimeRange(BaseModel):
    start: float = Field(ge=0)
    end: float = Field(ge=0)


def _evidence_field():
    return Field(
        default_factory=list,
        description="ids of the transcript segments the item rests on (`segment_id`, e.g. 's0412')",
    )


class Topic(BaseModel):
    title: str
    time_range: TimeRange
    description: str
    key_points: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)
    evidence: list[str] = _evidence_field()
    key_frame: str | None = Field(
        default=None, description="file name of the topic's most distinct real frame, relative to the document"
    )
    key_frame_at: float | None = Field(default=None, description="seconds into the video of `key_frame`")


class Step(BaseModel):
    text: str
    at: float | None = Field(
        default=None, description="seconds into the video where the step is shown"
    )
    screenshot: str | None = Field(
        default=None, description="file name of the real frame at `at`, relative to the document"
    )
    expected_result: str | None = Field(default=None, description="what the step should show, when said")
    caution: str | None = Field(
        default=None, description="visible warning callout, e.g. for a destructive command inside the step"
    )
    note: str | None = Field(
        default=None, description="what the writer changed, e.g. an unsupported span replaced by the words said"
    )
    evidence: list[str] = _evidence_field()


class Procedure(BaseModel):
    title: str
    time_range: TimeRange
    objective: str
    prerequisites: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="warnings and negated instructions said about it: never steps"
    )
    evidence: list[str] = _evidence_field()


class Problem(BaseModel):
    title: str
    time_range: TimeRange | None = None
    symptoms: list[str] = Field(default_factory=list)
    root_cause: str = ""
    solution: list[str] = Field(default_factory=list)
    prevention: list[str] = Field(default_factory=list)
    evidence: list[str] = _evidence_field()


class QuestionAnswer(BaseModel):
    question: str
    answer: str
    at: float | None = None
    asked_by: str | None = None
    answered_by: str | None = None
    review: bool = Field(
        default=False,
        description="a 'Pergunta para revisão' written from what was taught (a lecture with no audience questions)",
    )
    evidence: list[str] = _evidence_field()


class ActionItem(BaseModel):
    text: str
    owner: str | None = None
    deadline: str | None = Field(default=None, description="prazo, as said ('até sexta', '2026-12-04')")
    at: float | None = None
    evidence: list[str] = _evidence_field()


class Reference(BaseModel):
    text: str
    url: str | None = None
    at: float | None = None
    evidence: list[str] = _evidence_field()


class GlossaryTerm(BaseModel):
    term: str
    definition: str
    evidence: list[str] = _evidence_field()


class DocumentHeader(BaseModel):
    source_name: str = Field(description="the video's original file name or key")
    call_date: str | None = Field(default=None, description="ISO date of the call, when known")
    duration_seconds: float | None = None
    participants: list[str] = Field(default_factory=list)
    writer: str = Field(
        description="which writer produced the document, e.g. 'offline' or a model id"
    )
    written_offline: bool = False
    video_url: str | None = Field(
        default=None, description="where the video can be opened; time links append #t=SECONDS"
    )
    call_date_source: Literal["recording", "file"] | None = Field(
        default=None,
        description="where call_date comes from: the container's creation_time, or the file's date",
    )
    language: str | None = Field(
        default=None, description="the call's language code; the header names it when it is not pt-BR"
    )
    audio_only: bool = Field(default=False, description="the recording has no video stream: no screenshots")


class Document(BaseModel):
    header: DocumentHeader
    executive_summary: list[str] = Field(default_factory=list, description="2-3 paragraphs")
    topics: list[Topic] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    troubleshooting: list[Problem] = Field(default_factory=list)
    questions: list[QuestionAnswer] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    glossary: list[GlossaryTerm] = Field(default_factory=list)


EMPTY_SECTION = "Nenhum item identificado nesta chamada."
OFFLINE_NOTICE = (
    "> Documento gerado pelo redator offline (regras determinísticas, sem modelo de linguagem)."
)


def _link_destination(url: str) -> str:
    # Angle brackets keep a destination with spaces or parentheses one link.
    return f"<{url}>" if any(c in url for c in " ()") else url


def _time_link(seconds: float, video_url: str | None) -> str:
    stamp = format_timestamp(seconds)
    if not video_url:
        return f"[{stamp}]"
    return f"[{stamp}]({_link_destination(f'{video_url}#t={int(seconds)}')})"


def _time_range(time_range: TimeRange, video_url: str | None) -> str:
    return f"**Trecho:** {_time_link(time_range.start, video_url)} – {_time_link(time_range.end, video_url)}"


def _bullets(label: str, items: list[str]) -> list[str]:
    if not items:
        return []
    return [f"**{label}:**", "", *(f"- {item}" for item in items), ""]


def _header(header: DocumentHeader) -> list[str]:
    duration = (
        format_timestamp(header.duration_seconds)
        if header.duration_seconds is not None
        else "não informada"
    )
    lines = [
        f"# {TITLE}",
        "",
        f"- **Data da chamada:** {header.call_date or 'não informada'}",
        f"- **Duração:** {duration}",
        f"- **Participantes:** {', '.join(header.participants) or 'não identificados'}",
        f"- **Fonte:** {header.source_name}",
        f"- **Redator:** {header.writer}",
    ]
    if header.video_url:
        lines.append(
            f"- **Vídeo:** [{escape_markdown(header.video_url)}]({_link_destination(header.video_url)})"
        )
    if header.written_offline:
        lines += ["", OFFLINE_NOTICE]
    return lines


def _summary(document: Document) -> list[str]:
    return [line for paragraph in document.executive_summary for line in (paragraph, "")]


def _topics(document: Document, video_url: str | None) -> list[str]:
    lines: list[str] = []
    for number, topic in enumerate(document.topics, 1):
        lines += [f"### 2.{number} {topic.title}", "", _time_range(topic.time_range, video_url), ""]
        if topic.description:
            lines += [topic.description, ""]
        lines += _bullets("Pontos-chave", topic.key_points)
        lines += _bullets("Decisões", topic.decisions)
    return lines


def _procedures(document: Document, video_url: str | None) -> list[str]:
    lines: list[str] = []
    for number, procedure in enumerate(document.procedures, 1):
        lines += [
            f"### 3.{number} {procedure.title}",
            "",
            _time_range(procedure.time_range, video_url),
            "",
        ]
        if procedure.objective:
            lines += [f"**Objetivo:** {procedure.objective}", ""]
        lines += _bullets("Pré-requisitos", procedure.prerequisites)
        if procedure.steps:
            lines += ["**Passos:**", ""]
            for index, step in enumerate(procedure.steps, 1):
                when = f" ({_time_link(step.at, video_url)})" if step.at is not None else ""
                lines.append(f"{index}. {step.text}{when}")
                if step.screenshot:
                    # Indented under the item, so the image belongs to its step.
                    indent = " " * len(f"{index}. ")
                    lines += ["", f"{indent}![Passo {index}]({step.screenshot})", ""]
            lines.append("")
    return lines


def _troubleshooting(document: Document, video_url: str | None) -> list[str]:
    lines: list[str] = []
    for number, problem in enumerate(document.troubleshooting, 1):
        lines += [f"### 4.{number} {problem.title}", ""]
        if problem.time_range:
            lines += [_time_range(problem.time_range, video_url), ""]
        lines += _bullets("Sintomas", problem.symptoms)
        if problem.root_cause:
            lines += [f"**Causa raiz:** {problem.root_cause}", ""]
        lines += _bullets("Solução", problem.solution)
        lines += _bullets("Prevenção", problem.prevention)
    return lines


def _questions(document: Document, video_url: str | None) -> list[str]:
    lines: list[str] = []
    for qa in document.questions:
        when = f" {_time_link(qa.at, video_url)}" if qa.at is not None else ""
        asked = f" ({qa.asked_by})" if qa.asked_by else ""
        answered = f" ({qa.answered_by})" if qa.answered_by else ""
        lines += [f"**P{when}{asked}:** {qa.question}", "", f"**R{answered}:** {qa.answer}", ""]
    return lines


def _action_items(document: Document, video_url: str | None) -> list[str]:
    lines: list[str] = []
    for item in document.action_items:
        owner = f" — **Responsável:** {item.owner}" if item.owner else ""
        when = f" ({_time_link(item.at, video_url)})" if item.at is not None else ""
        lines.append(f"- [ ] {item.text}{owner}{when}")
    return [*lines, ""] if lines else []


def _references(document: Document, video_url: str | None) -> list[str]:
    lines: list[str] = []
    for reference in document.references:
        link = (
            f": <{reference.url}>" if reference.url and reference.url not in reference.text else ""
        )
        when = f" ({_time_link(reference.at, video_url)})" if reference.at is not None else ""
        lines.append(f"- {reference.text}{link}{when}")
    return [*lines, ""] if lines else []


def _glossary(document: Document) -> list[str]:
    lines = [f"- **{term.term}:** {term.definition}" for term in document.glossary]
    return [*lines, ""] if lines else []


def _appendix(transcript: Transcript) -> list[str]:
    lines: list[str] = []
    for segment in transcript.segments:
        speaker = f" {segment.speaker}" if segment.speaker else ""
        lines += [
            f"**[{format_timestamp(segment.start)}]{speaker}:** {escape_markdown(' '.join(segment.text.split()))}",
            "",
        ]
    return lines


def render_sections(document: Document, transcript: Transcript) -> dict[str, str]:
    """Section heading → that section's Markdown (heading included), in the prescribed order."""
    video_url = document.header.video_url
    bodies = (
        _summary(document),
        _topics(document, video_url),
        _procedures(document, video_url),
        _troubleshooting(document, video_url),
        _questions(document, video_url),
        _action_items(document, video_url),
        _references(document, video_url),
        _glossary(document),
        _appendix(transcript),
    )
    return {
        heading: "\n".join([heading, "", *(body or [EMPTY_SECTION, ""])]).rstrip() + "\n"
        for heading, body in zip(SECTION_HEADINGS, bodies, strict=True)
    }


def render_markdown(document: Document, transcript: Transcript) -> str:
    """The whole document as Markdown, in the format of the product brief."""
    parts = [
        "\n".join(_header(document.header)) + "\n",
        *render_sections(document, transcript).values(),
    ]
    return "\n".join(parts)
