"""Glossary: only terms the call defines, each with the sentence that defines it.

A term is defined when it is the subject of "X é um…", "X significa…", "X quer dizer…", when
it is named by "chamamos de X" / "o que a gente chama de X", when an acronym is spelled out
("TES é Tipo de Entrada e Saída"), or when someone asked "o que é X?" and another participant
answered. An adjective alone ("X é importante") is no definition. Candidates are technical
terms (acronyms, CamelCase, words with digits, known English technical words, compounds);
person names, stopwords and terms never explained are left out, so a caption typo or a brand
that was only mentioned never becomes an entry. The definition cues are data files.
"""

from __future__ import annotations

import re
from collections import Counter

from techne_assets.core.document import GlossaryTerm
from techne_assets.core.text_rules import (
    ENGLISH_TECH_WORDS,
    TICKET_RE,
    find_fragments,
    is_technical_term,
    quote_technical,
    words,
)
from techne_assets.core.transcript import format_timestamp
from techne_assets.core.writing.offline.analysis import Analysis, Sentence, lemma

MAX_TERMS = 15
MIN_DEFINITION_WORDS = 4
MAX_DEFINITION_WORDS = 60
_COMPOUND_RE = re.compile(r"[a-z]{2,}(?:-[a-z]{2,})+")  # "back-off", "write-ahead"
_NOT_SUBJECT = {
    "pt": "se|quando|porque|que|como|mas|caso|onde",
    "en": "if|when|because|that|how|but|where",
}


def _alternation(entries: frozenset[str]) -> str:
    return "|".join(sorted(entries, key=len, reverse=True))


def _candidates(
    analysis: Analysis,
) -> tuple[Counter[str], dict[str, Counter[str]], dict[str, list[Sentence]]]:
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    mentions: dict[str, list[Sentence]] = {}
    for sentence in analysis.sentences:
        prose = sentence.text
        for fragment in reversed(find_fragments(prose)):
            prose = prose[: fragment.start] + " " + prose[fragment.end :]
        for w in words(prose):
            key = w.lower()
            if key.endswith("s") and key[:-1] in ENGLISH_TECH_WORDS:
                key, w = key[:-1], w[:-1]
            technical = is_technical_term(w) or bool(_COMPOUND_RE.fullmatch(w))
            if not technical or key in analysis.stopwords or TICKET_RE.fullmatch(w):
                continue
            if analysis.is_name(lemma(w, analysis.lang)):
                continue
            counts[key] += 1
            forms.setdefault(key, Counter())[w] += 1
            bucket = mentions.setdefault(key, [])
            if not bucket or bucket[-1] is not sentence:
                bucket.append(sentence)
    return counts, forms, mentions


def _named_terms(analysis: Analysis) -> dict[str, tuple[str, Sentence]]:
    """Terms introduced by "chamamos de X": any noun phrase of up to three words."""
    naming = analysis.cue("definition_naming")
    out: dict[str, tuple[str, Sentence]] = {}
    for sentence in analysis.sentences:
        if sentence.is_question or sentence.n_words < MIN_DEFINITION_WORDS:
            continue
        for m in naming.finditer(sentence.text):
            named = re.match(
                r"\s+[\"“]?((?:[\wÀ-ÿ-]+\s?){1,3}?)(?=[\"”,.;:]|\s+(?:e|que|ou|o|a|os|as|um|uma|and|or|which|the|a|an)\b|$)",
                sentence.text[m.end() :],
            )
            if not named:
                continue
            term = named.group(1).strip()
            key = term.lower()
            if key in analysis.stopwords or analysis.is_name(lemma(term.split()[0], analysis.lang)):
                continue
            out.setdefault(key, (term, sentence))
    return out


_ASKED = re.compile(
    r"\b(?:o que (?:é|são|significa)|what(?:'s| is| are| does))\s+(?:o |a |os |as |um |uma |the |an? )?"
    r"([\wÀ-ÿ-]{3,})(?:,?\s+(?:exatamente|mesmo|exactly))?\?",
    re.IGNORECASE,
)


def _asked_terms(analysis: Analysis) -> dict[str, list[Sentence]]:
    """Words someone asked about ("O que é copytruncate?"), with the sentences that say them."""
    asked: dict[str, list[Sentence]] = {}
    for sentence in analysis.sentences:
        found = _ASKED.search(sentence.text) if sentence.is_question else None
        if found and found.group(1).lower() not in analysis.stopwords:
            asked.setdefault(found.group(1), [])
    if not asked:
        return asked
    for sentence in analysis.sentences:
        for term, said in asked.items():
            if term.lower() in sentence.text.lower():
                said.append(sentence)
    return asked


class _Definitions:
    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.verbs = _alternation(analysis.words("definition"))
        self.copula = _alternation(analysis.words("definition_copula"))
        self.objects = _alternation(analysis.words("definition_object"))
        self.continues = analysis.cue("definition_continues")

    def explanation(self, term: str, mentions: list[Sentence]) -> Sentence | None:
        analysis = self.analysis
        escaped = re.escape(term)
        # The term opens the sentence, or the clause after an introduction ("Pra quem não
        # conhece: OOMKilled quer dizer …"); "Por isso o CloudTrail é o lugar…" is no definition.
        # A connective may open it too: "E o SLO é o objetivo que a gente define …".
        lead = rf"^(?:[^,:;]{{0,40}}[,:;]\s+)?(?:(?:e|and)\s+)?(?:(?:{_NOT_SUBJECT[analysis.lang]})\s+)?"
        tail = (
            rf"(?:\s+(?:de|do|da|dos|das|of)\s+[^\s,]+)?\s+(?:(?:{self.verbs})\s+\S"
            # after the copula, a predicate of four words or more: "é um pooler de conexões
            # que…", not "é o primeiro suspeito, sim"
            rf"|(?:{self.copula})\s+(?=(?:[^\s,.;]+\s+){{3}}[^\s,.;]))"
        )
        # "X é um …" (or a longer predicate: "X significa a quantidade de …"), not "X é importante."
        modifier = r"(?:[a-z]+\s+)?" if analysis.lang == "en" else ""  # "a connection pool is"
        defining = re.compile(
            rf"{lead}(?:o |a |os |as |the |an? )?{modifier}{escaped}{tail}",
            re.IGNORECASE,
        )
        copula = re.compile(
            rf"{escaped}\s+(?:{self.copula})\s+(?!(?:{self.objects})\b)\S+[.!]?$", re.IGNORECASE
        )
        asked = re.compile(
            rf"\b(?:o que (?:é|são|significa)|what(?:'s| is| are| does))\s+(?:o |a |os |as |um |uma |the |an? )?{escaped}\b",
            re.IGNORECASE,
        )
        initials = term if re.fullmatch(r"[A-Z]{2,6}", term) else None
        for sentence in mentions:
            if sentence.is_question or sentence.n_words < MIN_DEFINITION_WORDS:
                continue
            if (defining.search(sentence.text) and not copula.search(sentence.text)) or (
                initials and _spells(initials, sentence.text)
            ):
                return sentence
        for sentence in mentions:
            if sentence.is_question and asked.search(sentence.text):
                answer = self._answer_to(sentence)
                if answer is not None:
                    return answer
        return None

    def _answer_to(self, question: Sentence) -> Sentence | None:
        for sentence in self.analysis.sentences[question.index + 1 : question.index + 8]:
            if sentence.speaker != question.speaker and not sentence.is_question:
                return sentence if sentence.n_words >= MIN_DEFINITION_WORDS else None
        return None

    def quoted(self, sentence: Sentence, term: str) -> tuple[str, list[Sentence]]:
        """The defining sentence, with the next one when it goes on about the same thing
        ("É o registro …", or the term again as its subject: "SLI significa … Um SLI é …")."""
        sentences = self.analysis.sentences
        said = [sentence]
        following = sentences[sentence.index + 1] if sentence.index + 1 < len(sentences) else None
        restated = re.compile(
            rf"^(?:(?:o|a|os|as|um|uma|the|an?)\s+)?{re.escape(term)}\s+(?:{self.copula}|{self.verbs})\s",
            re.IGNORECASE,
        )
        if (
            following is not None
            and following.turn == sentence.turn
            and not following.is_question
            and (self.continues.match(following.text) or restated.match(following.text))
            and sentence.n_words + following.n_words <= MAX_DEFINITION_WORDS
        ):
            said.append(following)
        text = " ".join(s.text for s in said)
        return f"{quote_technical(text)} ({format_timestamp(sentence.start)})", said


def build(analysis: Analysis) -> list[GlossaryTerm]:
    counts, forms, mentions = _candidates(analysis)
    definitions = _Definitions(analysis)
    found: dict[str, tuple[str, Sentence]] = {}
    for key in counts:
        term = forms[key].most_common(1)[0][0]
        sentence = definitions.explanation(term, mentions[key])
        if sentence is not None:
            found[key] = (term, sentence)
    for key, (term, sentence) in _named_terms(analysis).items():
        found.setdefault(key, (term, sentence))
    for term, said in _asked_terms(analysis).items():
        sentence = definitions.explanation(term, said)
        if sentence is not None:
            found.setdefault(term.lower(), (term, sentence))
    ranked = sorted(found, key=lambda k: (-counts.get(k, 1), found[k][1].index, k))[:MAX_TERMS]
    terms: list[GlossaryTerm] = []
    for key in sorted(ranked, key=str.casefold):
        term, sentence = found[key]
        definition, said = definitions.quoted(sentence, term)
        terms.append(
            GlossaryTerm(term=term, definition=definition, evidence=analysis.evidence(said))
        )
    return terms


def _spells(acronym: str, text: str) -> bool:
    """Whether the text spells the acronym out: "TES é Tipo de Entrada e Saída"."""
    capitals = r"[A-ZÀ-Ú][\wÀ-ÿ-]*"
    joiner = r"(?:\s+(?:de|do|da|dos|das|e|of|and|the|a|o|for)\s+|\s+)"
    for m in re.finditer(rf"{capitals}(?:{joiner}{capitals})+", text):
        letters = "".join(w[0] for w in re.findall(capitals, m.group()) if w != acronym)
        if len(letters) <= len(acronym) + 1 and letters.upper().startswith(acronym.upper()):
            return True
    return False
