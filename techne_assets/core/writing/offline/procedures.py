"""Procedures: runs of sentences whose role is "step", said close together.

A run is a procedure when it has two commands, or three steps of which two act on a screen or
a terminal, or a command with an action or sequence cue around it; a topic shift, a newly
shared screen or a fresh "primeiro" starts a new run. Warnings said during the run become the
procedure's warnings (never steps), and a destructive command inside a real step gets a
visible caution (`core.instruction_types.caution_for`).
"""

from __future__ import annotations

import math
from collections import Counter

from techne_assets.core.document import Procedure, Step, TimeRange
from techne_assets.core.instruction_types import caution_for
from techne_assets.core.text_rules import quote_technical
from techne_assets.core.transcript import format_timestamp
from techne_assets.core.writing.offline.analysis import Analysis, Sentence
from techne_assets.core.writing.offline.roles import step_evidence
from techne_assets.core.writing.offline.titles import TitleBook

MAX_GAP = 90.0  # seconds between two steps of the same procedure
MAX_INTERRUPTION = 8  # other sentences said between two steps of the same procedure
MAX_PREREQUISITES = 4
LEAD_IN_SECONDS = 120.0


def _groups(analysis: Analysis) -> list[list[tuple[Sentence, str]]]:
    groups: list[list[tuple[Sentence, str]]] = []
    new_subject = False
    between = 0
    shift, share = analysis.cue("topic_shift"), analysis.cue("screen_share_start")
    sequence, first_step = analysis.cue("sequence_start"), analysis.cue("first_step")
    for sentence in analysis.sentences:
        evidence = step_evidence(analysis, sentence) if sentence.role == "step" else None
        if share.search(sentence.text):
            new_subject = True
        if evidence is None:
            if shift.search(sentence.text):
                new_subject = True
            if sentence.n_words >= 4 and sentence.role != "warning":
                between += 1
            continue
        gap = sentence.start - groups[-1][-1][0].end if groups else math.inf
        resumes = evidence == "sequence" or bool(sequence.match(sentence.text))
        in_a_row = (
            bool(groups) and evidence == "command" and any(e == "command" for _, e in groups[-1])
        )
        if (
            groups
            and not first_step.match(sentence.text)
            and not (new_subject and not resumes)
            and (between <= MAX_INTERRUPTION or resumes or in_a_row)
            and (gap <= MAX_GAP or (resumes and gap <= 3 * MAX_GAP))
        ):
            groups[-1].append((sentence, evidence))
        else:
            groups.append([(sentence, evidence)])
        new_subject = False
        between = 0
    return groups


def _is_procedure(group: list[tuple[Sentence, str]]) -> bool:
    kinds = Counter(evidence for _, evidence in group)
    acting = kinds["command"] + kinds["action"]
    return (
        kinds["command"] >= 2
        or (len(group) >= 3 and acting >= 2)
        or (len(group) >= 2 and kinds["command"] >= 1 and acting >= 2)
        or (len(group) >= 2 and kinds["command"] >= 1 and kinds["sequence"] >= 1)
    )


def _step(analysis: Analysis, sentence: Sentence) -> Step:
    following = analysis.sentences[sentence.index + 1 : sentence.index + 2]
    expected = next(
        (
            s
            for s in following
            if s.role not in ("step", "warning") and analysis.cue("expected_result").search(s.text)
        ),
        None,
    )
    evidence = [sentence] + ([expected] if expected else [])
    return Step(
        text=quote_technical(sentence.text),
        at=sentence.start,
        expected_result=quote_technical(expected.text) if expected else None,
        caution=caution_for(sentence.text),
        evidence=analysis.evidence(evidence),
    )


def _procedure(analysis: Analysis, steps: list[Sentence], titles: TitleBook) -> Procedure:
    start, end = steps[0].start, steps[-1].end
    chosen = {s.index for s in steps}
    first = steps[0].index
    while first > 0 and analysis.sentences[first - 1].start >= start - LEAD_IN_SECONDS:
        first -= 1
    around = [
        s
        for s in analysis.sentences[first : steps[-1].index + 2]
        if s.index not in chosen and not s.is_question
    ]
    objective = next((s for s in around if analysis.cue("objective").search(s.text)), None)
    prerequisites = [s for s in around if analysis.cue("prerequisite").search(s.text)][
        :MAX_PREREQUISITES
    ]
    warnings = [s for s in around if s.role == "warning" and s.index > steps[0].index - 3]
    said = [*steps, *prerequisites, *warnings] + ([objective] if objective else [])
    return Procedure(
        title=titles.title(steps, analysis.weighted(steps), prefix="Procedimento: ", tool=True),
        time_range=TimeRange(start=start, end=end),
        objective=quote_technical(objective.text)
        if objective
        else f"Reproduzir os passos mostrados entre {format_timestamp(start)} e {format_timestamp(end)}.",
        prerequisites=[quote_technical(s.text) for s in prerequisites],
        steps=[_step(analysis, s) for s in steps],
        warnings=[quote_technical(s.text) for s in warnings],
        evidence=analysis.evidence(said),
    )


def build(analysis: Analysis, titles: TitleBook) -> list[Procedure]:
    return [
        _procedure(analysis, [s for s, _ in group], titles)
        for group in _groups(analysis)
        if _is_procedure(group)
    ]
