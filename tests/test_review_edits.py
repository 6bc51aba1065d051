"""The review's edit list, applied without a model: by id, one field or one item at a time."""

from __future__ import annotations

from techne_assets.core.writing.review_edits import ReviewEdit, apply_edits, review_view
from techne_assets.core.writing.sections import WrittenSections


def sections() -> WrittenSections:
    return WrittenSections.model_validate({
        "executive_summary": ["Resumo."],
        "topics": [
            {"outline_id": "T1", "title": "Deploy", "start": "00:00:00", "end": "00:05:00",
             "description": "O deploy.", "evidence": ["s0000"]},
            {"outline_id": "T1", "title": "Deploy de novo", "start": "00:06:00", "end": "00:07:00",
             "description": "Repetido.", "evidence": ["s0006"]},
            {"outline_id": "T2", "title": "Rollback", "start": "00:10:00", "end": "00:12:00",
             "description": "O rollback.", "evidence": ["s0010"]},
        ],
        "procedures": [
            {"outline_id": "P1", "title": "Verificar", "start": "00:02:00", "end": "00:04:00",
             "objective": "Ver os pods.", "evidence": ["s0002"],
             "steps": [{"text": "Rode `kubectl get pods`.", "evidence": ["s0002"]},
                       {"text": "Confira o estado.", "evidence": ["s0003"]}]},
        ],
        "action_items": [{"outline_id": "A1", "text": "Atualizar o runbook.", "evidence": ["s0011"]}],
    })


def edit(**fields) -> ReviewEdit:
    return ReviewEdit(reason="motivo", **fields)


def test_items_are_named_by_outline_id_steps_by_position_and_repeats_get_a_suffix():
    ids = [item_id for item_id, _, _ in sections().item_ids()]
    assert ids == ["T1", "T1b", "T2", "P1", "P1.1", "P1.2", "A1"]


def test_replace_sets_the_named_field_or_the_main_text_of_the_item():
    written = sections()

    outcome = apply_edits(written, [
        edit(op="replace", item_id="T2", text="O rollback do deployment."),
        edit(op="replace", item_id="P1.2", field="expected_result", text="Todos em Running."),
        edit(op="replace", item_id="A1", field="owner", text="Bruno"),
    ])

    assert written.topics[2].description == "O rollback do deployment."
    assert written.procedures[0].steps[1].expected_result == "Todos em Running."
    assert written.action_items[0].owner == "Bruno"
    assert len(outcome.applied) == 3 and outcome.ignored == []


def test_remove_takes_out_one_item_and_reports_an_outline_entry_left_with_none():
    written = sections()

    outcome = apply_edits(written, [
        edit(op="remove", item_id="T1b"),  # a duplicate: T1 still has its first item
        edit(op="remove", item_id="P1.1"),
        edit(op="remove", item_id="T2"),
    ])

    assert [t.title for t in written.topics] == ["Deploy"]
    assert [s.text for s in written.procedures[0].steps] == ["Confira o estado."]
    assert [(r.outline_id, r.reason) for r in outcome.removed] == [("T2", "removido na revisão: motivo")]


def test_edits_to_unknown_ids_fields_or_without_text_are_ignored_and_listed():
    written = sections()
    before = written.model_copy(deep=True)

    outcome = apply_edits(written, [
        edit(op="remove", item_id="Z9"),
        edit(op="replace", item_id="T1", field="evidence", text="s0001"),
        edit(op="replace", item_id="T1", text="  "),
    ])

    assert written == before
    assert [i["reason"] for i in outcome.ignored] == [
        "id inexistente no documento",
        "o campo 'evidence' não pode ser trocado em topics",
        "troca sem texto",
    ]


def test_the_review_sees_each_item_by_id_with_its_replaceable_fields_only():
    view = review_view(sections())

    assert view[0] == {"id": "T1", "secao": "topics", "description": "O deploy.", "title": "Deploy"}
    assert view[4] == {"id": "P1.1", "secao": "steps", "text": "Rode `kubectl get pods`."}
    assert all("evidence" not in entry for entry in view)
