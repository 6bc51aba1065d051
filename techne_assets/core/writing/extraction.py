"""The structured outputs of the extraction and merge calls, as pydantic models.

Each model's JSON schema is the input schema of the tool the model is forced to call, and the
tool's input is validated against the same model. Times are exchanged as `HH:MM:SS` strings,
the way the transcript shows them (a model copies a timestamp more reliably than it converts
one), and held as seconds once validated.

Every item names the transcript segments it rests on (`evidence`, ids like "s0412" from the
transcript block). Validation here is lenient on evidence on purpose: an item whose ids are
missing or wrong is not a reason to repeat a whole call, it is dropped and listed by the
evidence rule (core/evidence.py), while the schema the model sees asks for at least one id.

- `ChunkExtraction`: what one stretch of the call says, technically (stage "extract");
- `Outline`: the deduplicated, ordered plan of the document (stage "merge").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from techne_assets.core.transcript import format_timestamp

_TIMESTAMP_RE = re.compile(r"^\s*(?:(\d+):)?([0-5]?\d):([0-5]\d)(?:[.,]\d+)?\s*$")
SEGMENT_ID_PATTERN = r"^s\d{4,}$"


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
        }
    ),
]

Evidence = Annotated[
    list[str],
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "string", "pattern": SEGMENT_ID_PATTERN},
            "minItems": 1,
            "description": "ids dos segmentos em que o item se apoia",
        }
    ),
]


def tool_input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema as a tool's input schema, as short as it can be while it says the
    same: every request pays for it (and admission reserves it). Dropped: the titles pydantic
    derives from field names, the models' docstrings and the defaults (a field that is not
    required may be left out); an optional value is `"type": [T, "null"]` rather than `anyOf`.
    The field descriptions (the model's guidance), patterns and requirements stay."""

    def compact(node: Any, *, in_properties: bool = False) -> Any:
        if isinstance(node, list):
            return [compact(item) for item in node]
        if not isinstance(node, dict):
            return node
        if in_properties:  # keys are field names, values their schemas
            return {name: compact(value) for name, value in node.items()}
        options = node.get("anyOf")
        if options and len(options) == 2 and {"type": "null"} in options:
            (value,) = [option for option in options if option != {"type": "null"}]
            if isinstance(value.get("type"), str):
                rest = {k: v for k, v in node.items() if k != "anyOf"}
                return compact({**rest, **value, "type": [value["type"], "null"]})
        is_model = node.get("type") == "object" and "properties" in node
        return {
            key: compact(value, in_properties=key in ("properties", "$defs"))
            for key, value in node.items()
            if not (key == "title" and isinstance(value, str))
            and not (key == "description" and is_model)
            and key != "default"
        }

    return compact(model.model_json_schema())


def evidence_field() -> Any:
    return Field(default_factory=list)


def _evidence_required(schema: dict[str, Any]) -> None:
    # Required in the schema the model sees; missing evidence is still accepted by validation.
    schema["required"] = [*schema.get("required", []), "evidence"]


class Evidenced(BaseModel):
    """An item that names the transcript segments it rests on."""

    model_config = ConfigDict(json_schema_extra=_evidence_required)

    evidence: Evidence = evidence_field()


class Spanned(Evidenced):
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


class EvidencedText(Evidenced):
    """A key point, decision or warning: one sentence and the segments that say it."""

    text: str


# ---- stage "extract": one chunk ------------------------------------------------------------


# Extraction notes are terse on purpose: short items with their evidence, no prose summary or
# objective, which the section groups write anyway from the notes and the evidence lines.
class ExtractedTopic(Spanned):
    title: str
    key_points: list[EvidencedText] = Field(default_factory=list)
    decisions: list[EvidencedText] = Field(
        default_factory=list, description="decisões tomadas, como foram ditas"
    )


class ExtractedProblem(Evidenced):
    """A diagnosis: what went wrong, why, and how it was (or will be) solved."""

    title: str
    start: Timestamp | None = None
    end: Timestamp | None = None
    symptoms: list[str] = Field(default_factory=list)
    root_cause: str = Field(default="", description="causa raiz, somente se foi dita")
    solution: list[str] = Field(default_factory=list)
    prevention: list[str] = Field(default_factory=list)


class ExtractedStep(Evidenced):
    text: str = Field(
        description="o passo, no imperativo; um comando dito em palavras vai na forma escrita "
        "normal (\"ls traço la barra etc\" → `ls -la /etc`)"
    )
    at: Timestamp | None = Field(
        default=None,
        description="quando o passo é executado ou mostrado na tela (HH:MM:SS), só se não é o "
        "início do primeiro segmento da evidência",
    )
    expected_result: str | None = Field(
        default=None, description="o que o passo deve mostrar, somente se foi dito"
    )


def _evidence_in_steps(schema: dict[str, Any]) -> None:
    # A procedure rests on its steps' evidence (the evidence rule falls back to it): asking for
    # it again at the procedure level is output paid for nothing.
    schema["required"] = [name for name in schema.get("required", []) if name != "evidence"]


class ExtractedProcedure(Spanned):
    model_config = ConfigDict(json_schema_extra=_evidence_in_steps)

    title: str
    prerequisites: list[str] = Field(default_factory=list)
    steps: list[ExtractedStep] = Field(default_factory=list)
    warnings: list[EvidencedText] = Field(
        default_factory=list,
        description="avisos e proibições ditos sobre o procedimento (\"nunca rode…\"): nunca passos",
    )


class SpokenCommand(Evidenced):
    command: str = Field(description="o comando na forma escrita normal, mesmo se foi dito em palavras")
    purpose: str = ""
    at: Timestamp | None = None


class Configuration(Evidenced):
    key: str = Field(description="chave, parâmetro ou caminho, exatamente como foi dito")
    value: str = Field(default="", description="valor, se foi dito")
    context: str = ""
    at: Timestamp | None = None


class Risk(Evidenced):
    description: str
    mitigation: str = ""
    at: Timestamp | None = None


class ExtractedQuestion(Evidenced):
    question: str = Field(description="uma pergunta real, respondida por outra pessoa")
    answer: str
    asked_by: str | None = None
    answered_by: str | None = None
    at: Timestamp | None = None


class ExtractedActionItem(Evidenced):
    text: str = Field(description="um compromisso futuro; nunca algo já feito")
    owner: str | None = Field(default=None, description="responsável, somente se foi dito")
    deadline: str | None = Field(default=None, description="prazo, como foi dito (\"até sexta\")")
    at: Timestamp | None = None


class ExtractedReference(Evidenced):
    text: str = Field(description="documento, ticket, página ou link citado")
    url: str | None = Field(default=None, description="somente uma URL dita na chamada")
    at: Timestamp | None = None


class ExtractedTerm(Evidenced):
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

    def with_times_from_evidence(self, segment_start: Callable[[str], float | None]) -> ChunkExtraction:
        """Every step, question, action item, reference, command and configuration without `at`
        placed at the start of its first evidence segment (the model is asked to write `at` only
        when it differs: a timestamp per item is output paid for nothing)."""
        for name in ("commands", "configurations", "risks", "questions", "action_items", "references"):
            for item in getattr(self, name):
                _place(item, segment_start)
        for procedure in self.procedures:
            for step in procedure.steps:
                _place(step, segment_start)
        return self

    def item_count(self) -> int:
        return sum(len(getattr(self, name)) for name in type(self).model_fields)


def _place(item: BaseModel, segment_start: Callable[[str], float | None]) -> None:
    if getattr(item, "at", None) is None and item.evidence:
        item.at = segment_start(item.evidence[0])


# ---- stage "merge": the outline -----------------------------------------------------------


def _title_and_sources_required(schema: dict[str, Any]) -> None:
    # The title, time range and evidence of an entry are those of the notes it joins
    # (sources.py) unless the model writes them.
    schema["required"] = ["sources"]


class OutlineEntry(Spanned):
    model_config = ConfigDict(json_schema_extra=_title_and_sources_required)

    id: SkipJsonSchema[str] = ""
    title: str = Field(description="só se muda o título da primeira nota")
    sources: list[str] = Field(
        default_factory=list, description="ids das notas de <extracoes> que este item junta (ex.: N3, N17)"
    )
    notes: list[str] = Field(default_factory=list, description="o que a seção deve cobrir, só se não está nas notas")


# Outline lists the merge call writes, and the id prefix each entry gets once validated.
MERGED_KINDS: dict[str, str] = {"topics": "T", "procedures": "P", "problems": "D"}


class Outline(BaseModel):
    """The plan of the document: deduplicated items in the order of the call.

    The merge call deduplicates topics, procedures and problems; questions, action items,
    references and terms are short and already carry their evidence, so the writer lists them
    from the extractions itself (`listed`), deduplicated by their text, without paying a model
    to copy them."""

    main_theme: str = Field(description="o tema principal da chamada, em 1 a 2 frases")
    topics: list[OutlineEntry] = Field(default_factory=list)
    procedures: list[OutlineEntry] = Field(default_factory=list)
    problems: list[OutlineEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _in_call_order_with_ids(self):
        # Order is a rule of the format, and ids are how coverage and the review name items,
        # so both are set here rather than trusted to the model.
        for name, prefix in MERGED_KINDS.items():
            ordered = sorted(getattr(self, name), key=lambda entry: (entry.start, entry.end))
            for number, entry in enumerate(ordered, 1):
                entry.id = f"{prefix}{number}"
            setattr(self, name, ordered)
        return self

    def entries(self) -> list[OutlineEntry]:
        return [entry for name in MERGED_KINDS for entry in getattr(self, name)]
