"""Evidence validation: which segment ids can back an item, what is dropped, and the
`document_evidenced` verdict."""

from __future__ import annotations

import pytest

from techne_assets.core.document import (
    Document,
    DocumentHeader,
    GlossaryTerm,
    Procedure,
    QuestionAnswer,
    Step,
    TimeRange,
    Topic,
)
from techne_assets.core.evidence import (
    document_evidenced,
    enforce_evidence,
    evidence_lines,
    invalid_reason,
    segment_line,
)
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.writing.extraction import ChunkExtraction


def transcript() -> Transcript:
    # One segment a minute: s0000 at 00:00:00 … s0019 at 00:19:00.
    return Transcript(segments=[
        Segment(start=i * 60.0, end=i * 60.0 + 30, speaker="Ana" if i % 2 else "Bruno", text=f"Fala {i}.")
        for i in range(20)
    ])


@pytest.mark.parametrize(
    ("sid", "window", "allowed", "reason"),
    [
        ("s0005", (300.0, 360.0), None, None),
        ("s0005", (400.0, 420.0), None, None),  # within the tolerance of 120 s
        ("s0020", None, None, "s0020 não é um segmento da transcrição"),
        ("s5", None, None, "s5 não é um segmento da transcrição"),
        ("x0001", None, None, "x0001 não é um segmento da transcrição"),
        ("s0010", (120.0, 180.0), None, "s0010 (00:10:00) está fora do intervalo do item (00:02:00–00:03:00)"),
        ("s0003", None, frozenset({"s0004", "s0005"}), "s0003 está fora do trecho extraído"),
        ("s0004", None, frozenset({"s0004", "s0005"}), None),
    ],
)
def test_an_id_is_valid_when_the_segment_exists_in_the_chunk_and_near_the_item(sid, window, allowed, reason):
    assert invalid_reason(sid, transcript(), window, allowed=allowed) == reason


def test_unevidenced_items_are_dropped_in_place_and_listed_nested_ones_too():
    extraction = ChunkExtraction.model_validate({
        "topics": [
            {"title": "Bom", "start": "00:02:00", "end": "00:04:00", "summary": "…",
             "evidence": ["s0002", "s0099", "s0002"],
             "key_points": [{"text": "certo", "evidence": ["s0003"]}, {"text": "longe", "evidence": ["s0015"]}]},
            {"title": "Sem ids", "start": "00:05:00", "end": "00:06:00", "summary": "…"},
            {"title": "Só pelos pontos", "start": "00:07:00", "end": "00:08:00", "summary": "…",
             "key_points": [{"text": "ponto", "evidence": ["s0007"]}]},
        ],
        "questions": [{"question": "E aí?", "answer": "Sim.", "at": "00:10:00", "evidence": ["s0001"]}],
        "terms": [{"term": "pod", "definition": "…", "evidence": ["s0011"]}],
    })

    dropped = enforce_evidence(extraction, transcript(), where="extract:chunk-01")

    assert [t.title for t in extraction.topics] == ["Bom", "Só pelos pontos"]
    assert extraction.topics[0].evidence == ["s0002"]  # the invalid and repeated ids are gone
    assert [k.text for k in extraction.topics[0].key_points] == ["certo"]
    assert extraction.topics[1].evidence == ["s0007"]  # rests on its key point
    assert extraction.questions == []  # s0001 is 9 minutes before the question
    assert [t.term for t in extraction.terms] == ["pod"]  # no time range: existence is enough
    assert [(d.kind, d.item) for d in dropped] == [
        ("key_points", "longe"), ("topics", "Sem ids"), ("questions", "E aí?")
    ]
    assert dropped[1].reason == "nenhum segmento citado como evidência"
    assert dropped[2].reason.startswith("s0001 (00:01:00) está fora do intervalo do item")
    assert all(d.where == "extract:chunk-01" for d in dropped)


def test_evidence_lines_quote_the_cited_segments_in_order_with_ids():
    assert segment_line(3, transcript().segments[3]) == "[s0003 00:03:00 Ana] Fala 3."
    assert evidence_lines(transcript(), ["s0004", "s0002", "s0404", "s0002"]) == [
        "[s0002 00:02:00 Bruno] Fala 2.",
        "[s0004 00:04:00 Bruno] Fala 4.",
    ]


def document(**sections) -> Document:
    return Document(header=DocumentHeader(source_name="a.mp4", writer="m"), **sections)


def test_document_evidenced_passes_when_every_item_names_valid_segments():
    verdict = document_evidenced(document(
        topics=[Topic(title="T", time_range=TimeRange(start=60, end=180), description="d", evidence=["s0002"])],
        procedures=[Procedure(title="P", time_range=TimeRange(start=300, end=420), objective="o",
                              evidence=["s0005"], steps=[Step(text="s", at=360, evidence=["s0006"])])],
        glossary=[GlossaryTerm(term="g", definition="d", evidence=["s0019"])],
    ), transcript())

    assert verdict.passed
    assert verdict.metadata["items"] == 4


def test_document_evidenced_fails_naming_items_without_evidence_or_with_a_wrong_id():
    verdict = document_evidenced(document(
        topics=[Topic(title="T", time_range=TimeRange(start=60, end=180), description="d")],
        questions=[QuestionAnswer(question="Q?", answer="a", at=600, evidence=["s0001"])],
    ), transcript())

    assert not verdict.passed
    assert verdict.metadata["unevidenced"] == ["topics: T"]
    assert verdict.metadata["invalid_evidence"][0].startswith("questions: Q?: s0001 (00:01:00) está fora")


def test_an_offline_document_may_omit_evidence_but_not_cite_wrong_segments():
    no_ids = document(topics=[Topic(title="T", time_range=TimeRange(start=0, end=60), description="d")])
    wrong = document(topics=[Topic(title="T", time_range=TimeRange(start=0, end=60), description="d",
                                   evidence=["s0999"])])

    assert document_evidenced(no_ids, transcript(), require_evidence=False).passed
    assert not document_evidenced(wrong, transcript(), require_evidence=False).passed
