"""The structured outputs of the staged writer's model calls, as pydantic models.

Each model's JSON schema is the input schema of the tool the model is forced to call, and the
tool's input is validated against the same model. Times are exchanged as `HH:MM:SS` strings,
the way the transcript shows them (a model copies a timestamp more reliably than it converts
one), and held as seconds once validated.

- `ChunkExtraction`: what one stretch of the call says, technically (stage "extract");
- `Outline`: the deduplicated, ordered plan of the document (stage "merge");
- `WrittenDocument`: the document's sections (stages "write" and "review").
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from techne_assets.core.document import (
    ActionItem,
    Document,
    DocumentHeader,
    GlossaryTerm,
    Problem,
    Procedure,
    QuestionAnswer,
    Reference,
    Step,
    TimeRange,
    Topic,
)
from techne_assets.core.transcript import format_timestamp

_TIMESTAMP_RE = re.compile(r"^\s*(?:(\d+):)?([0-5]?\d):([0-5]\d)(?:[.,]\d+)?\s*$")


def parse_timestamp(value: Any) -> Any:
    """`HH:MM:SS` (or `MM:SS`) → seconds; other values are left for pydantic to accept or reject."""
    if isinstance(value, str):
        match = _TIMESTAMP_RE.match(value)
        if not match:
            raise ValueError(
                f"marca de tempo inválida {value!r}: use HH:MM:SS, como na transcrição"
            )
        hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
        return float(hours * 3600 + minutes * 60 + seconds)
    return value


Timestamp = Annotated[
    float,
    BeforeValidator(parse_timestamp),
    Field(ge=0),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{2,}:[0-5]\d:[0-5]\d$",
            "description": "HH:MM:SS, como na transcrição",
        }
    ),
]


class _Spanned(BaseModel):
    """Something that happens over a stretch of the call."""

    start: Timestamp = Field(description="início do trecho (HH:MM:SS)")
    end: Timestamp = Field(description="fim do trecho (HH:MM:SS)")

    @model_validator(mode="after")
    def _end_not_before_start(self):
        if self.end < self.start:
            raise ValueError(
                f"fim ({format_timestamp(self.end)}) antes do início ({format_timestamp(self.start)})"
            )
        return self


# ---- stage "extract": one chunk ------------------------------------------------------------


class ExtractedTopic(_Spanned):
    title: str
    summary: str = Field(description="do que se tratou, em 1 a 3 frases")
    key_points: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(
        default_factory=list, description="decisões tomadas, como foram ditas"
    )


class ExtractedProblem(BaseModel):
    """A diagnosis: what went wrong, why, and how it was (or will be) solved."""

    title: str
    start: Timestamp | None = None
    end: Timestamp | None = None
    symptoms: list[str] = Field(default_factory=list)
    root_cause: str = Field(default="", description="causa raiz, somente se foi dita")
    solution: list[str] = Field(default_factory=list)
    prevention: list[str] = Field(default_factory=list)


class ExtractedStep(BaseModel):
    text: str = Field(description="o passo, no imperativo; uma ação na tela descrita em palavras")
    at: Timestamp | None = Field(
        default=None, description="quando o passo é executado ou mostrado na tela (HH:MM:SS)"
    )


class ExtractedProcedure(_Spanned):
    title: str
    objective: str = ""
    prerequisites: list[str] = Field(default_factory=list)
    steps: list[ExtractedStep] = Field(default_factory=list)


class SpokenCommand(BaseModel):
    command: str = Field(description="o comando exatamente como foi dito ou mostrado")
    purpose: str = ""
    at: Timestamp | None = None


class Configuration(BaseModel):
    key: str = Field(description="chave, parâmetro ou caminho, exatamente como foi dito")
    value: str = Field(default="", description="valor, se foi dito")
    context: str = ""
    at: Timestamp | None = None


class Risk(BaseModel):
    description: str
    mitigation: str = ""
    at: Timestamp | None = None


class ExtractedQuestion(BaseModel):
    question: str
    answer: str
    asked_by: str | None = None
    answered_by: str | None = None
    at: Timestamp | None = None


class ExtractedActionItem(BaseModel):
    text: str
    owner: str | None = Field(default=None, description="responsável, somente se foi dito")
    at: Timestamp | None = None


class ExtractedReference(BaseModel):
    text: str = Field(description="documento, ticket, página ou link citado")
    url: str | None = Field(default=None, description="somente uma URL dita na chamada")
    at: Timestamp | None = None


class ExtractedTerm(BaseModel):
    term: str
    definition: str = Field(description="a definição como foi dita na chamada")


class ChunkExtraction(BaseModel):
    """Everything technical one stretch of the call contains."""

    topics: list[ExtractedTopic] = Field(default_factory=list)
    problems: list[ExtractedProblem] = Field(
        default_factory=list, description="diagnósticos: sintomas, causas raiz, soluções"
    )
    procedures: list[ExtractedProcedure] = Field(default_factory=list)
    commands: list[SpokenCommand] = Field(default_factory=list)
    configurations: list[Configuration] = Field(default_factory=list)
    risks: list[Risk] = Field(default_factory=list)
    questions: list[ExtractedQuestion] = Field(default_factory=list)
    action_items: list[ExtractedActionItem] = Field(default_factory=list)
    references: list[ExtractedReference] = Field(default_factory=list)
    terms: list[ExtractedTerm] = Field(default_factory=list)

    def joined(self, other: ChunkExtraction) -> ChunkExtraction:
        """This extraction followed by another one's items (for a chunk extracted in two halves)."""
        return ChunkExtraction(
            **{
                name: [*getattr(self, name), *getattr(other, name)]
                for name in type(self).model_fields
            }
        )


# ---- stage "merge": the outline -----------------------------------------------------------


class OutlineEntry(_Spanned):
    title: str
    notes: list[str] = Field(default_factory=list, description="o que a seção deve cobrir")


class Outline(BaseModel):
    """The plan of the document: deduplicated items in the order of the call."""

    main_theme: str = Field(description="o tema principal da chamada, em 1 a 2 frases")
    topics: list[OutlineEntry] = Field(default_factory=list)
    procedures: list[OutlineEntry] = Field(default_factory=list)
    problems: list[OutlineEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _in_call_order(self):
        # Order is a rule of the format, so it is enforced here rather than trusted to the model.
        for name in ("topics", "procedures", "problems"):
            setattr(
                self, name, sorted(getattr(self, name), key=lambda entry: (entry.start, entry.end))
            )
        return self


# ---- stages "write" and "review": the document's sections --------------------------------


class WrittenTopic(_Spanned):
    title: str
    description: str
    key_points: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)


class WrittenProcedure(_Spanned):
    title: str
    objective: str
    prerequisites: list[str] = Field(default_factory=list)
    steps: list[ExtractedStep] = Field(default_factory=list)


class WrittenDocument(BaseModel):
    """Sections 1-8 of the document; the header and the appendix are not the model's to write."""

    executive_summary: list[str] = Field(description="2 a 3 parágrafos sobre o tema principal")
    topics: list[WrittenTopic] = Field(default_factory=list)
    procedures: list[WrittenProcedure] = Field(default_factory=list)
    troubleshooting: list[ExtractedProblem] = Field(default_factory=list)
    questions: list[ExtractedQuestion] = Field(default_factory=list)
    action_items: list[ExtractedActionItem] = Field(default_factory=list)
    references: list[ExtractedReference] = Field(default_factory=list)
    glossary: list[ExtractedTerm] = Field(default_factory=list)

    def to_document(self, header: DocumentHeader) -> Document:
        return Document(
            header=header,
            executive_summary=self.executive_summary,
            topics=[
                Topic(
                    title=t.title,
                    time_range=TimeRange(start=t.start, end=t.end),
                    description=t.description,
                    key_points=t.key_points,
                    decisions=t.decisions,
                )
                for t in self.topics
            ],
            procedures=[
                Procedure(
                    title=p.title,
                    time_range=TimeRange(start=p.start, end=p.end),
                    objective=p.objective,
                    prerequisites=p.prerequisites,
                    steps=[Step(text=s.text, at=s.at) for s in p.steps],
                )
                for p in self.procedures
            ],
            troubleshooting=[
                Problem(
                    title=p.title,
                    time_range=TimeRange(start=p.start, end=p.end if p.end is not None else p.start)
                    if p.start is not None
                    else None,
                    symptoms=p.symptoms,
                    root_cause=p.root_cause,
                    solution=p.solution,
                    prevention=p.prevention,
                )
                for p in self.troubleshooting
            ],
            questions=[
                QuestionAnswer(
                    question=q.question,
                    answer=q.answer,
                    at=q.at,
                    asked_by=q.asked_by,
                    answered_by=q.answered_by,
                )
                for q in self.questions
            ],
            action_items=[
                ActionItem(text=a.text, owner=a.owner, at=a.at) for a in self.action_items
            ],
            references=[Reference(text=r.text, url=r.url, at=r.at) for r in self.references],
            glossary=[GlossaryTerm(term=g.term, definition=g.definition) for g in self.glossary],
        )

    @classmethod
    def from_document(cls, document: Document) -> WrittenDocument:
        """The sections of a document in this shape (for the review stage's input)."""
        return cls(
            executive_summary=document.executive_summary,
            topics=[
                WrittenTopic(
                    title=t.title,
                    start=t.time_range.start,
                    end=t.time_range.end,
                    description=t.description,
                    key_points=t.key_points,
                    decisions=t.decisions,
                )
                for t in document.topics
            ],
            procedures=[
                WrittenProcedure(
                    title=p.title,
                    start=p.time_range.start,
                    end=p.time_range.end,
                    objective=p.objective,
                    prerequisites=p.prerequisites,
                    steps=[ExtractedStep(text=s.text, at=s.at) for s in p.steps],
                )
                for p in document.procedures
            ],
            troubleshooting=[
                ExtractedProblem(
                    title=p.title,
                    start=p.time_range.start if p.time_range else None,
                    end=p.time_range.end if p.time_range else None,
                    symptoms=p.symptoms,
                    root_cause=p.root_cause,
                    solution=p.solution,
                    prevention=p.prevention,
                )
                for p in document.troubleshooting
            ],
            questions=[
                ExtractedQuestion(
                    question=q.question,
                    answer=q.answer,
                    asked_by=q.asked_by,
                    answered_by=q.answered_by,
                    at=q.at,
                )
                for q in document.questions
            ],
            action_items=[
                ExtractedActionItem(text=a.text, owner=a.owner, at=a.at)
                for a in document.action_items
            ],
            references=[
                ExtractedReference(text=r.text, url=r.url, at=r.at) for r in document.references
            ],
            glossary=[
                ExtractedTerm(term=g.term, definition=g.definition) for g in document.glossary
            ],
        )
