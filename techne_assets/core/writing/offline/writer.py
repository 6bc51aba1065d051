"""The `Writer` of the local profile: the stages of this package, one after the other."""

from __future__ import annotations

from techne_assets.core.document import Document, DocumentHeader, render_sections
from techne_assets.core.transcript import Transcript
from techne_assets.core.writing.base import Draft, WritingContext
from techne_assets.core.writing.offline import (
    commitments,
    glossary,
    procedures,
    questions,
    references,
    summary,
    topics,
    troubleshooting,
)
from techne_assets.core.writing.offline.analysis import analyze
from techne_assets.core.writing.offline.roles import assign_roles
from techne_assets.core.writing.offline.titles import TitleBook

WRITER_NAME = "offline"


class OfflineWriter:
    """Rules over the transcript, no model, no cost."""

    name = WRITER_NAME

    def write(self, transcript: Transcript, context: WritingContext) -> Draft:
        analysis = analyze(transcript)
        assign_roles(analysis)
        titles = TitleBook(analysis)
        duration = context.media_duration or transcript.duration or transcript.spoken_end
        spans = topics.spans(analysis)
        terms = glossary.build(analysis)
        document = Document(
            header=DocumentHeader(
                source_name=context.source_name,
                call_date=context.call_date,
                duration_seconds=duration,
                participants=analysis.participants,
                writer=WRITER_NAME,
                written_offline=True,
                language=analysis.language,
            ),
            topics=topics.build(analysis, spans, titles),
            procedures=procedures.build(analysis, titles),
            troubleshooting=troubleshooting.build(analysis, titles),
            questions=questions.build(analysis) or questions.review_questions(analysis, terms),
            action_items=commitments.action_items(analysis),
            references=references.build(analysis),
            glossary=terms,
        )
        document.executive_summary = summary.build(analysis, document, titles, duration)
        chunk_notes = [
            {
                "topic": topic.title,
                "start": topic.time_range.start,
                "end": topic.time_range.end,
                "speakers": topics.speakers_of(analysis.sentences[span.first : span.last + 1]),
                "terms": titles.top_terms(span.salience, 8),
                "sentences": span.last - span.first + 1,
            }
            for topic, span in zip(document.topics, spans, strict=True)
        ]
        outline = {
            "language": analysis.language,
            "roles": _role_counts(analysis),
            "topics": [t.title for t in document.topics],
            "procedures": [p.title for p in document.procedures],
            "problems": [p.title for p in document.troubleshooting],
            "questions": len(document.questions),
            "action_items": len(document.action_items),
            "references": len(document.references),
            "glossary": [g.term for g in document.glossary],
        }
        # The appendix is the transcript itself; the draft keeps only the written sections.
        sections = dict(list(render_sections(document, transcript).items())[:-1])
        return Draft(
            writer=WRITER_NAME,
            chunk_notes=chunk_notes,
            outline=outline,
            sections=sections,
            document=document,
        )


def _role_counts(analysis) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sentence in analysis.sentences:
        counts[sentence.role] = counts.get(sentence.role, 0) + 1
    return dict(sorted(counts.items()))
