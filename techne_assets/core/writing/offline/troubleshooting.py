"""Troubleshooting: problems built from the roles of what was said about them.

Symptoms are sentences whose role is "problem", grouped while they follow each other; the
cause, solution ("a correção é…", or a step said with a fix cue) and prevention ("para
prevenir…") said after them complete the problem. Prevention is often discussed later, for
several problems at once, so each prevention sentence goes to the problem it follows closely,
or else to the one whose vocabulary it shares most.
"""

from __future__ import annotations

from techne_assets.core.document import Problem, TimeRange
from techne_assets.core.text_rules import quote_technical
from techne_assets.core.writing.offline.analysis import Analysis, Sentence
from techne_assets.core.writing.offline.titles import TitleBook

MAX_GAP = 120.0  # seconds between two symptoms of the same problem
WINDOW = 600.0  # seconds after the last symptom in which its cause and solution are looked for
MAX_ITEMS = 4
MIN_SOLUTION_WORDS = 5
FOLLOWS_SECONDS = 120.0  # a prevention said this soon after a problem is about it


def _is_solution(analysis: Analysis, sentence: Sentence) -> bool:
    if sentence.n_words < MIN_SOLUTION_WORDS:  # "Resolvido." confirms, it does not say how
        return False
    return sentence.role == "solution" or (
        sentence.role == "step" and bool(analysis.cue("solution").search(sentence.text))
    )


def _symptom_groups(analysis: Analysis) -> list[list[Sentence]]:
    groups: list[list[Sentence]] = []
    resolved = False
    for s in analysis.sentences:
        if s.role != "problem" or s.n_words < 5:
            if groups and _is_solution(analysis, s):
                resolved = True  # a symptom after a fix is a new problem; after a cause it is not
            continue
        if groups and not resolved and s.start - groups[-1][-1].end <= MAX_GAP:
            groups[-1].append(s)
        else:
            groups.append([s])
        resolved = False
    return _merge_unsolved(analysis, groups)


def _merge_unsolved(analysis: Analysis, groups: list[list[Sentence]]) -> list[list[Sentence]]:
    """A problem with no fix said before the next symptoms continues into them when they are
    about the same things (shared lemmas) and follow soon: one problem explained at length."""
    merged: list[list[Sentence]] = []
    for group in groups:
        if merged:
            previous = merged[-1]
            between = [
                s
                for s in analysis.sentences[previous[-1].index + 1 : group[0].index]
                if _is_solution(analysis, s)
            ]
            shared = {x for s in previous for x in s.lemmas} & {x for s in group for x in s.lemmas}
            close = group[0].start - previous[-1].end <= 3 * MAX_GAP
            if not between and close and len(shared - analysis.stopwords) >= 2:
                previous.extend(group)
                continue
        merged.append(list(group))
    return merged


def build(analysis: Analysis, titles: TitleBook) -> list[Problem]:
    groups = _symptom_groups(analysis)
    problems: list[tuple[Problem, set[str], list[Sentence]]] = []
    used: set[int] = set()
    for number, symptoms in enumerate(groups):
        window_end = symptoms[-1].end + WINDOW
        if number + 1 < len(groups):
            window_end = min(window_end, groups[number + 1][0].start)
        window = [
            s
            for s in analysis.sentences
            if symptoms[0].start <= s.start < window_end
            and s.index not in used
            and not s.is_question
        ]
        causes = [s for s in window if s.role == "cause"]
        cause = max(causes, key=lambda s: (len(s.lemmas), -s.index)) if causes else None
        solutions = [s for s in window if _is_solution(analysis, s)][:MAX_ITEMS]
        if not (cause or solutions):
            continue
        said = [*symptoms, *solutions] + ([cause] if cause else [])
        used.update(s.index for s in said)
        problem = Problem(
            title=titles.title(symptoms, analysis.weighted(symptoms), prefix="Problema: "),
            time_range=TimeRange(start=symptoms[0].start, end=max(s.end for s in said)),
            symptoms=[quote_technical(s.text) for s in symptoms[:MAX_ITEMS]],
            root_cause=quote_technical(cause.text) if cause else "",
            solution=[quote_technical(s.text) for s in solutions],
            evidence=analysis.evidence(said),
        )
        problems.append((problem, {x for s in said for x in s.lemmas}, said))
    for s in analysis.sentences:
        if not problems or s.role != "prevention" or s.is_question:
            continue
        chosen = _problem_for(analysis, s, problems)
        if chosen is None:
            continue
        problem, _, said = problems[chosen]
        if len(problem.prevention) < MAX_ITEMS:
            problem.prevention.append(quote_technical(s.text))
            said.append(s)
            problem.evidence = analysis.evidence(said)
    return [problem for problem, _, _ in problems]


def _problem_for(
    analysis: Analysis, s: Sentence, problems: list[tuple[Problem, set[str], list[Sentence]]]
) -> int | None:
    overlap = [
        sum(analysis.weight(x) for x in set(s.lemmas) & vocabulary) for _, vocabulary, _ in problems
    ]
    distance = [abs(s.start - p.time_range.end) for p, _, _ in problems]
    near = [
        i
        for i, (p, _, _) in enumerate(problems)
        if p.time_range.start <= s.start <= p.time_range.end + WINDOW
    ]
    begun = [i for i, (p, _, _) in enumerate(problems) if p.time_range.start <= s.start]
    if begun:
        latest = max(begun, key=lambda i: problems[i][0].time_range.start)
        if s.start <= problems[latest][0].time_range.end + FOLLOWS_SECONDS:
            return latest  # said while the problem is discussed, or right after it
    if near:
        latest = max(near, key=lambda i: problems[i][0].time_range.start)
        best = max(near, key=lambda i: (overlap[i], -distance[i]))
        return best if overlap[best] > 2 * overlap[latest] else latest
    candidates = [i for i in range(len(problems)) if overlap[i] > 0]
    return max(candidates, key=lambda i: (overlap[i], -distance[i])) if candidates else None
