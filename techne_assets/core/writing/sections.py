"""The written sections: what the section-group calls return, and the document they compose.

After the merge, the writing is split into section groups that run in parallel, each forced to
answer through its own tool:

- `summary_topics`: executive summary and topics (outline entries T…);
- `procedures`: procedures, their typed steps and warnings (outline entries P…);
- `troubleshooting`: problems (outline entries D…);
- `reference`: Q&A, action items, references and glossary (listed entries Q…, A…, R…, G…).

Every written item names the outline entry it covers (`outline_id`), so coverage is counted
without a model, and the review names items by the same ids (`item_ids`).
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

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
from techne_assets.core.writing.extraction import (
    EvidencedText,
    ExtractedActionItem,
    ExtractedProblem,
    ExtractedQuestion,
    ExtractedReference,
    ExtractedStep,
    ExtractedTerm,
    Spanned,
)

OUTLINE_ID = Field(description="o id do item do roteiro que este item cobre (ex.: T3)")
SOURCE = Field(
    default=None,
    description="id de uma nota de <extracoes> (ex.: N12.s3) que este item reaproveita; "
    "com ele, escreva só os campos que mudam",
)


def _only_required(*names: str):
    """A schema hook: of the fields, only `names` are required of the model; what an item
    reuses by id (sources.py) is filled in before validation, which still requires it."""

    def hook(schema: dict) -> None:
        schema["required"] = [name for name in schema.get("required", []) if name in names]

    return hook


class Covers(BaseModel):
    outline_id: str = OUTLINE_ID


class WrittenText(EvidencedText):
    model_config = ConfigDict(json_schema_extra=_only_required())

    source: str | None = SOURCE


# A topic, procedure or problem gets its title, time range and evidence from its outline entry
# unless the model writes them.
class WrittenTopic(Spanned, Covers):
    model_config = ConfigDict(json_schema_extra=_only_required("outline_id", "description"))

    title: str
    description: str
    key_points: list[WrittenText] = Field(default_factory=list)
    decisions: list[WrittenText] = Field(default_factory=list)


class WrittenStep(ExtractedStep):
    model_config = ConfigDict(json_schema_extra=_only_required())

    source: str | None = SOURCE
    # Set by the writer after the model answers, never asked of the model.
    caution: SkipJsonSchema[str | None] = None
    note: SkipJsonSchema[str | None] = None


class WrittenProcedure(Spanned, Covers):
    model_config = ConfigDict(json_schema_extra=_only_required("outline_id", "objective"))

    title: str
    objective: str
    prerequisites: list[str] = Field(default_factory=list)
    steps: list[WrittenStep] = Field(default_factory=list)
    warnings: list[WrittenText] = Field(
        default_factory=list, description="avisos e proibições (\"nunca rode…\"): nunca passos"
    )


class WrittenProblem(ExtractedProblem, Covers):
    model_config = ConfigDict(json_schema_extra=_only_required("outline_id"))

    source: str | None = SOURCE


# A listed entry (Q…, A…, R…, G…) that is kept as extracted is answered by its outline_id alone.
class WrittenQuestion(ExtractedQuestion, Covers):
    model_config = ConfigDict(json_schema_extra=_only_required("outline_id"))

    review: bool = Field(
        default=False,
        description="true para uma pergunta para revisão escrita a partir do que foi ensinado",
    )


class WrittenActionItem(ExtractedActionItem, Covers):
    model_config = ConfigDict(json_schema_extra=_only_required("outline_id"))


class WrittenReference(ExtractedReference, Covers):
    model_config = ConfigDict(json_schema_extra=_only_required("outline_id"))


class WrittenTerm(ExtractedTerm, Covers):
    model_config = ConfigDict(json_schema_extra=_only_required("outline_id"))


class DroppedEntry(BaseModel):
    outline_id: str
    reason: str = Field(description="por que o item do roteiro não entrou no documento")


class _Group(BaseModel):
    dropped: list[DroppedEntry] = Field(
        default_factory=list, description="itens do roteiro deixados de fora, cada um com o motivo"
    )


class SummaryAndTopics(_Group):
    executive_summary: list[str] = Field(description="2 a 3 parágrafos sobre o tema principal")
    topics: list[WrittenTopic] = Field(default_factory=list)


class ProceduresSection(_Group):
    procedures: list[WrittenProcedure] = Field(default_factory=list)


class TroubleshootingSection(_Group):
    troubleshooting: list[WrittenProblem] = Field(default_factory=list)


class ReferenceSections(_Group):
    questions: list[WrittenQuestion] = Field(default_factory=list)
    action_items: list[WrittenActionItem] = Field(default_factory=list)
    references: list[WrittenReference] = Field(default_factory=list)
    glossary: list[WrittenTerm] = Field(default_factory=list)


class WrittenSections(BaseModel):
    """All section groups' answers together: sections 1-8 of the document, with outline ids."""

    executive_summary: list[str] = Field(default_factory=list)
    topics: list[WrittenTopic] = Field(default_factory=list)
    procedures: list[WrittenProcedure] = Field(default_factory=list)
    troubleshooting: list[WrittenProblem] = Field(default_factory=list)
    questions: list[WrittenQuestion] = Field(default_factory=list)
    action_items: list[WrittenActionItem] = Field(default_factory=list)
    references: list[WrittenReference] = Field(default_factory=list)
    glossary: list[WrittenTerm] = Field(default_factory=list)
    dropped: list[DroppedEntry] = Field(default_factory=list)

    @classmethod
    def joined(cls, groups: list[BaseModel]) -> WrittenSections:
        """The groups' answers in section order (a group split in parts keeps its parts' order)."""
        merged = cls()
        for group in groups:
            for name in type(group).model_fields:
                getattr(merged, name).extend(getattr(group, name))
        for name in ("topics", "procedures", "troubleshooting"):
            getattr(merged, name).sort(key=_call_order)
        return merged

    def item_ids(self) -> Iterator[tuple[str, str, BaseModel]]:
        """(id, section, item) for every item the review may name: outline ids, "P2.3" for the
        third step of P2; a second item on the same outline id gets a suffix ("T3b")."""
        seen: set[str] = set()
        for section in ("topics", "procedures", "troubleshooting", "questions",
                        "action_items", "references", "glossary"):
            for item in getattr(self, section):
                item_id = item.outline_id or section[:1].upper()
                for suffix in ("", *"bcdefghijklmnopqrstuvwxyz"):
                    if item_id + suffix not in seen:
                        item_id += suffix
                        break
                seen.add(item_id)
                yield item_id, section, item
                if isinstance(item, WrittenProcedure):
                    for number, step in enumerate(item.steps, 1):
                        yield f"{item_id}.{number}", "steps", step

    def covered_ids(self) -> set[str]:
        return {
            item.outline_id
            for section in ("topics", "procedures", "troubleshooting", "questions",
                            "action_items", "references", "glossary")
            for item in getattr(self, section)
        }

    def to_document(self, header: DocumentHeader) -> Document:
        def joined_evidence(item: BaseModel, *parts: list[EvidencedText]) -> list[str]:
            ids = [*item.evidence, *(sid for part in parts for entry in part for sid in entry.evidence)]
            return list(dict.fromkeys(ids))

        return Document(
            header=header,
            executive_summary=self.executive_summary,
            topics=[
                Topic(
                    title=t.title,
                    time_range=TimeRange(start=t.start, end=t.end),
                    description=t.description,
                    key_points=[k.text for k in t.key_points],
                    decisions=[d.text for d in t.decisions],
                    evidence=joined_evidence(t, t.key_points, t.decisions),
                )
                for t in self.topics
            ],
            procedures=[
                Procedure(
                    title=p.title,
                    time_range=TimeRange(start=p.start, end=p.end),
                    objective=p.objective,
                    prerequisites=p.prerequisites,
                    steps=[
                        Step(text=s.text, at=s.at, expected_result=s.expected_result,
                             caution=s.caution, note=s.note, evidence=s.evidence)
                        for s in p.steps
                    ],
                    warnings=[w.text for w in p.warnings],
                    evidence=joined_evidence(p, p.warnings),
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
                    evidence=p.evidence,
                )
                for p in self.troubleshooting
            ],
            questions=[
                QuestionAnswer(question=q.question, answer=q.answer, at=q.at, asked_by=q.asked_by,
                               answered_by=q.answered_by, review=q.review, evidence=q.evidence)
                for q in self.questions
            ],
            action_items=[
                ActionItem(text=a.text, owner=a.owner, deadline=a.deadline, at=a.at,
                           evidence=a.evidence)
                for a in self.action_items
            ],
            references=[
                Reference(text=r.text, url=r.url, at=r.at, evidence=r.evidence)
                for r in self.references
            ],
            glossary=[
                GlossaryTerm(term=g.term, definition=g.definition, evidence=g.evidence)
                for g in self.glossary
            ],
        )


def _call_order(item: BaseModel) -> tuple[float, float]:
    start = getattr(item, "start", None)
    start = start if start is not None else float("inf")
    end = getattr(item, "end", None)
    return start, end if end is not None else start


# The section groups, in document order: (group name, answer model, tool name, outline kinds).
SECTION_GROUPS: tuple[tuple[str, type[_Group], str, tuple[str, ...]], ...] = (
    ("summary_topics", SummaryAndTopics, "registrar_sumario_topicos", ("topics",)),
    ("procedures", ProceduresSection, "registrar_procedimentos", ("procedures",)),
    ("troubleshooting", TroubleshootingSection, "registrar_troubleshooting", ("problems",)),
    ("reference", ReferenceSections, "registrar_referencias",
     ("questions", "action_items", "references", "terms")),
)
