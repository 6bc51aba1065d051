"""Commitments: the action items, with their owner and deadline when they were said.

A commitment is a task someone takes on: a phrase that assigns it outright ("fica comigo",
"pode deixar"), a task verb in the present or the future with a subject ("eu abro o chamado
amanhã", "a Carla revisa os limites até sexta", "o Bruno vai atualizar o runbook"), or an item
of a list opened by "Action items:" / "Próximos passos:". Greetings and things already done
("eu abri o chamado ontem") never are: that rule is `core.commitment_rules`, the one `techne
eval` counts non-commitments by, and every item is checked against it before it is emitted.
Tense is read from the verb's ending against its `simplemma` lemma by the shared
`is_past_verb` (hand-written: no offline pt-BR morphology library ships tense); deadlines are
cue phrases, with number words written as digits by `text2num`.
"""

from __future__ import annotations

import re

from text_to_num import alpha2digit

from techne_assets.core.commitment_rules import (
    is_commitment_text,
    is_past_verb,
    takes_on_a_task,
)
from techne_assets.core.document import ActionItem
from techne_assets.core.text_rules import quote_technical
from techne_assets.core.writing.offline.analysis import Analysis, Sentence, lemma

_PT_INFINITIVE = re.compile(r".+(?:ar|er|ir|or)")
_PRONOUNS = frozenset(
    ["eu", "nós", "gente", "você", "vocês", "ele", "ela", "i", "we", "you", "he", "she", "they"]
)
_FIRST_PERSON = {
    "pt": frozenset(["eu", "vou", "fico", "comigo", "posso"]),
    "en": frozenset(["i", "i'll", "me"]),
}
_SPEAKER_SUBJECTS = frozenset(["eu", "i"])
_ITEM_SPLIT = re.compile(r"\s*;\s*|\s+\d+\)\s*")


def _tensed_verb(analysis: Analysis, tokens: list[str]) -> tuple[str, str, int] | None:
    """The first verb said after a subject or an auxiliary: (infinitive, tense, position).

    The tense is "future" (after vou/vai/will), "present", "past" or "infinitive".
    """
    lang = analysis.lang
    auxiliaries = analysis.words("future_auxiliary")
    firsts = {_first_name(p) for p in analysis.participants}
    lowered = [t.lower() for t in tokens]
    for i, token in enumerate(tokens):
        low = lowered[i]
        if (
            low in auxiliaries
            or low in analysis.stopwords
            and low not in analysis.words("commitment_verbs")
        ):
            continue
        infinitive = lemma(token, lang)
        if lang == "pt" and not _PT_INFINITIVE.fullmatch(infinitive):
            # A first-person form the lemmatizer reads as a noun ("mando" → "mando").
            infinitive = next(
                (
                    low[:-1] + ending
                    for ending in ("ar", "er", "ir")
                    if low.endswith("o") and low[:-1] + ending in analysis.words("commitment_verbs")
                ),
                "",
            )
            if not infinitive:
                continue
        before = lowered[max(0, i - 3) : i]
        aux = any(b in auxiliaries for b in before) or (
            lang == "en" and any(b.endswith("'ll") for b in before)
        )
        subject = (
            aux
            or any(b in _PRONOUNS or b in firsts for b in before)
            or any(t[:1].isupper() for t in tokens[max(1, i - 2) : i])
        )
        if not subject:
            continue
        if aux:
            return infinitive, "future", i
        if low == infinitive:
            return infinitive, "infinitive", i
        return infinitive, "past" if is_past_verb(low, lang) else "present", i
    return None


def is_commitment(analysis: Analysis, sentence: Sentence, *, listed: bool = False) -> bool:
    """Whether the sentence commits someone to a task (see the module docstring)."""
    text = sentence.text
    if sentence.is_question or sentence.n_words < 3 or analysis.cue("topic_shift").search(text):
        return False
    if analysis.cue("greeting").match(text) and sentence.n_words < 12:
        return False
    if not is_commitment_text(text, analysis.lang):
        return False
    if analysis.cue("commitment_strong").search(text) or takes_on_a_task(text, analysis.lang):
        return True
    tokens = re.findall(r"[\wÀ-ÿ']+", text)
    verb = _tensed_verb(analysis, tokens)
    if verb is None:
        return listed and sentence.n_words >= 3
    infinitive, tense, at = verb
    if tense == "past":
        return False
    if listed:
        return True
    deadline = bool(analysis.cue("deadline").search(text))
    deliverable = infinitive in analysis.words("commitment_verbs")
    if tense == "future":
        return deliverable or deadline
    if tense != "present":
        return False
    # "eu mando no grupo", "eu altero o logrotate hoje": the speaker takes it on, now.
    speaker_takes_it = bool({t.lower() for t in tokens[max(0, at - 3) : at]} & _SPEAKER_SUBJECTS)
    soon = bool(analysis.cue("soon").search(text))
    return deadline or (speaker_takes_it and (deliverable or soon))


_NOT_SUBJECT_BEFORE = frozenset(
    ["com", "para", "pra", "pro", "do", "da", "de", "with", "to", "for", "from"]
)


def _first_name(participant: str) -> str:
    """The name a speaker is called by: "tom.b" → "tom", "Kenji (SRE) | Northwind" → "kenji"."""
    found = re.match(r"[^\W\d_]+", participant.strip())
    return found.group().lower() if found else participant.lower()


def _owner(analysis: Analysis, text: str, speaker: str | None) -> str | None:
    """Who does it: a participant named as the subject ("a Carla revisa", "Bruno, você…"),
    else the speaker when they speak in the first person, else nobody said."""
    tokens = [t.lower() for t in re.findall(r"[\wÀ-ÿ']+", text)]
    first_person = next(
        (i for i, t in enumerate(tokens) if t in _FIRST_PERSON[analysis.lang] or t == "comigo"),
        None,
    )
    for participant in analysis.participants:
        name = _first_name(participant)
        for i, token in enumerate(tokens):
            if token != name or (i and tokens[i - 1] in _NOT_SUBJECT_BEFORE):
                continue
            if (
                i >= 2
                and tokens[i - 2] in _NOT_SUBJECT_BEFORE
                and tokens[i - 1] in ("o", "a", "the")
            ):
                continue
            if first_person is None or i < first_person:
                return participant
    if first_person is not None:
        return speaker
    return _named_subject(analysis, text)


_PT_NAMED_SUBJECT = re.compile(r"^(?:[Oo]|[Aa])\s+([A-ZÀ-Ú][\wÀ-ÿ]+)\s+([a-zà-ÿ]+)")
_EN_NAMED_SUBJECT = re.compile(r"^([A-Z][a-z]+)\s+([a-z]+s)\b")


def _named_subject(analysis: Analysis, text: str) -> str | None:
    """Someone who is not a speaker, named as the subject: "a Carla agenda…", "Tom moves…"."""
    found = (_EN_NAMED_SUBJECT if analysis.lang == "en" else _PT_NAMED_SUBJECT).match(text.strip())
    if not found:
        return None
    name, verb = found.groups()
    return None if verb in analysis.stopwords else name


def _deadline(analysis: Analysis, text: str) -> str | None:
    # Number words only as a fallback: `alpha2digit` also writes ordinals ("sexta" → "6ª").
    deadline = analysis.cue("deadline")
    found = deadline.search(text) or deadline.search(alpha2digit(text, analysis.lang))
    return found.group() if found else None


def _items_of_list(analysis: Analysis, sentence: Sentence) -> list[str] | None:
    """The items of "Próximos passos: ...", or None when the sentence opens no list."""
    found = analysis.cue("action_list").search(sentence.text)
    if not found:
        return None
    rest = sentence.text[found.end() :]
    if (
        not rest.lstrip().startswith(":")
        and ":" not in sentence.text[found.start() : found.end() + 3]
    ):
        return None
    rest = rest.split(":", 1)[-1]
    return [
        _unnumbered(analysis, item) for item in _ITEM_SPLIT.split(rest) if len(item.split()) >= 3
    ]


def _unnumbered(analysis: Analysis, item: str) -> str:
    """A list item without the word that numbers it ("um, eu atualizo…" → "eu atualizo…")."""
    item = item.strip(" .")
    head, _, rest = item.partition(" ")
    if rest and head.rstrip(",:.)").lower() in analysis.words("list_ordinals") | {
        str(n) for n in range(1, 11)
    }:
        if head[-1] in ",:.)":
            return rest[:1].upper() + rest[1:]
    return item


def action_items(analysis: Analysis) -> list[ActionItem]:
    items: list[ActionItem] = []
    seen: set[str] = set()

    def add(text: str, sentence: Sentence) -> None:
        key = text.lower().strip(" .")
        owner, deadline = _owner(analysis, text, sentence.speaker), _deadline(analysis, text)
        if key in seen or not is_commitment_text(
            text, analysis.lang, owner=owner, deadline=deadline
        ):
            return
        seen.add(key)
        items.append(
            ActionItem(
                text=quote_technical(text),
                owner=owner,
                deadline=deadline,
                at=sentence.start,
                evidence=sentence.evidence,
            )
        )

    open_list: int | None = None  # the turn whose list is still being read
    for sentence in analysis.sentences:
        listed = _items_of_list(analysis, sentence)
        if listed is not None:
            open_list = sentence.turn
            for item in listed:
                add(item, sentence)
            continue
        if open_list == sentence.turn and is_commitment(analysis, sentence, listed=True):
            add(_unnumbered(analysis, sentence.text), sentence)
            continue
        open_list = None
        if sentence.role == "commitment":
            add(sentence.text, sentence)
    return items
