"""What makes a sentence a commitment, shared by the offline writer and `techne eval`.

One rule, so that the writer never emits an action item that the evaluation counts as "not a
commitment", and a procedure never keeps as a step what is a task someone took on:

- a greeting, thanks or audio check with nothing else in it is never a commitment;
- a report of the past is never one, unless it carries a deadline: a past-time marker
  (`past_time.txt`: "ontem", "semana passada"), a date said as past ("na quinta-feira
  passada"), "foi/era/estava + particípio" (`past_auxiliary.txt`), or a past-tense verb among
  the first words (listed in `irregular_past.txt`, or a regular preterite or imperfect ending
  on a word whose `simplemma` lemma is a different infinitive; `is_past_verb`, which the
  writer's commitments stage also reads a verb's tense by);
- a deadline is a cue of `deadline.txt` that is not a past date.

Tense is read from endings and lemmas by hand because no library tags pt-BR verb tense
offline; the endings are the regular preterite (pt) and "-ed" (en) ones, the participle
endings the regular ones.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from techne_assets import lexicon

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_PAST_VERB_WINDOW = 3
_MIN_VERB_LENGTH = 4  # "abri", "subi"; shorter words are pronouns and articles
_MIN_MEANING_WORDS = 2
# Regular preterite and imperfect endings (pt: "rodei", "abri", "revisou", "abriu",
# "fizeram", "rodava", "abria"; en: "updated").
_PAST_ENDINGS = {
    "pt": ("ei", "ou", "iu", "eu", "i", "aram", "eram", "iram", "ava", "avam", "ia", "iam"),
    "en": ("ed",),
}
_INFINITIVE_ENDINGS = {"pt": ("ar", "er", "ir", "or"), "en": ("",)}
_PARTICIPLE = {
    "pt": re.compile(r"[^\W\d_]{2,}(?:ad|id)[oa]s?", re.IGNORECASE),
    "en": re.compile(r"[^\W\d_]{2,}(?:ed|en)", re.IGNORECASE),
}
# Words allowed between the auxiliary and its participle: "foi completamente desativado".
_PARTICIPLE_REACH = 2
# The word that turns a date into a past one: "quinta-feira passada", "last Friday".
_PAST_DATE_AFTER = re.compile(r"(?:-feira)?\s+(?:passad[oa]|anterior)\b", re.IGNORECASE)
_PAST_DATE_BEFORE = re.compile(r"\b(?:last|past)\s+$", re.IGNORECASE)
SUBJECT_PRONOUNS = frozenset(
    {"eu", "ele", "ela", "nós", "eles", "elas", "a", "o", "gente", "i", "he", "she", "we", "they"}
)
# The speaker as the subject, and the verb after it: "eu coloco", "eu vou mandar", "I'll send".
_FIRST_PERSON = {
    "pt": re.compile(r"(?<!\w)(?:eu|a gente)\s+(?:vou\s+|vai\s+)?([^\W\d_]+)", re.IGNORECASE),
    "en": re.compile(r"(?<!\w)(?:I|I'll|we'll)\s+(?:will\s+)?([^\W\d_]+)", re.IGNORECASE),
}


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _lemmatize(word: str, language: str) -> str:
    import simplemma

    return simplemma.lemmatize(word, lang=language).casefold()


def words_of(text: str) -> list[str]:
    return [m.casefold() for m in _WORD.findall(text)]


def meaning_words(text: str, language: str) -> list[str]:
    stopwords = {_key(w) for w in lexicon.words(language, "stopwords")}
    return [w for w in map(_key, words_of(text)) if len(w) > 2 and w not in stopwords]


def is_past_verb(word: str, language: str) -> bool:
    """An irregular past form, or a regular preterite ending on a verb whose lemma differs."""
    if word in lexicon.words(language, "irregular_past"):
        return True
    lemma = _lemmatize(word, language)
    # "copia", "anuncia": the present of an "-iar" verb, not an imperfect.
    present_of_iar = word.endswith(("ia", "iam")) and lemma.endswith("iar")
    return (
        len(word) >= _MIN_VERB_LENGTH
        and lemma != word
        and word.endswith(_PAST_ENDINGS[language])
        and lemma.endswith(_INFINITIVE_ENDINGS[language])
        and not present_of_iar
    )


def _has_past_passive(tokens: list[str], language: str) -> bool:
    """A past auxiliary before a participle ("foi desativado", "was disabled"): already done."""
    auxiliaries = lexicon.words(language, "past_auxiliary")
    participle = _PARTICIPLE[language]
    for i, token in enumerate(tokens):
        if token in auxiliaries and any(
            participle.fullmatch(t) for t in tokens[i + 1 : i + 1 + _PARTICIPLE_REACH]
        ):
            return True
    return False


def has_deadline(text: str, language: str) -> bool:
    """A deadline cue that is not a past date ("na quinta-feira passada", "last Friday")."""
    for match in lexicon.cue(language, "deadline").finditer(text):
        before, after = text[: match.start()], text[match.end() :]
        if not _PAST_DATE_AFTER.match(after) and not _PAST_DATE_BEFORE.search(before):
            return True
    return False


def said_as_past(date: str, text: str) -> bool:
    """Whether the text says the date as a past one ("na quinta-feira passada")."""
    position = text.casefold().find(date.casefold())
    return position >= 0 and _PAST_DATE_AFTER.match(text[position + len(date) :]) is not None


def is_only_greeting(text: str, language: str) -> bool:
    """A greeting, thanks or audio check with fewer than two meaning words besides it."""
    rest = text
    for name in ("greeting", "audio_check"):
        rest = lexicon.cue(language, name).sub(" ", rest)
    return rest != text and len(meaning_words(rest, language)) < _MIN_MEANING_WORDS


def reports_the_past(text: str, language: str, owner: str | None = None) -> bool:
    """Whether the text tells what was done rather than what will be (see the docstring)."""
    if lexicon.cue(language, "past_time").search(text) or _PAST_DATE_AFTER.search(text):
        return True
    tokens = words_of(text)
    if _has_past_passive(tokens, language):
        return True
    named = {_key(w) for w in words_of(owner or "")}
    leading = [w for w in tokens if _key(w) not in named and w not in SUBJECT_PRONOUNS]
    return any(is_past_verb(w, language) for w in leading[:_PAST_VERB_WINDOW])


def is_commitment_text(
    text: str, language: str, *, owner: str | None = None, deadline: str | None = None
) -> bool:
    """Whether an action item asks someone to do something from now on."""
    if is_only_greeting(text, language):
        return False
    if has_deadline(text, language) or (deadline and not said_as_past(deadline, text)):
        return True
    return not reports_the_past(text, language, owner)


def takes_on_a_task(text: str, language: str) -> bool:
    """A first-person task in the present or future, with a deadline or a deliverable:
    "…, eu coloco o link no chamado", "eu mando o runbook amanhã". Such a sentence is an
    action item, never a procedure step."""
    found = _FIRST_PERSON[language].search(text)
    if not found or reports_the_past(text[found.start() :], language):
        return False
    verb = found.group(1).casefold()
    if is_past_verb(verb, language) or verb in lexicon.words(language, "stopwords"):
        return False
    rest = text[found.end() :]
    deliverable = any(
        lexicon.cue(language, name).search(rest) for name in ("document_nouns", "deliverable")
    )
    return deliverable or has_deadline(text, language)
