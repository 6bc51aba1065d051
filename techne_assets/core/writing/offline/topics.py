"""Topics: where the subject changes (TextTiling over lemmas), with a title, key points and
decisions said in each stretch.

TextTiling (Hearst 1997) is a short algorithm written here rather than a dependency: NLTK's
implementation needs its corpora downloaded and tokenizes English only. Blocks are runs of
whole turns of about `UNIT_WORDS` words; a cue phrase ("agora vamos", "moving on") adds weight
to a boundary.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from statistics import mean, pstdev

from techne_assets.core.document import TimeRange, Topic
from techne_assets.core.text_rules import quote_technical
from techne_assets.core.writing.offline.analysis import Analysis, Sentence
from techne_assets.core.writing.offline.titles import TitleBook, join_terms

UNIT_WORDS = 60
COHESION_WINDOW = 3
MINUTES_PER_TOPIC = 4
MAX_TOPICS = 20
MAX_KEY_POINTS = 4
# Roles that never make a key point: they have their own sections.
_NOT_KEY_POINTS = frozenset(["question", "decision", "commitment", "warning"])


@dataclass(slots=True)
class TopicSpan:
    first: int  # sentence indices, inclusive
    last: int
    salience: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Block:
    first: int
    last: int
    lemmas: Counter[str] = field(default_factory=Counter)
    starts_with_cue: bool = False


def _blocks(analysis: Analysis) -> list[_Block]:
    shift = analysis.cue("topic_shift")
    blocks: list[_Block] = []
    current: _Block | None = None
    n_words = 0
    for sentence in analysis.sentences:
        cue = bool(shift.search(sentence.text))
        if current is None or n_words >= UNIT_WORDS or (cue and n_words >= 15):
            current = _Block(first=sentence.index, last=sentence.index, starts_with_cue=cue)
            blocks.append(current)
            n_words = 0
        current.last = sentence.index
        current.lemmas.update(sentence.lemmas)
        n_words += sentence.n_words
    return blocks


def spans(analysis: Analysis) -> list[TopicSpan]:
    sentences = analysis.sentences
    if not sentences:
        return []
    blocks = _blocks(analysis)
    minutes = (sentences[-1].end - sentences[0].start) / 60
    max_topics = max(1, min(MAX_TOPICS, round(minutes / MINUTES_PER_TOPIC)))
    boundaries = cohesion_boundaries(blocks, max_topics) if len(blocks) > 1 else []
    starts = [0, *(blocks[b].first for b in boundaries)]
    ends = [s - 1 for s in starts[1:]] + [len(sentences) - 1]
    out = [TopicSpan(first, last) for first, last in zip(starts, ends, strict=True)]
    frequencies = [
        Counter(x for s in sentences[t.first : t.last + 1] for x in s.lemmas) for t in out
    ]
    spread = Counter(x for tf in frequencies for x in tf)
    for span, tf in zip(out, frequencies, strict=True):
        span.salience = {
            x: count
            * (math.log((len(out) + 1) / spread[x]) + 0.1)
            * (2.0 if x in analysis.technical else 1.0)
            for x, count in tf.items()
            if not analysis.is_name(x)
        }
    return out


def key_sentences(
    analysis: Analysis, sentences: list[Sentence], n: int, salience: dict[str, float]
) -> list[Sentence]:
    def score(sentence: Sentence) -> float:
        unique = set(sentence.lemmas)
        if not unique:
            return 0.0
        return sum(salience.get(x, 0.0) for x in unique) / math.sqrt(len(unique)) + len(
            sentence.fragments
        )

    greeting = analysis.cue("greeting")
    candidates = [
        s
        for s in sentences
        if 8 <= s.n_words <= 60
        and s.role not in _NOT_KEY_POINTS
        and not s.injection
        and not greeting.match(s.text)
    ]
    best = sorted(candidates, key=lambda s: (-score(s), s.index))[:n]
    return sorted(best, key=lambda s: s.index)


def speakers_of(sentences: list[Sentence]) -> list[str]:
    counts = Counter(s.speaker for s in sentences if s.speaker)
    return [name for name, _ in counts.most_common(3)]


def build(analysis: Analysis, topic_spans: list[TopicSpan], titles: TitleBook) -> list[Topic]:
    topics: list[Topic] = []
    for span in topic_spans:
        said = analysis.sentences[span.first : span.last + 1]
        title = titles.title(said, span.salience, reach=3)
        subjects = titles.phrases(said, span.salience, reach=5)[:3] or titles.top_terms(
            span.salience, 3
        )
        speakers = speakers_of(said)
        description = ""
        if subjects:
            description = f"Sobre {join_terms(subjects)}"
            description += f", com falas de {join_terms(speakers)}." if speakers else "."
        key = key_sentences(analysis, said, MAX_KEY_POINTS, span.salience)
        decisions = [s for s in said if s.role == "decision"]
        topics.append(
            Topic(
                title=title,
                time_range=TimeRange(start=said[0].start, end=said[-1].end),
                description=description,
                key_points=[quote_technical(s.text) for s in key],
                decisions=[quote_technical(s.text) for s in decisions],
                evidence=analysis.evidence([*key, *decisions]) or said[0].evidence,
            )
        )
    return topics


def cohesion_boundaries(blocks: list[_Block], max_topics: int) -> list[int]:
    """Block indices where a new topic starts: deep valleys of lexical similarity."""
    gaps = len(blocks) - 1
    similarity: list[float] = []
    for gap in range(gaps):
        left: Counter[str] = Counter()
        right: Counter[str] = Counter()
        for b in blocks[max(0, gap - COHESION_WINDOW + 1) : gap + 1]:
            left.update(b.lemmas)
        for b in blocks[gap + 1 : gap + 1 + COHESION_WINDOW]:
            right.update(b.lemmas)
        similarity.append(_cosine(left, right))
    depth: list[float] = []
    for gap, value in enumerate(similarity):
        left_peak = value
        for j in range(gap - 1, -1, -1):
            if similarity[j] < left_peak:
                break
            left_peak = similarity[j]
        right_peak = value
        for j in range(gap + 1, gaps):
            if similarity[j] < right_peak:
                break
            right_peak = similarity[j]
        depth.append((left_peak - value) + (right_peak - value))
    cutoff = mean(depth) - pstdev(depth) / 2 if depth else 0.0
    scored = []
    for gap, d in enumerate(depth):
        cue = blocks[gap + 1].starts_with_cue
        if d >= cutoff or cue:
            scored.append((d + (0.5 if cue else 0.0), gap))
    min_blocks = max(2, len(blocks) // (max_topics * 2))
    chosen: list[int] = []
    for _, gap in sorted(scored, key=lambda item: (-item[0], item[1])):
        if len(chosen) >= max_topics - 1:
            break
        boundary = gap + 1
        if boundary < min_blocks or len(blocks) - boundary < min_blocks:
            continue
        if all(abs(boundary - c) >= min_blocks for c in chosen):
            chosen.append(boundary)
    return sorted(chosen)


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) < len(b) else (b, a)
    dot = sum(count * large.get(term, 0) for term, count in small.items())
    norm = math.sqrt(sum(c * c for c in a.values())) * math.sqrt(sum(c * c for c in b.values()))
    return dot / norm if norm else 0.0
