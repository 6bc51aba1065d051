"""Titles: the noun phrases the speakers said, ranked by how central their lemmas are.

No part-of-speech tagger for pt-BR installs from the package index and runs offline in this
footprint, so nouns are recognized by hand-written rules: a lowercase word the call says after
an article ("o limite") that does not have a verb, adverb or adjective ending, or a technical
term. Phrases are compared by lemmas (`simplemma`), so "limites de memória" and "limite de
memória" are one phrase. `TitleBook` keeps every title of a document unique.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from techne_assets import lexicon
from techne_assets.core.text_rules import CLI_PROGRAMS, COMMAND_BREAK_WORDS, is_technical_term
from techne_assets.core.writing.offline.analysis import Analysis, Sentence, lemma

# Endings of pt-BR verbs (infinitive, gerund, participle, common tenses), adverbs and adjectives.
_VERB_OR_ADJECTIVE_RE = re.compile(
    r".{2,}(?:ar|er|ir|ando|endo|indo|ado|ada|ados|adas|ido|ida|idos|idas|ava|avam|ou|ei|"
    r"eu|iu|amos|emos|imos|aram|eram|iram|ece|ecem|oso|osa|osos|osas|ivo|iva|ivos|ivas|vel|veis|mente|"
    r"inho|inha|inhos|inhas)"
)
# English verb, adverb and adjective endings.
_EN_NOT_NOUN_RE = re.compile(r".{2,}(?:ing|ed|ly|ful|ous|ive|able|ible)")
# Adjectives that read well after a noun in a title ("configuração fiscal", "acesso remoto").
_TITLE_ADJECTIVE_RE = re.compile(
    r"[a-zà-ÿ]{3,}(?:al|ais|ico|ica|icos|icas|ivo|iva|ivos|ivas|oto|ota|otos|otas)"
)
_TITLE_TOKEN_RE = re.compile(r"[\wÀ-ÿ]+(?:[-_.][\wÀ-ÿ]+)*|[^\s\w]")
_OF = frozenset(["de", "do", "da", "dos", "das"])
_IN = frozenset(["em", "no", "na", "nos", "nas"])  # only before a technical term
_ARTICLES = frozenset(["o", "a", "os", "as"])
MAX_PHRASE_WORDS = 4
# Programs that name how a procedure is done ("... com kubectl"); "sudo" only prefixes one.
TITLE_PROGRAMS = frozenset(p for p in CLI_PROGRAMS if p.isalpha() and p.islower()) - {"sudo"}


def is_title_word(word: str, lang: str = "pt") -> bool:
    """Whether a word can name what a section is about: a noun or a technical term."""
    if is_technical_term(word) or not word.islower():
        return True
    lower = word.lower()
    if lower in lexicon.words(lang, "stopwords") or lower in COMMAND_BREAK_WORDS or len(lower) < 3:
        return False
    if lang == "en":
        return not _EN_NOT_NOUN_RE.fullmatch(lower)
    if lower in lexicon.words("pt", "nouns_like_verbs"):
        return True
    return not _VERB_OR_ADJECTIVE_RE.fullmatch(lower)


def _is_verb_form(word: str, lang: str) -> bool:
    """A conjugated verb ("significa", "aplica"): its lemma is an infinitive other than itself."""
    infinitive = lemma(word, lang)
    return infinitive != word and infinitive.endswith(("ar", "er", "ir"))


def title_phrases(
    text: str, is_noun: Callable[[str], bool], lang: str = "pt"
) -> list[tuple[str, list[str]]]:
    """Noun phrases of a sentence that can title a section, as (phrase, content words).

    pt-BR: a noun after an article or contraction ("o limite") or a technical term, then an
    optional adjective ("fiscal") and up to two "de/do/da" complements ("limite de memória do
    container"); "em/no/na" only joins a technical term ("pods em CrashLoopBackOff"). English:
    up to three nouns after an article ("the replication slot"). The phrase is returned
    without its leading article, in the words of the sentence.
    """
    tokens = _TITLE_TOKEN_RE.findall(text)
    lowered = [t.lower() for t in tokens]
    stopwords = lexicon.words(lang, "stopwords")
    openers = lexicon.words(lang, "noun_openers")

    def noun_at(i: int) -> bool:
        if i >= len(tokens):
            return False
        token = tokens[i]
        if not token[:1].isalnum() or lowered[i] in stopwords or token.isdigit():
            return False
        return is_technical_term(token) or (token.islower() and is_noun(token))

    def _complement_at(k: int) -> bool:
        # After "de" a word is a noun even if the call never said it after an article
        # ("orçamento de erro"), unless its ending says verb, adverb or adjective.
        token = tokens[k] if k < len(tokens) else ""
        return (
            token.islower()
            and token[:1].isalpha()
            and is_title_word(token, lang)
            and not _is_verb_form(lowered[k], lang)
        )

    out: list[tuple[str, list[str]]] = []
    for i in range(len(tokens)):
        opened = i > 0 and lowered[i - 1] in openers
        if not noun_at(i) or not (opened or is_technical_term(tokens[i])):
            continue
        parts, content, j = [tokens[i]], [tokens[i]], i + 1
        if lang == "en":
            while j < len(tokens) and len(content) < 3 and noun_at(j):
                parts.append(tokens[j])
                content.append(tokens[j])
                j += 1
            out.append((" ".join(parts), content))
            continue
        if (
            j < len(tokens)
            and tokens[j].islower()
            and lowered[j] not in stopwords
            and _TITLE_ADJECTIVE_RE.fullmatch(lowered[j])
            and not _is_verb_form(lowered[j], lang)
        ):
            parts.append(tokens[j])
            content.append(tokens[j])
            j += 1
        complements = 0
        while complements < 2 and len(content) < MAX_PHRASE_WORDS and j + 1 < len(tokens):
            k = j + 1
            if lowered[j] == "de" and lowered[k] in _ARTICLES:
                k += 1
            joins = lowered[j] in _OF or (
                lowered[j] in _IN and k < len(tokens) and is_technical_term(tokens[k])
            )
            if not (joins and (noun_at(k) or _complement_at(k))):
                break
            parts.extend(tokens[j : k + 1])
            content.append(tokens[k])
            j = k + 1
            complements += 1
        out.append((" ".join(parts), content))
    return out


def join_terms(terms: list[str], lang: str = "pt") -> str:
    if len(terms) <= 1:
        return "".join(terms)
    return ", ".join(terms[:-1]) + " e " + terms[-1]


def capitalized(title: str) -> str:
    """Capital first letter, unless the title starts with a technical name whose case matters."""
    head = title.split(",")[0].split()[0] if title else ""
    lower = re.fullmatch(r"[a-zà-ÿ]+", head) and head not in CLI_PROGRAMS
    return title[:1].upper() + title[1:] if lower else title


class TitleBook:
    """The titles of one document: each new title is the best candidate no section has yet."""

    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.taken: set[str] = set()

    def can_title(self, word: str) -> bool:
        """A technical term, a name said mid-sentence, or a noun said after an article."""
        analysis = self.analysis
        if not is_title_word(word, analysis.lang) or analysis.is_name(lemma(word, analysis.lang)):
            return False
        if is_technical_term(word) or word in analysis.proper or word in TITLE_PROGRAMS:
            return True
        return word.lower() in analysis.nouns

    def top_terms(self, salience: dict[str, float], n: int) -> list[str]:
        """The n most salient lemmas that can name a subject, as the call says them."""
        terms: list[str] = []
        for key, _ in sorted(salience.items(), key=lambda item: (-item[1], item[0])):
            surface = self.analysis.surface(key)
            if self.can_title(surface) and surface not in terms:
                terms.append(surface)
                if len(terms) == n:
                    break
        return terms

    def phrases(
        self, sentences: list[Sentence], salience: dict[str, float], *, reach: int = 5
    ) -> list[str]:
        """Noun phrases of the sentences, best first: the more salient their lemmas, the better."""
        analysis = self.analysis
        top = {lemma(t, analysis.lang) for t in self.top_terms(salience, reach)}
        scores: dict[tuple[str, ...], float] = {}
        surfaces: dict[tuple[str, ...], Counter[str]] = {}
        for sentence in sentences:
            for phrase, content in title_phrases(
                sentence.prose, analysis.nouns.__contains__, analysis.lang
            ):
                key = tuple(lemma(w, analysis.lang) for w in content)
                if (
                    len(key) < 2
                    or not top.intersection(key)
                    or any(analysis.is_name(k) for k in key)
                ):
                    continue
                scores[key] = scores.get(key, 0.0) + sum(salience.get(k, 0.0) for k in set(key))
                surfaces.setdefault(key, Counter())[phrase] += 1
        ranked = sorted(
            scores, key=lambda k: (-scores[k], len(k), surfaces[k].most_common(1)[0][0])
        )
        return [surfaces[k].most_common(1)[0][0] for k in ranked]

    def title(
        self,
        sentences: list[Sentence],
        salience: dict[str, float],
        *,
        prefix: str = "",
        reach: int = 5,
        tool: bool = False,
    ) -> str:
        """A title no other section has: the best free noun phrase, else salient terms."""
        terms = self.top_terms(salience, 6)
        candidates = [
            *self.phrases(sentences, salience, reach=reach),
            *self.phrases(sentences, salience, reach=12),
            *terms,
            *(join_terms(terms[i : i + 2]) for i in range(0, len(terms) - 1, 2)),
        ]
        program = self._program(sentences) if tool else None
        for candidate in candidates:
            text = candidate
            if program and program.lower() not in {
                lemma(w, self.analysis.lang) for w in candidate.split()
            }:
                text = (
                    f"{candidate} com {program}"
                    if self.analysis.lang == "pt"
                    else f"{candidate} ({program})"
                )
            text = prefix + text if prefix else capitalized(text)
            if text.casefold() not in self.taken:
                self.taken.add(text.casefold())
                return text
        first = candidates[0] if candidates else self._any_noun(sentences)
        base = prefix + first if prefix else capitalized(first)
        if base.casefold() not in self.taken:
            self.taken.add(base.casefold())
            return base
        number = 2
        while f"{base} ({number})".casefold() in self.taken:
            number += 1
        title = f"{base} ({number})"
        self.taken.add(title.casefold())
        return title

    def _any_noun(self, sentences: list[Sentence]) -> str:
        """The heaviest word of the sentences that can title anything, when no phrase can."""
        weights = self.analysis.weighted(sentences)
        for key in sorted(weights, key=lambda k: (-weights[k], k)):
            surface = self.analysis.surface(key)
            if is_title_word(surface, self.analysis.lang):
                return surface
        return sentences[0].text.split()[0] if sentences else "Trecho"

    def _program(self, sentences: list[Sentence]) -> str | None:
        programs = Counter(
            fragment.split()[0]
            for sentence in sentences
            for fragment in sentence.fragments
            if fragment.split() and fragment.split()[0] in TITLE_PROGRAMS
        )
        return programs.most_common(1)[0][0] if programs else None
