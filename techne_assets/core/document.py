"""The document model (the format in PRODUCT.md) and its Markdown rendering.

Every string a writer or a model put in the document is sanitized as it is rendered
(`core.sanitize`): a field can never add a heading, raw HTML, an image or a link the call did
not say, so the rendered document has exactly the title and the nine section headings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from techne_assets.core.language import is_pt_br
from techne_assets.core.sanitize import LinkPolicy, sanitize_inline, sanitize_path
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
AUDIO_ONLY_NOTICE = "> Gravação sem vídeo: o documento não tem capturas de tela."
REVIEW_QUESTIONS_LABEL = "**Perguntas para revisão**"
CALL_DATE_SOURCES = {"recording": "metadados da gravação", "file": "data do arquivo"}
# The paragraph that marks where an item's evidence goes in the HTML export (see `Rendering`).
EVIDENCE_MARK = "⟦evidência {}⟧"


@dataclass
class Rendering:
    """How one document is being rendered: its video link, which URLs may be links, and, for
    the HTML export, the evidence ids of each item, collected in the order their marks appear."""

    video_url: str | None
    links: LinkPolicy
    evidence: list[list[str]] | None = None

    def text(self, value: str) -> str:
        return sanitize_inline(value, self.links.allows)

    def mark(self, ids: list[str], indent: str = "") -> list[str]:
        """Lines marking an item's evidence, when evidence is collected and the item has some."""
        if self.evidence is None or not ids:
            return []
        self.evidence.append(list(ids))
        return [f"{indent}{EVIDENCE_MARK.format(len(self.evidence) - 1)}", ""]


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


def _bullets(label: str, items: list[str], r: Rendering) -> list[str]:
    if not items:
        return []
    return [f"**{label}:**", "", *(f"- {r.text(item)}" for item in items), ""]


def _header(header: DocumentHeader, r: Rendering) -> list[str]:
    duration = (
        format_timestamp(header.duration_seconds)
        if header.duration_seconds is not None
        else "não informada"
    )
    date = r.text(header.call_date) if header.call_date else "não informada"
    if header.call_date and header.call_date_source:
        date += f" ({CALL_DATE_SOURCES[header.call_date_source]})"
    participants = ", ".join(r.text(p) for p in header.participants)
    lines = [
        f"# {TITLE}",
        "",
        f"- **Data da chamada:** {date}",
        f"- **Duração:** {duration}",
        f"- **Participantes:** {participants or 'não identificados'}",
    ]
    if header.language and not is_pt_br(header.language):
        lines.append(f"- **Idioma da chamada:** {r.text(header.language)}")
    lines += [
        f"- **Fonte:** {r.text(header.source_name)}",
        f"- **Redator:** {r.text(header.writer)}",
    ]
    if header.video_url:
        lines.append(
            f"- **Vídeo:** [{escape_markdown(header.video_url)}]({_link_destination(header.video_url)})"
        )
    notices = [OFFLINE_NOTICE] if header.written_offline else []
    notices += [AUDIO_ONLY_NOTICE] if header.audio_only else []
    for notice in notices:
        lines += ["", notice]
    return lines


def _summary(document: Document, r: Rendering) -> list[str]:
    return [line for paragraph in document.executive_summary for line in (r.text(paragraph), "")]


def _topics(document: Document, r: Rendering) -> list[str]:
    lines: list[str] = []
    for number, topic in enumerate(document.topics, 1):
        lines += [f"### 2.{number} {r.text(topic.title)}", "", _time_range(topic.time_range, r.video_url), ""]
        frame = sanitize_path(topic.key_frame)
        if frame:
            when = f" em {format_timestamp(topic.key_frame_at)}" if topic.key_frame_at is not None else ""
            lines += [f"![Tela do tópico 2.{number}{when}]({frame})", ""]
        if topic.description:
            lines += [r.text(topic.description), ""]
        lines += _bullets("Pontos-chave", topic.key_points, r)
        lines += _bullets("Decisões", topic.decisions, r)
        lines += r.mark(topic.evidence)
    return lines


def _step(index: int, step: Step, r: Rendering) -> list[str]:
    when = f" ({_time_link(step.at, r.video_url)})" if step.at is not None else ""
    # Everything below the first line is indented under the item, so it belongs to its step.
    indent = " " * len(f"{index}. ")
    lines = [f"{index}. {r.text(step.text)}{when}"]
    screenshot = sanitize_path(step.screenshot)
    if screenshot:
        lines += ["", f"{indent}![Passo {index}]({screenshot})"]
    if step.expected_result:
        lines += ["", f"{indent}**Resultado esperado:** {r.text(step.expected_result)}"]
    if step.caution:
        lines += ["", f"{indent}> ⚠️ **Atenção:** {r.text(step.caution)}"]
    if step.note:
        lines += ["", f"{indent}*Nota:* {r.text(step.note)}"]
    marks = r.mark(step.evidence, indent)
    if len(lines) > 1 or marks:
        lines += ["", *marks]
    return lines


def _procedures(document: Document, r: Rendering) -> list[str]:
    lines: list[str] = []
    for number, procedure in enumerate(document.procedures, 1):
        lines += [
            f"### 3.{number} {r.text(procedure.title)}",
            "",
            _time_range(procedure.time_range, r.video_url),
            "",
        ]
        if procedure.objective:
            lines += [f"**Objetivo:** {r.text(procedure.objective)}", ""]
        lines += r.mark(procedure.evidence)
        lines += _bullets("Pré-requisitos", procedure.prerequisites, r)
        if procedure.warnings:
            lines += ["**Avisos:**", "", *(f"- ⚠️ {r.text(w)}" for w in procedure.warnings), ""]
        if procedure.steps:
            lines += ["**Passos:**", ""]
            for index, step in enumerate(procedure.steps, 1):
                lines += _step(index, step, r)
            lines.append("")
    return lines


def _troubleshooting(document: Document, r: Rendering) -> list[str]:
    lines: list[str] = []
    for number, problem in enumerate(document.troubleshooting, 1):
        lines += [f"### 4.{number} {r.text(problem.title)}", ""]
        if problem.time_range:
            lines += [_time_range(problem.time_range, r.video_url), ""]
        lines += _bullets("Sintomas", problem.symptoms, r)
        if problem.root_cause:
            lines += [f"**Causa raiz:** {r.text(problem.root_cause)}", ""]
        lines += _bullets("Solução", problem.solution, r)
        lines += _bullets("Prevenção", problem.prevention, r)
        lines += r.mark(problem.evidence)
    return lines


def _question(qa: QuestionAnswer, r: Rendering) -> list[str]:
    when = f" {_time_link(qa.at, r.video_url)}" if qa.at is not None else ""
    asked = f" ({r.text(qa.asked_by)})" if qa.asked_by else ""
    answered = f" ({r.text(qa.answered_by)})" if qa.answered_by else ""
    return [
        f"**P{when}{asked}:** {r.text(qa.question)}",
        "",
        f"**R{answered}:** {r.text(qa.answer)}",
        "",
        *r.mark(qa.evidence),
    ]


def _questions(document: Document, r: Rendering) -> list[str]:
    asked = [qa for qa in document.questions if not qa.review]
    review = [qa for qa in document.questions if qa.review]
    lines = [line for qa in asked for line in _question(qa, r)]
    if review:
        lines += [REVIEW_QUESTIONS_LABEL, "", *(line for qa in review for line in _question(qa, r))]
    return lines


def _list_item(text: str, ids: list[str], r: Rendering) -> list[str]:
    marks = r.mark(ids, "  ")
    return [text, "", *marks] if marks else [text]


def _action_items(document: Document, r: Rendering) -> list[str]:
    lines: list[str] = []
    for item in document.action_items:
        owner = f" — **Responsável:** {r.text(item.owner)}" if item.owner else ""
        deadline = f" — **Prazo:** {r.text(item.deadline)}" if item.deadline else ""
        when = f" ({_time_link(item.at, r.video_url)})" if item.at is not None else ""
        lines += _list_item(f"- [ ] {r.text(item.text)}{owner}{deadline}{when}", item.evidence, r)
    return [*lines, ""] if lines else []


def _references(document: Document, r: Rendering) -> list[str]:
    lines: list[str] = []
    for reference in document.references:
        link = ""
        if reference.url and reference.url not in reference.text:
            link = f": {r.text(reference.url)}"
        when = f" ({_time_link(reference.at, r.video_url)})" if reference.at is not None else ""
        lines += _list_item(f"- {r.text(reference.text)}{link}{when}", reference.evidence, r)
    return [*lines, ""] if lines else []


def _glossary(document: Document, r: Rendering) -> list[str]:
    lines: list[str] = []
    for term in document.glossary:
        lines += _list_item(f"- **{r.text(term.term)}:** {r.text(term.definition)}", term.evidence, r)
    return [*lines, ""] if lines else []


def _appendix(transcript: Transcript) -> list[str]:
    lines: list[str] = []
    for segment in transcript.segments:
        speaker = f" {sanitize_inline(segment.speaker)}" if segment.speaker else ""
        lines += [
            f"**[{format_timestamp(segment.start)}]{speaker}:** {escape_markdown(' '.join(segment.text.split()))}",
            "",
        ]
    return lines


def rendering_for(document: Document, transcript: Transcript, *, collect_evidence: bool = False) -> Rendering:
    """The rendering context of a document: links only for URLs the transcript says."""
    return Rendering(
        video_url=document.header.video_url,
        links=LinkPolicy(transcript.text),
        evidence=[] if collect_evidence else None,
    )


def render_sections(
    document: Document, transcript: Transcript, rendering: Rendering | None = None
) -> dict[str, str]:
    """Section heading → that section's Markdown (heading included), in the prescribed order."""
    r = rendering or rendering_for(document, transcript)
    bodies = (
        _summary(document, r),
        _topics(document, r),
        _procedures(document, r),
        _troubleshooting(document, r),
        _questions(document, r),
        _action_items(document, r),
        _references(document, r),
        _glossary(document, r),
        _appendix(transcript),
    )
    return {
        heading: "\n".join([heading, "", *(body or [EMPTY_SECTION, ""])]).rstrip() + "\n"
        for heading, body in zip(SECTION_HEADINGS, bodies, strict=True)
    }


def render_markdown(
    document: Document, transcript: Transcript, rendering: Rendering | None = None
) -> str:
    """The whole document as Markdown, in the format of the product brief.

    With a `rendering` that collects evidence (the HTML export), each item with evidence is
    followed by an `EVIDENCE_MARK` paragraph naming its entry in `rendering.evidence`.
    """
    r = rendering or rendering_for(document, transcript)
    parts = [
        "\n".join(_header(document.header, r)) + "\n",
        *render_sections(document, transcript, r).values(),
    ]
    return "\n".join(parts)
