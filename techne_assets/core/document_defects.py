"""Defects a trainer would fix in a document, counted for `techne eval`.

Each check reads the `Document` a writer produced and returns the offending items' texts, so
the evaluation shows what to fix, not only how many. The rules are statements about the
document format, not about any call:

- duplicate titles: two topics, procedures or problems whose titles are the same once case,
  accents, Markdown marks and spacing are ignored;
- glossary entries without a definition: the definition must say what the term is. Time
  citations aside ("(00:03:57)"), it needs at least two meaning words besides the term's
  own and no note about the call ("citado em …", "3 menções"), and when it repeats the term
  it must predicate something about it with a defining verb next to the term ("X é …",
  "X significa …", "chamamos de X"). Form is all it can check: "X é o primeiro suspeito"
  passes;
- Q&A pairs with the same speaker on both sides (known only when the writer names both);
- action items that are not commitments: greetings, thanks or audio checks with nothing else
  in them, and reports of the past that carry no deadline, by the rule of
  `core.commitment_rules`, which the offline writer applies before it emits an item;
- steps that are warnings, by the shared `classify_instruction` rule.

Cue phrases are data (`lexicon/<language>/call_mention.txt`, `defining_verbs.txt`,
`stopwords.txt`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache

from pydantic import BaseModel, Field

from techne_assets import lexicon
from techne_assets.core.commitment_rules import is_commitment_text
from techne_assets.core.document import ActionItem, Document, GlossaryTerm
from techne_assets.core.instruction_types import classify_instruction

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# A time citation such as "(00:03:57)" or "[12:04]": where the term was said, not what it is.
_TIME_CITATION = re.compile(r"[(\[]?(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)[)\]]?")
_MARKDOWN = re.compile(r"[`*_\[\]\\]")
_MIN_DEFINING_WORDS = 2
# How far from a repeated term its defining verb may be, in characters.
_CUE_REACH = 40


class DocumentDefects(BaseModel):
    duplicate_titles: list[str] = Field(default_factory=list)
    undefined_glossary_terms: list[str] = Field(default_factory=list)
    same_speaker_answers: list[str] = Field(default_factory=list)
    non_commitment_actions: list[str] = Field(default_factory=list)
    warning_steps: list[str] = Field(default_factory=list)


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", _MARKDOWN.sub("", text).casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def cue_language(language: str | None) -> str:
    """The word-list language of a call's language code ("pt-BR" → "pt", "en-US" → "en")."""
    base = (language or "pt").lower().split("-")[0].split("_")[0]
    return base if base in lexicon.LANGUAGES else "pt"


@cache
def _stopwords() -> frozenset[str]:
    return frozenset(
        _key(w) for language in lexicon.LANGUAGES for w in lexicon.words(language, "stopwords")
    )


def _meaning_words(text: str) -> list[str]:
    return [
        w for w in (_key(m) for m in _WORD.findall(text)) if len(w) > 2 and w not in _stopwords()
    ]


def _any_cue(name: str, text: str) -> bool:
    return any(lexicon.cue(language, name).search(text) for language in lexicon.LANGUAGES)


def duplicate_titles(document: Document) -> list[str]:
    """Titles of topics, procedures and problems that repeat an earlier title, in order."""
    titles = [
        *(t.title for t in document.topics),
        *(p.title for p in document.procedures),
        *(p.title for p in document.troubleshooting),
    ]
    seen: Counter[str] = Counter()
    repeated = []
    for title in titles:
        seen[_key(title)] += 1
        if seen[_key(title)] > 1:
            repeated.append(title)
    return repeated


def is_definition(entry: GlossaryTerm) -> bool:
    """Whether the entry's definition says what the term is (see the module docstring)."""
    definition = _TIME_CITATION.sub(" ", entry.definition).strip()
    if not definition or _any_cue("call_mention", definition):
        return False
    term_words = set(_meaning_words(entry.term))
    if len([w for w in _meaning_words(definition) if w not in term_words]) < _MIN_DEFINING_WORDS:
        return False
    folded, term = _MARKDOWN.sub("", definition).casefold(), entry.term.strip().casefold()
    position = folded.find(term)
    if position < 0:
        return True  # a definition written on its own: "marcador no primário que …"
    # The term is repeated: something must be predicated of it, or it must be named by a cue.
    before, after = folded[:position], folded[position + len(term) :]
    return _any_cue("defining_verbs", after[:_CUE_REACH]) or _any_cue(
        "defining_verbs", before[-_CUE_REACH:]
    )


def undefined_glossary_terms(document: Document) -> list[str]:
    return [entry.term for entry in document.glossary if not is_definition(entry)]


def same_speaker_answers(document: Document) -> list[str]:
    """Questions whose answer the writer gives to the person who asked."""
    return [
        qa.question
        for qa in document.questions
        if qa.asked_by and qa.answered_by and _key(qa.asked_by) == _key(qa.answered_by)
    ]


def is_commitment(item: ActionItem, language: str = "pt") -> bool:
    """Whether the item asks someone to do something from now on, by the rule the offline
    writer applies too (`core.commitment_rules`)."""
    return is_commitment_text(item.text, language, owner=item.owner, deadline=item.deadline)


def non_commitment_actions(document: Document, language: str = "pt") -> list[str]:
    return [item.text for item in document.action_items if not is_commitment(item, language)]


def warning_steps(document: Document, language: str = "pt") -> list[str]:
    return [
        step.text
        for procedure in document.procedures
        for step in procedure.steps
        if classify_instruction(step.text, language) == "warning"
    ]


def find_defects(document: Document, language: str | None = None) -> DocumentDefects:
    """Every defect of the document; `language` is the call's (default: the header's, else pt)."""
    cues = cue_language(language or document.header.language)
    return DocumentDefects(
        duplicate_titles=duplicate_titles(document),
        undefined_glossary_terms=undefined_glossary_terms(document),
        same_speaker_answers=same_speaker_answers(document),
        non_commitment_actions=non_commitment_actions(document, cues),
        warning_steps=warning_steps(document, cues),
    )
