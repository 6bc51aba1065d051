"""The technical review as an edit list, applied without a model.

The review call never re-emits the document: it answers with edits that replace one field of
an item, or remove an item, named by its id (`WrittenSections.item_ids`), each with a reason.
Applying them here keeps the review's output small whatever the size of the call, and means
the review can only change what it names: an edit to an unknown id or field is ignored and
listed, never guessed at.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from techne_assets.core.writing.sections import DroppedEntry, WrittenProcedure, WrittenSections

# Fields an edit may replace, per section; the first is the one replaced when none is named.
REPLACEABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "topics": ("description", "title"),
    "procedures": ("objective", "title"),
    "steps": ("text", "expected_result"),
    "troubleshooting": ("root_cause", "title"),
    "questions": ("answer", "question"),
    "action_items": ("text", "owner", "deadline"),
    "references": ("text",),
    "glossary": ("definition",),
}


class ReviewEdit(BaseModel):
    op: Literal["replace", "remove"] = Field(description="replace: troca um campo; remove: retira o item")
    item_id: str = Field(description="o id do item no <documento> (ex.: T3, P2.4, Q7)")
    field: str | None = Field(default=None, description="o campo trocado (replace); vazio = o texto principal")
    text: str | None = Field(default=None, description="o novo texto do campo (replace)")
    reason: str = Field(description="por que a edição é necessária")


class ReviewAnswer(BaseModel):
    """The review's findings as edits; an empty list when the document needs none."""

    edits: list[ReviewEdit] = Field(default_factory=list)


class ReviewOutcome(BaseModel):
    applied: list[ReviewEdit] = Field(default_factory=list)
    ignored: list[dict[str, str]] = Field(default_factory=list, description="edit and why it was ignored")
    removed: list[DroppedEntry] = Field(
        default_factory=list, description="outline entries whose only item the review removed"
    )


def apply_edits(sections: WrittenSections, edits: list[ReviewEdit]) -> ReviewOutcome:
    """Applies `edits` to `sections` in place, in order."""
    outcome = ReviewOutcome()

    def ignore(edit: ReviewEdit, why: str) -> None:
        outcome.ignored.append({"item_id": edit.item_id, "op": edit.op, "reason": why})

    for edit in edits:
        addressed = {item_id: (section, item) for item_id, section, item in sections.item_ids()}
        if edit.item_id not in addressed:
            ignore(edit, "id inexistente no documento")
            continue
        section, item = addressed[edit.item_id]
        if edit.op == "remove":
            _remove(sections, section, item)
            if section != "steps" and item.outline_id not in sections.covered_ids():
                outcome.removed.append(
                    DroppedEntry(outline_id=item.outline_id, reason=f"removido na revisão: {edit.reason}")
                )
            outcome.applied.append(edit)
            continue
        allowed = REPLACEABLE_FIELDS[section]
        field = edit.field or allowed[0]
        if field not in allowed:
            ignore(edit, f"o campo {field!r} não pode ser trocado em {section}")
        elif not (edit.text or "").strip():
            ignore(edit, "troca sem texto")
        else:
            setattr(item, field, edit.text.strip())
            outcome.applied.append(edit)
    return outcome


def _remove(sections: WrittenSections, section: str, item: BaseModel) -> None:
    if section == "steps":
        for procedure in sections.procedures:
            procedure.steps = [step for step in procedure.steps if step is not item]
        return
    setattr(sections, section, [other for other in getattr(sections, section) if other is not item])


def review_view(sections: WrittenSections) -> list[dict[str, object]]:
    """The document as the review sees it: one entry per item id with its replaceable fields."""
    view: list[dict[str, object]] = []
    for item_id, section, item in sections.item_ids():
        entry: dict[str, object] = {"id": item_id, "secao": section}
        for field in REPLACEABLE_FIELDS[section]:
            value = getattr(item, field)
            if value:
                entry[field] = value
        if isinstance(item, WrittenProcedure) and item.warnings:
            entry["avisos"] = [warning.text for warning in item.warnings]
        view.append(entry)
    return view
