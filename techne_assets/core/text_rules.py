"""Technical fragments and words of spoken text, shared by the writers, grounding and evaluation.

What counts as a technical fragment (command, path, URL, config key, error code), how speech is
split into words, and which words carry no topic. The fragment rules are hand-written because
no library recognizes shell commands said inside pt-BR speech; the word lists they read are
data files under `techne_assets/lexicon/`. Everything here is a pure function of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from techne_assets import lexicon

# Words that carry no topic: pt-BR function words, speech fillers and the most common verbs.
STOPWORDS: frozenset[str] = lexicon.words("pt", "stopwords")
# English technical words commonly spoken inside pt-BR sentences.
ENGLISH_TECH_WORDS: frozenset[str] = lexicon.words("en", "tech_words")
# Programs that start a shell command when followed by an argument.
CLI_PROGRAMS: frozenset[str] = lexicon.words("en", "cli_programs")
# Words that are also ordinary speech ("show", "ip"): they start a command only when followed
# by one of their subcommands (network device CLIs, FortiGate and iproute2).
GATED_PROGRAMS: dict[str, frozenset[str]] = {
    program: lexicon.words("en", f"subcommands_{program}")
    for program in ("show", "ip", "diagnose", "get")
}
# Spoken words that end a command: besides the stopwords, adverbs and connectors of pt-BR
# speech that are never an argument ("roda kubectl logs direto").
COMMAND_BREAK_WORDS: frozenset[str] = lexicon.words("pt", "command_break_words")
# Conjugated pt-BR verbs and adverbs, by ending ("funcionava", "apontando", "aparece",
# "rodou", "normalmente"); only plain lowercase words are tested, so no argument is cut.
_PT_VERB_OR_ADVERB_RE = re.compile(
    r"[a-z]{2,}(?:ando|endo|indo|ava|avam|aram|eram|iram|ece|ecem|eceu|ou|amos|emos|imos|mente)"
)

SQL_STARTS: frozenset[str] = lexicon.words("en", "sql_starts")
# Programs named like everyday words, and the words that announce a command before them.
WORD_PROGRAMS: frozenset[str] = lexicon.words("en", "word_programs")
_SHELL_CONTEXT: frozenset[str] = lexicon.words("pt", "shell_context") | lexicon.words(
    "en", "shell_context"
)
_ENGLISH_BREAK_WORDS: frozenset[str] = lexicon.words("en", "command_break_words")

URL_RE = re.compile(r"\bhttps?://[^\s<>()\[\]`'\"«»]+")
PATH_RE = re.compile(
    r"(?<![\w.:/~\\-])/(?:[\w.@%+-]+/)+[\w.@%+-]*"  # /etc/pgbouncer/pgbouncer.ini
    r"|(?<![\w/])~/[\w.@%+/-]+"  # ~/.kube/config
    r"|(?<![\w./])\.\.?/[\w.@%+/-]+"  # ./loadtest/checkout.js
    r"|\b[A-Za-z]:\\[^\s'\"<>|`]+"  # C:\Program Files\...
    r"|(?<![\w./@:-])[\w.-]+(?:/[\w.@%+-]+)+\.(?:ini|conf|cfg|ya?ml|json|toml|properties|env|txt|log|sql|sh|ps1|py|js|ts|xml|csv)\b"  # deploy/app/values.yaml
    r"|\b[\w-]+\.(?:ini|conf|cfg|ya?ml|json|toml|properties|env|txt|log|sql|sh|ps1|py|js|ts|xml|csv)\b"
)
CONFIG_ASSIGN_RE = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]*)(\s?=\s?)([^\s,;`]+)")
SNAKE_CASE_RE = re.compile(r"(?<![\w.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
DOTTED_KEY_RE = re.compile(r"(?<![\w./-])[a-z][\w-]+(?:\.[a-z][\w-]+){2,}\b")
ERROR_CODE_RE = re.compile(
    r"\b[A-Z]{2,10}-\d{3,6}\b"  # ORA-00942, PAG-1432
    r"|\b0x[0-9A-Fa-f]{4,16}\b"  # 0x80070005
    r"|\b[A-Z]{1,5}\d{4,}\b"  # INC0048213, E1234
)
HTTP_STATUS_RE = re.compile(
    r"\b(?:HTTP|status|erro|error|código|code)\s*([45]\d\d)\b", re.IGNORECASE
)
TICKET_RE = re.compile(
    r"\b(?!(?:ORA|ERR|HTTP|TLS|SSL|RFC|ISO)-)[A-Z][A-Z0-9]{1,9}-\d{1,6}\b"
    r"|\b(?:INC|CHG|RITM|REQ|PRB|SR)\d{5,}\b"
    r"|(?<![\w&#])#\d{3,6}\b"
)

_TRAILING_PUNCTUATION = ".,;:!?)]}»\"'"
_WORD_RE = re.compile(r"[\wÀ-ÿ]+(?:[-_][\wÀ-ÿ]+)*")
_ASCII_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True, slots=True)
class Fragment:
    """A technical fragment found in plain text: its kind and character offsets."""

    kind: str  # command | path | url | config_key | error_code
    start: int
    end: int


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


_stemmer = snowballstemmer.stemmer("portuguese")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer.stemWord(word.lower())


def content_words(text: str) -> list[str]:
    """Lowercased words that can carry a topic: no stopwords, no bare numbers, no one-letter words."""
    return [
        w
        for w in (w.lower() for w in words(text))
        if len(w) > 2 and w not in STOPWORDS and not w.isdigit()
    ]


def is_technical_term(word: str) -> bool:
    """An acronym, CamelCase, a word with digits, snake_case, or an English tech word."""
    if len(word) < 2 or word.isdigit():
        return False
    return bool(
        re.fullmatch(r"[A-Z][A-Z0-9]{1,7}s?", word)
        or re.fullmatch(r"[A-Za-z]*[a-z][A-Z][A-Za-z0-9]*", word)
        or re.fullmatch(r"[A-Z]{2,}[a-z][A-Za-z0-9]*", word)  # OOMKilled, HTTPServer
        or (re.search(r"\d", word) and re.search(r"[A-Za-z]", word))
        or "_" in word
        or word.lower() in ENGLISH_TECH_WORDS
    )


def _strip_trailing(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
        end -= 1
    return end


_FLAG_RE = re.compile(r"^--?[A-Za-z][\w-]*$")  # -n, --previous (no "=value" of its own)
_CLEAR_ARGUMENT_RE = re.compile(r"^(?:-|\d)|[./=@:~]")  # a flag, a number, a path, key=value...


def is_command_break(token: str) -> bool:
    """Whether a spoken word ends a command: a pt-BR function word, filler, adverb or verb."""
    word = token.strip(_TRAILING_PUNCTUATION)
    lower = word.lower()
    if not word or not _ASCII_TOKEN_RE.match(word):
        return not _ASCII_TOKEN_RE.match(token)
    if lower in STOPWORDS or lower in COMMAND_BREAK_WORDS or lower in _ENGLISH_BREAK_WORDS:
        return True
    return word.isalpha() and word.islower() and bool(_PT_VERB_OR_ADVERB_RE.fullmatch(word))


def _starts_command(tokens: list[tuple[int, int, str]], i: int) -> bool:
    """Whether the token at `i` opens a command: a program, in a shell context or with arguments.

    A program whose name is also an everyday word ("head", "kill", "cat") opens one only after
    a shell cue ("roda", "run") or before an argument shape, so "head over to", "kill two birds"
    and "let the cat out" stay speech.
    """
    token = tokens[i][2]
    if token in WORD_PROGRAMS:
        after = tokens[i + 1][2].rstrip(_TRAILING_PUNCTUATION) if i + 1 < len(tokens) else ""
        before = tokens[i - 1][2].lower().strip(_TRAILING_PUNCTUATION) if i else ""
        return bool(_CLEAR_ARGUMENT_RE.search(after)) or before in _SHELL_CONTEXT
    if token in CLI_PROGRAMS:
        return True
    subcommands = GATED_PROGRAMS.get(token)
    if not subcommands or i + 1 >= len(tokens):
        return False
    return tokens[i + 1][2].rstrip(_TRAILING_PUNCTUATION) in subcommands


def _command_spans(text: str) -> list[tuple[int, int]]:
    """Shell commands (a known program and its arguments) and SQL statements said out loud.

    A shell command continues while tokens look like arguments (ASCII, not a pt-BR function
    word, adverb or conjugated verb); right after a flag a plain word is taken as the flag's
    value when a clear argument follows it (`ping -M do -s 1472`). An SQL statement continues
    to its `;` or to the end of the sentence.
    """
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        start, _end, token = tokens[i]
        bare = token.rstrip(_TRAILING_PUNCTUATION)
        is_sql = bare in SQL_STARTS
        if token != bare or not (is_sql or _starts_command(tokens, i)):
            i += 1
            continue
        last = i
        j = i + 1
        while j < len(tokens):
            token_j = tokens[j][2]
            if not _ASCII_TOKEN_RE.match(token_j):
                break
            if not is_sql and is_command_break(token_j):
                flag_value = (
                    _FLAG_RE.match(tokens[j - 1][2])
                    and token_j.isalpha()
                    and j + 1 < len(tokens)
                    and _CLEAR_ARGUMENT_RE.search(tokens[j + 1][2].rstrip(_TRAILING_PUNCTUATION))
                )
                if not flag_value:
                    break
            elif is_sql and token_j.lower().strip(_TRAILING_PUNCTUATION) in STOPWORDS:
                break
            last = j
            if is_sql and token_j.endswith(";"):
                break
            if not is_sql and token_j[-1] in ".,;:!?":
                break
            if is_sql and token_j[-1] in ".!?" and not token_j.endswith(";"):
                break
            j += 1
        if last > i:
            span_end = tokens[last][1]
            if not tokens[last][2].endswith(";"):
                span_end = _strip_trailing(text, start, span_end)
            spans.append((start, span_end))
        i = last + 1
    return spans


def find_fragments(text: str) -> list[Fragment]:
    """Non-overlapping technical fragments in plain text, in order of appearance.

    Longer and more specific fragments win: a URL or a path inside a command stays part of it.
    """
    candidates: list[Fragment] = []
    candidates += [Fragment("command", s, e) for s, e in _command_spans(text)]
    for kind, pattern in (
        ("url", URL_RE),
        ("path", PATH_RE),
        ("config_key", CONFIG_ASSIGN_RE),
        ("config_key", DOTTED_KEY_RE),
        ("config_key", SNAKE_CASE_RE),
    ):
        for m in pattern.finditer(text):
            end = _strip_trailing(text, m.start(), m.end())
            if end > m.start():
                candidates.append(Fragment(kind, m.start(), end))
    candidates.sort(key=lambda f: (f.start, -(f.end - f.start)))
    chosen: list[Fragment] = []
    reach = -1
    for fragment in candidates:
        if fragment.start >= reach:
            chosen.append(fragment)
            reach = fragment.end
    return chosen


_MARKDOWN_SPECIALS_RE = re.compile(r"([\\`*\[\]<])")


def escape_markdown(text: str) -> str:
    """Plain speech made safe as Markdown prose: no accidental emphasis, links, code or HTML."""
    return _MARKDOWN_SPECIALS_RE.sub(r"\\\1", text)


def quote_technical(text: str) -> str:
    """Speech as Markdown: every command, path, config key and URL verbatim in backticks."""
    pieces: list[str] = []
    cursor = 0
    for fragment in find_fragments(text):
        inner = text[fragment.start : fragment.end]
        if "`" in inner:
            continue
        pieces += [escape_markdown(text[cursor : fragment.start]), f"`{inner}`"]
        cursor = fragment.end
    pieces.append(escape_markdown(text[cursor:]))
    return "".join(pieces)
