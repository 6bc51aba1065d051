"""Questions and answers: a turn that ends in a question, answered by another speaker.

A question is paired with the next turn of a different speaker within `ANSWER_REACH` turns;
it is not an audio or screen check, a greeting, a tag question ("né?", "right?") or a
rhetorical question the speaker answers, and one answer is never used for two questions.
Speakers must be known on both sides. In a single-speaker lecture, review questions
(`review=True`) are written from the definitions the lecturer gave. The cue phrases are data
files; no library recognizes these speech acts in pt-BR.
"""

from __future__ import annotations

from techne_assets.core.document import GlossaryTerm, QuestionAnswer
from techne_assets.core.text_rules import quote_technical
from techne_assets.core.writing.offline.analysis import Analysis, Sentence, Turn

ANSWER_REACH = 3  # turns after the question in which its answer is looked for
MIN_QUESTION_WORDS = 4
MIN_ANSWER_WORDS = 4
MAX_ANSWER_SENTENCES = 3
REVIEW_QUESTION = "O que é {term}?"
MAX_REVIEW_QUESTIONS = 8


def _question_of(analysis: Analysis, turn: Turn) -> list[Sentence] | None:
    """The question sentences that close a turn, or None when it does not close on a real one."""
    sentences = turn.sentences
    if not sentences[-1].is_question:
        return None
    first = len(sentences) - 1
    while first > 0 and sentences[first - 1].is_question:
        first -= 1
    if first > 0 and sum(s.n_words for s in sentences[first:]) < 6:
        first -= 1  # "Sobre o pool. Ele tem limite?": the context goes with it
    asked = sentences[first:]
    text = " ".join(s.text for s in asked)
    stripped = sentences[-1].text.rstrip("?").strip(" ,.").lower()
    if len(text.split()) < MIN_QUESTION_WORDS or stripped in analysis.words("tag_questions"):
        return None
    if any(
        analysis.cue(name).search(text) for name in ("audio_check", "rhetorical")
    ) or analysis.cue("greeting").match(sentences[-1].text):
        return None
    return asked


def _answer_turn(analysis: Analysis, at: int) -> Turn | None:
    asker = analysis.turns[at].speaker
    for turn in analysis.turns[at + 1 : at + 1 + ANSWER_REACH]:
        if turn.speaker == asker:
            return None  # the asker goes on: answered by themselves, or not at all
        if turn.speaker is not None:
            return turn
    return None


def build(analysis: Analysis) -> list[QuestionAnswer]:
    pairs: list[QuestionAnswer] = []
    used: set[int] = set()
    shift = analysis.cue("topic_shift")
    for index, turn in enumerate(analysis.turns):
        if turn.speaker is None:
            continue
        asked = _question_of(analysis, turn)
        if asked is None:
            continue
        reply = _answer_turn(analysis, index)
        if reply is None or reply.index in used:
            continue
        answer: list[Sentence] = []
        for s in reply.sentences[:MAX_ANSWER_SENTENCES]:
            if shift.search(s.text) or s.is_question:
                break
            answer.append(s)
        text = " ".join(s.text for s in answer)
        if not answer or len(text.split()) < MIN_ANSWER_WORDS:
            continue
        used.add(reply.index)
        pairs.append(
            QuestionAnswer(
                question=quote_technical(" ".join(s.text for s in asked)),
                answer=quote_technical(text),
                at=asked[0].start,
                asked_by=turn.speaker,
                answered_by=reply.speaker,
                evidence=analysis.evidence([*asked, *answer]),
            )
        )
    return pairs


def review_questions(analysis: Analysis, glossary: list[GlossaryTerm]) -> list[QuestionAnswer]:
    """For a lecture with no audience questions: one question per term the lecturer defined."""
    if len(analysis.participants) > 1:
        return []
    return [
        QuestionAnswer(
            question=REVIEW_QUESTION.format(term=term.term),
            answer=term.definition,
            review=True,
            answered_by=analysis.participants[0] if analysis.participants else None,
            evidence=term.evidence,
        )
        for term in glossary[:MAX_REVIEW_QUESTIONS]
    ]
