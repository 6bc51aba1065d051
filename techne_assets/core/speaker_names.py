"""Speaker names written into caption text as `Name: text` (Zoom, Teams and Meet exports).

The formats put no marker between a display name and speech, so a colon-ended prefix could be
a person ("Maria Lima | Acme: …", "ana (@asouza): …", "buildbot: …") or a label inside
speech ("Observação: …", "Passo 1: …", "Erro: …"). The rules, decided per file:

- Shape. A name is at most 60 characters and 6 words, made of letters (any script), digits
  and the marks display names carry: `@ . _ - | & + ' ’` and parentheses. Words after the
  first are capitalized, numbers, parenthesized, marks such as `|` or `-`, handles, or name
  particles ("da", "de", "von"), so "O problema é: …" is speech.
- Lowercase. A lowercase name is a handle: one word with a mark or a digit ("joao-pereira",
  "lucas.m", "tom.b"), optionally with a parenthesized part ("ana (@asouza)"), or a single
  word that no pt/en dictionary knows ("buildbot"); "então: …" or "resumo: …" are speech.
  The dictionary is simplemma's, which no hand-written list could match in coverage.
- Labels. A prefix that is a label word of `lexicon/<language>/caption_labels.txt`, with any
  trailing number, is never a name.
- Repetition. A prefix only names speakers when most cues start with one, or when the names
  that start at least two cues open at least a tenth of them (the name is written only when
  the speaker changes, and a cue without one continues the speaker before it). When nearly
  every cue is named, a cue without a name has an unknown speaker. Otherwise a colon is speech.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import cache

from techne_assets import lexicon

MAX_NAME_CHARACTERS = 60
MAX_NAME_WORDS = 6
# Prefixes on at least this share of the cues: the export writes the name on every cue, so a
# cue without one has an unknown speaker.
EVERY_CUE_SHARE = 0.9
# Prefixes on most cues: every prefix-shaped name is a speaker, even one said once.
MOST_CUES_SHARE = 0.5
# Repeated names on at least this share of the cues: the name is written at speaker changes.
SPEAKER_CHANGE_SHARE = 0.1

_PREFIX = re.compile(rf"([^\s:][^:\n]{{0,{MAX_NAME_CHARACTERS - 1}}}?):[ \t]+(?=\S)")
_NAME_WORD = re.compile(r"[\w.@&+'’()|-]+")
_MARK_WORD = re.compile(r"[|&+-]+")
_HANDLE = re.compile(r"[\w'’-]*(?:[\d.@_-][\w'’-]*)+")
_PARENTHESIZED = re.compile(r"\([^()]*\)")
_PLAIN_WORD = re.compile(r"[^\W\d_]+")
_TRAILING_NUMBER = re.compile(r"[\s#nº°.]*\d+[\d.]*$")
_PARTICLES = frozenset({"da", "das", "de", "do", "dos", "e", "di", "du", "del", "van", "von"})


def _casefold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


@cache
def _labels() -> frozenset[str]:
    return frozenset(
        _casefold(entry)
        for language in lexicon.LANGUAGES
        for entry in lexicon.words(language, "caption_labels")
    )


@cache
def _is_dictionary_word(word: str) -> bool:
    import simplemma  # loads its dictionaries only for the rare bare lowercase prefix

    return any(simplemma.is_known(word, lang=language) for language in lexicon.LANGUAGES)


def _is_label(name: str) -> bool:
    return _casefold(_TRAILING_NUMBER.sub("", name)).strip() in _labels()


def _lowercase_name_ok(words: list[str]) -> bool:
    first, rest = words[0], words[1:]
    if rest:
        # Only a handle with its account in parentheses: "ana (@asouza)".
        return len(rest) == 1 and _PARENTHESIZED.fullmatch(rest[0]) is not None
    if _HANDLE.fullmatch(first) and not _PLAIN_WORD.fullmatch(first.replace("-", "")):
        return True
    return not _is_dictionary_word(first)


def _following_word_ok(word: str) -> bool:
    return (
        word[0].isupper()
        or word[0] in "(0123456789@"
        or word in _PARTICLES
        or _MARK_WORD.fullmatch(word) is not None
        or _HANDLE.fullmatch(word) is not None
    )


def split_name(line: str) -> tuple[str, str] | None:
    """(`Name`, rest) when the line starts with a name-shaped `Name: `; None otherwise."""
    stripped = line.strip()
    match = _PREFIX.match(stripped)
    if match is None:
        return None
    words = match.group(1).split()
    if not words or not all(_NAME_WORD.fullmatch(word) for word in words):
        return None
    if sum(1 for word in words if not _MARK_WORD.fullmatch(word)) > MAX_NAME_WORDS:
        return None
    if not words[0][0].isalpha() and not words[0][0].isdigit():
        return None
    name = " ".join(words)
    if _is_label(name):
        return None
    if words[0][0].islower():
        if not _lowercase_name_ok(words):
            return None
    elif not all(_following_word_ok(word) for word in words[1:]):
        return None
    return name, stripped[match.end() :]


class SpeakerNames:
    """The names a file writes as `Name: ` prefixes, decided from the first line of its cues."""

    def __init__(self, names: frozenset[str], *, at_changes_only: bool = False) -> None:
        self.names = names
        # True when the file writes a name only where the speaker changes, so a cue without
        # one continues the speaker before it; otherwise such a cue's speaker is unknown.
        self.at_changes_only = at_changes_only

    @classmethod
    def from_cue_starts(cls, first_lines: Sequence[str | None]) -> SpeakerNames:
        """`first_lines`: each spoken cue's first line, None when a voice tag names its speaker."""
        if not first_lines:
            return cls(frozenset())
        starts = Counter(
            prefix[0] for line in first_lines if line is not None and (prefix := split_name(line))
        )
        named = sum(starts.values())
        if named >= EVERY_CUE_SHARE * len(first_lines):
            return cls(frozenset(starts))
        if named >= MOST_CUES_SHARE * len(first_lines):
            return cls(frozenset(starts), at_changes_only=True)
        repeated = {name: count for name, count in starts.items() if count >= 2}
        if sum(repeated.values()) >= SPEAKER_CHANGE_SHARE * len(first_lines):
            return cls(frozenset(repeated), at_changes_only=True)
        return cls(frozenset())

    def split(self, line: str) -> tuple[str, str] | None:
        """(`Name`, rest) when the line starts with one of the file's names; None otherwise."""
        if not self.names:
            return None
        prefix = split_name(line)
        return prefix if prefix is not None and prefix[0] in self.names else None
