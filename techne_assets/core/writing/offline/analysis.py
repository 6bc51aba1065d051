"""Analysis, the first stage: the transcript as speaker turns and sentences with lemmas.

Captions cut speech at arbitrary points ("... que tem obra do" / "lado."), so consecutive
segments of one speaker are joined into a turn before sentences are split; each sentence keeps
the segments it was said in (its evidence) and their times. Sentence splitting and lemmas come
from `simplemma`, the language from `core.language`; spoken pt-BR technical forms are
written out by `core.spoken_forms` before fragments are looked for.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import simplemma

from techne_assets import lexicon
from techne_assets.core.language import detect_language
from techne_assets.core.spoken_forms import normalize_spoken
from techne_assets.core.text_rules import (
    CLI_PROGRAMS,
    find_fragments,
    is_technical_term,
    words,
)
from techne_assets.core.transcript import Transcript, segment_id

_SPEECH_END = re.compile(r"[.!?…]['\"”»)]*$")


@dataclass(slots=True)
class Sentence:
    index: int
    turn: int
    segments: list[int]
    start: float
    end: float
    speaker: str | None
    text: str  # as said, spoken technical forms written out
    lemmas: list[str]  # content lemmas (stopwords, numbers and names left out), programs included
    n_words: int
    has_command: bool
    prose: str  # the text with its technical fragments cut out
    fragments: list[str] = field(default_factory=list)
    role: str = "narration"
    injection: bool = False  # speech aimed at the document's writer: never a step or a key point

    @property
    def is_question(self) -> bool:
        return self.text.rstrip().endswith("?")

    @property
    def evidence(self) -> list[str]:
        return [segment_id(i) for i in self.segments]


@dataclass(slots=True)
class Turn:
    index: int
    speaker: str | None
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.sentences[0].start

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


@dataclass(slots=True)
class Analysis:
    transcript: Transcript
    language: str  # the call's language code ("pt-BR", "en", ...)
    lang: str  # which word lists apply: "pt" or "en"
    sentences: list[Sentence]
    turns: list[Turn]
    participants: list[str]
    stopwords: frozenset[str]
    name_lemmas: set[str] = field(default_factory=set)
    surfaces: dict[str, Counter[str]] = field(default_factory=dict)
    nouns: set[str] = field(default_factory=set)  # lowercase words said after an article
    proper: set[str] = field(default_factory=set)  # capitalized words said mid-sentence
    technical: set[str] = field(default_factory=set)  # lemmas written as technical terms
    idf: dict[str, float] = field(default_factory=dict)

    def surface(self, lemma_: str) -> str:
        """How a lemma is said most often in the call, other than a stopword."""
        forms = self.surfaces.get(lemma_)
        if not forms:
            return lemma_
        ranked = forms.most_common()
        return next((w for w, _ in ranked if w.lower() not in self.stopwords), ranked[0][0])

    def weight(self, lemma_: str) -> float:
        return self.idf.get(lemma_, 0.0) * (1.5 if lemma_ in self.technical else 1.0)

    def is_name(self, lemma_: str) -> bool:
        return lemma_ in self.name_lemmas

    def weighted(self, sentences: list[Sentence]) -> dict[str, float]:
        """Each lemma of the sentences (names left out) by its count times its call-wide weight."""
        counts = Counter(x for s in sentences for x in s.lemmas if not self.is_name(x))
        return {x: count * self.weight(x) for x, count in counts.items()}

    def evidence(self, sentences: list[Sentence]) -> list[str]:
        return sorted({sid for s in sentences for sid in s.evidence})

    def cue(self, name: str) -> re.Pattern[str]:
        return lexicon.cue(self.lang, name)

    def words(self, name: str) -> frozenset[str]:
        return lexicon.words(self.lang, name)


def word_lists_for(language: str) -> str:
    """English calls read the English lists; every other language the pt-BR ones."""
    return "en" if language.lower().startswith("en") else "pt"


@lru_cache(maxsize=131072)
def lemma(word: str, lang: str) -> str:
    lower = word.lower()
    if is_technical_term(word) or not lower.isalpha():
        return lower
    return simplemma.lemmatize(lower, lang=lang).lower()


def _turns_text(transcript: Transcript) -> list[tuple[str | None, list[tuple[int, str]]]]:
    """Consecutive segments of one speaker, joined while a sentence is still open."""
    turns: list[tuple[str | None, list[tuple[int, str]]]] = []
    for index, segment in enumerate(transcript.segments):
        text = " ".join(segment.text.split())
        if not text:
            continue
        if turns and turns[-1][0] == segment.speaker:
            turns[-1][1].append((index, text))
        else:
            turns.append((segment.speaker, [(index, text)]))
    return turns


def _sentence_spans(pieces: list[tuple[int, str]], lang: str) -> list[tuple[str, list[int]]]:
    """Sentences of one turn, each with the segments its characters come from."""
    joined, owners = "", []
    for index, text in pieces:
        if joined:
            joined += " "
            owners.append(index)
        joined += text
        owners.extend([index] * len(text))
    out: list[tuple[str, list[int]]] = []
    cursor = 0
    for sentence in simplemma.split_sentences(joined, lang=lang):
        at = joined.find(sentence, cursor)
        if at < 0:
            at = cursor
        cursor = at + len(sentence)
        covered = sorted(set(owners[at:cursor])) or [pieces[-1][0]]
        out.append((sentence, covered))
    return out


def analyze(transcript: Transcript) -> Analysis:
    sample = " ".join(s.text for s in transcript.segments[:400])
    language = (
        detect_language(sample, hint=transcript.language)
        if sample.strip()
        else (transcript.language or "pt-BR")
    )
    lang = word_lists_for(language)
    stopwords = lexicon.words(lang, "stopwords")
    segments = transcript.segments
    sentences: list[Sentence] = []
    turns: list[Turn] = []
    for speaker, pieces in _turns_text(transcript):
        turn = Turn(index=len(turns), speaker=speaker)
        for raw, covered in _sentence_spans(pieces, lang):
            text = normalize_spoken(raw) if lang == "pt" else raw
            fragments = find_fragments(text)
            prose, programs = text, []
            for fragment in reversed(fragments):
                if fragment.kind == "command":
                    program = text[fragment.start : fragment.end].split()[0]
                    if program in CLI_PROGRAMS:
                        programs.append(program)
                prose = prose[: fragment.start] + " ; " + prose[fragment.end :]
            content = [
                w
                for w in words(prose)
                if len(w) > 2 and w.lower() not in stopwords and not w.isdigit()
            ]
            sentence = Sentence(
                index=len(sentences),
                turn=turn.index,
                segments=covered,
                start=segments[covered[0]].start,
                end=segments[covered[-1]].end,
                speaker=speaker,
                text=text,
                lemmas=[lemma(w, lang) for w in [*content, *programs]],
                n_words=len(text.split()),
                has_command=any(f.kind == "command" for f in fragments),
                prose=prose,
                fragments=[text[f.start : f.end] for f in fragments],
            )
            sentences.append(sentence)
            turn.sentences.append(sentence)
        if turn.sentences:
            turns.append(turn)
    analysis = Analysis(
        transcript=transcript,
        language=language,
        lang=lang,
        sentences=sentences,
        turns=turns,
        participants=transcript.speakers,
        stopwords=stopwords,
    )
    _index_vocabulary(analysis)
    return analysis


def _index_vocabulary(analysis: Analysis) -> None:
    lang = analysis.lang
    openers = lexicon.words(lang, "noun_openers")
    analysis.name_lemmas = {
        lemma(w, lang) for p in analysis.participants for w in words(p) if len(w) > 1
    }
    for sentence in analysis.sentences:
        tokens = words(sentence.prose)
        for i, w in enumerate(tokens):
            analysis.surfaces.setdefault(lemma(w, lang), Counter())[w] += 1
            if i and tokens[i - 1].lower() in openers and w.islower():
                analysis.nouns.add(w)
            elif i and w[:1].isupper() and not w.isupper():
                analysis.proper.add(w)
    analysis.technical = {
        key
        for key, forms in analysis.surfaces.items()
        if is_technical_term(forms.most_common(1)[0][0])
    }
    document_frequency: Counter[str] = Counter()
    for sentence in analysis.sentences:
        document_frequency.update(set(sentence.lemmas))
    n = max(len(analysis.sentences), 1)
    analysis.idf = {key: math.log((n + 1) / (df + 0.5)) for key, df in document_frequency.items()}
