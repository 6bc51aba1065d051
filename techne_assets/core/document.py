"""The document model (the format in PRODUCT.md) and its Markdown rendering."""

from __future__ import annotations

from pydantic import BaseModel, Field

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


class Topic(BaseModel):
    title: str
    time_range: TimeRange
    description: str
    key_points: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)


class Step(BaseModel):
    text: str
    at: float | None = Field(default=None, description="seconds into the video where the step is shown")
    screenshot: str | None = Field(
        default=None, description="file name of the real frame at `at`, relative to the document"
    )


class Procedure(BaseModel):
    title: str
    time_range: TimeRange
    objective: str
    prerequisites: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)


class Problem(BaseModel):
    title: str
    time_range: TimeRange | None = None
    symptoms: list[str] = Field(default_factory=list)
    root_cause: str = ""
    solution: list[str] = Field(default_factory=list)
    prevention: list[str] = Field(default_factory=list)


class QuestionAnswer(BaseModel):
    question: str
    answer: str
    at: float | None = None
    asked_by: str | None = None
    answered_by: str | None = None


class ActionItem(BaseModel):
    text: str
    owner: str | None = None
    at: float | None = None


class Reference(BaseModel):
    text: str
    url: str | None = None
    at: float | None = None


class GlossaryTerm(BaseModel):
    term: str
    definition: str


class DocumentHeader(BaseModel):
    source_name: str = Field(description="the video's original file name or key")
    call_date: str | None = Field(default=None, description="ISO date of the call, when known")
    duration_seconds: float | None = None
    participants: list[str] = Field(default_factory=list)
    writer: str = Field(description="which writer produced the document, e.g. 'offline' or a model id")
    written_offline: bool = False
    video_url: str | None = Field(
        default=None, description="where the video can be opened; time links append #t=SECONDS"
    )


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
