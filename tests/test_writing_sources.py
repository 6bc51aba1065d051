"""Items the merge and the section groups name by id instead of restating (core/writing/sources.py)."""

from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.writing.extraction import ChunkExtraction, Outline
from techne_assets.core.writing.sections import ProceduresSection, ReferenceSections
from techne_assets.core.writing.sources import (
    filled,
    numbered_notes,
    outline_filled,
    sources_by_id,
    without_empty,
)

EXTRACTED = [
    {"procedures": [{"title": "Rollback", "start": "00:01:00", "end": "00:02:00", "prerequisites": [],
                     "steps": [{"text": "Rode `kubectl get pods`.", "evidence": ["s0001"], "expected_result": None},
                               {"text": "Rode `kubectl rollout undo`.", "evidence": ["s0002"]}]}],
     "problems": [{"title": "OOM", "symptoms": ["reinícios"], "evidence": ["s0003"]}]},
    {"procedures": [{"title": "Rollback", "start": "00:40:00", "end": "00:41:00",
                     "steps": [{"text": "Confira os pods.", "evidence": ["s0009"]}]}], "problems": []},
]


def transcript() -> Transcript:
    return Transcript(segments=[Segment(start=i * 60.0, end=i * 60.0 + 50, speaker="Ana", text=f"fala {i}")
                                for i in range(12)])


def test_notes_get_stable_ids_and_lose_their_empty_fields():
    notes = numbered_notes(EXTRACTED)

    assert [(n["id"], n["tipo"]) for n in notes] == [("N1", "procedures"), ("N2", "problems"), ("N3", "procedures")]
    assert [s["id"] for s in notes[0]["steps"]] == ["N1.s1", "N1.s2"]
    assert "prerequisites" not in notes[0] and "expected_result" not in notes[0]["steps"][0]
    assert without_empty({"a": None, "b": [], "c": "", "d": [{"e": None, "f": 1}]}) == {"d": [{"f": 1}]}


def test_a_step_named_by_its_note_id_gets_the_extracted_text_and_evidence_and_written_fields_win():
    notes = numbered_notes(EXTRACTED)
    entry = {"id": "P1", "title": "Rollback do serviço", "start": "00:01:00", "end": "00:41:00", "evidence": ["s0001"]}
    answer = {"procedures": [{"outline_id": "P1", "objective": "Voltar a versão estável.",
                              "steps": [{"source": "N1.s1"}, {"source": "N1.s2", "text": "Desfaça o deploy."},
                                        {"source": "N3.s1"}]}]}

    section = ProceduresSection.model_validate(filled(answer, sources_by_id(notes, [entry])))

    (procedure,) = section.procedures
    assert procedure.title == "Rollback do serviço" and procedure.start == 60 and procedure.end == 2460
    assert [s.text for s in procedure.steps] == ["Rode `kubectl get pods`.", "Desfaça o deploy.", "Confira os pods."]
    assert [s.evidence for s in procedure.steps] == [["s0001"], ["s0002"], ["s0009"]]


def test_a_listed_entry_answered_by_its_outline_id_alone_is_the_extracted_entry():
    listed = {"id": "Q1", "question": "Qual o limite?", "answer": "512Mi.", "asked_by": "Bruno",
              "evidence": ["s0004", "s0005"]}

    section = ReferenceSections.model_validate(filled({"questions": [{"outline_id": "Q1"}]}, sources_by_id([], [listed])))

    (question,) = section.questions
    assert (question.outline_id, question.question, question.answer, question.evidence) == (
        "Q1", "Qual o limite?", "512Mi.", ["s0004", "s0005"])


def test_an_unknown_source_fills_nothing_so_validation_still_asks_for_the_text():
    answer = filled({"procedures": [{"outline_id": "P7", "objective": "o", "steps": [{"source": "N99.s1"}]}]}, {})

    assert answer["procedures"][0]["steps"] == [{"source": "N99.s1"}]
    try:
        ProceduresSection.model_validate(answer)
    except ValueError as invalid:
        assert "text" in str(invalid)
    else:
        raise AssertionError("a step with neither text nor a known source must be invalid")


def test_the_merge_answered_with_note_ids_gets_titles_times_and_evidence_from_the_notes():
    notes = {note["id"]: note for note in numbered_notes(EXTRACTED)}
    answer = {"main_theme": "Rollback", "procedures": [{"sources": ["N3", "N1"]}],
              "problems": [{"sources": ["N2"], "title": "Memória insuficiente"}]}
    segments = transcript()

    outline = Outline.model_validate(outline_filled(
        answer, notes, lambda sid: f"00:{int(sid[1:]):02d}:00" if segments.segment_by_id(sid) else None))

    (procedure,) = outline.procedures
    assert (procedure.title, procedure.start, procedure.end) == ("Rollback", 60, 2460)
    assert procedure.evidence == ["s0009", "s0001", "s0002"]  # the steps' evidence: no note-level ids
    (problem,) = outline.problems
    # A problem note without times is placed by its evidence; the model's title wins.
    assert (problem.title, problem.start, problem.end, problem.evidence) == ("Memória insuficiente", 180, 180, ["s0003"])


def test_times_left_out_of_an_extraction_are_those_of_the_first_evidence_segment():
    extraction = ChunkExtraction.model_validate({
        "procedures": [{"title": "P", "start": "00:01:00", "end": "00:03:00",
                        "steps": [{"text": "a", "evidence": ["s0002"]}, {"text": "b", "at": "00:02:30", "evidence": ["s0002"]}]}],
        "references": [{"text": "runbook", "evidence": ["s0003"]}],
    })
    segments = transcript()

    extraction.with_times_from_evidence(lambda sid: segments.segment_by_id(sid).start)

    assert [s.at for s in extraction.procedures[0].steps] == [120, 150]
    assert extraction.references[0].at == 180
