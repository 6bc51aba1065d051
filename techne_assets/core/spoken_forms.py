"""Spoken pt-BR technical forms written the way they are typed.

Speakers say commands, paths, URLs and addresses in words: "ls traço la barra etc barra nginx",
"h t t p s dois pontos barra barra docs ponto empresa ponto com". `normalize_spoken` rewrites
such expressions in their written form ("ls -la /etc/nginx", "https://docs.empresa.com") and
leaves ordinary prose alone ("o ponto de montagem", "a barra de ferramentas").

The rule is contextual, so it is hand-written (no library parses spoken pt-BR symbols): a
*technical run* is a stretch of words joined by spoken symbols, and only a run that looks
technical is rewritten — two or more symbols, a strong symbol (arroba, underline...), a known
technical word (a program, a domain, an extension, a well-known directory), a number or a
spelled word. Number words become digits through `text2num`; the symbol names, letter names,
cue words and the function words that end a run are data files under `lexicon/pt/`.

Decimals said with "vírgula" follow the pt-BR convention in prose, a decimal comma
("noventa e nove vírgula nove por cento" → "99,9%"), and take a decimal point only inside a
technical expression, where the value is typed ("timeout igual zero vírgula cinco" →
"timeout=0.5"). Token boundaries follow the spoken shape: a number word after a flag is the
flag's value, and "barra" after a complete value opens a new argument ("truncate traço s zero
barra var" → "truncate -s 0 /var").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from text_to_num import alpha2digit, text2num

from techne_assets import lexicon

# Symbols that glue the words on both sides into one token ("api ponto empresa" → "api.empresa").
_JOINING = frozenset("._@:=\\#%&;")
# Symbols that may open a run ("barra etc" → "/etc", "ponto env" → ".env", "til barra" → "~/").
_MAY_LEAD = frozenset("/-.~*")
# Symbols that may close a run ("barra etc barra" → "/etc/").
_MAY_TRAIL = frozenset("/*%")
# Symbols that end an expression: "dez por cento levam" is "10% levam".
_CLOSING = frozenset("%")
# Shell operators: written with spaces around them, and only next to a command or another symbol.
_SPACED = frozenset("|><")
# Symbols that make a run technical on their own: they are not said in prose.
_STRONG = frozenset("@_\\")
# Vowels that are also pt-BR words: a spelled word needs at least one other letter.
_WORD_LETTERS = frozenset("aeoé")

_WORD_RE = re.compile(r"\S+")
_EDGE_RE = re.compile(r"^([\"'(\[{«“]*)(.*?)([\"')\]}»”.,;:!?]*)$")
_ATOM_RE = re.compile(r"^[\w][\w.-]*$")


def _pairs(name: str) -> dict[str, str]:
    return dict(entry.rsplit(" ", 1) for entry in lexicon.words("pt", name))


@cache
def _symbols() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Symbol phrases as word tuples by their first word, longest first ("dois pontos")."""
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for phrase, symbol in _pairs("spoken_symbols").items():
        words = tuple(phrase.split())
        by_first.setdefault(words[0], []).append((words, symbol))
    for phrases in by_first.values():
        phrases.sort(key=lambda pair: -len(pair[0]))
    return by_first


@cache
def _letter_names() -> dict[str, str]:
    return _pairs("spoken_letter_names")


@cache
def _number_aliases() -> dict[str, str]:
    return _pairs("spoken_number_aliases")


@cache
def _technical_words() -> frozenset[str]:
    return (
        lexicon.words("pt", "spoken_technical_words")
        | lexicon.words("en", "cli_programs")
        | lexicon.words("en", "tech_words")
    )


def _is_command(word: str) -> bool:
    return word.lower() in lexicon.words("en", "cli_programs") or _takes_slash_options(word)


def _takes_slash_options(word: str) -> bool:
    """Windows programs whose options start with a slash ("gpresult /r /scope")."""
    return word.lower() in lexicon.words("en", "slash_option_programs")


# A PowerShell cmdlet ("Test-ComputerSecureChannel"): a dash after it opens a parameter.
_CMDLET_RE = re.compile(r"^[A-Z][a-z]+-[A-Z]\w+$")


@dataclass
class _Word:
    start: int  # offsets of the word's core (without glued punctuation) in the text
    end: int
    text: str
    closes: bool  # punctuation after the word ends any run


@dataclass
class _Element:
    kind: str  # "atom" | "symbol" | "number" | "spelled"
    value: str
    first: int  # index of its first and last word
    last: int
    technical: bool = False
    decimal: bool = False  # a number said with "vírgula", its value written "99,9"


def _words(text: str) -> list[_Word]:
    words: list[_Word] = []
    for m in _WORD_RE.finditer(text):
        lead, core, trail = _EDGE_RE.match(m.group()).groups()
        if not core:
            continue
        start = m.start() + len(lead)
        words.append(_Word(start, start + len(core), core, bool(trail) or bool(lead)))
        if lead and len(words) > 1:
            words[-2].closes = True
    return words


@cache
def _number_value(word: str) -> int | None:
    word = word.lower()
    if word in _number_aliases():
        return int(_number_aliases()[word])
    try:
        return text2num(word, "pt")
    except ValueError:
        return None


def _digits(words: list[str]) -> str:
    """A spoken number group in digits: digit by digit ("oito zero oito zero") or as a whole."""
    values = [_number_value(w) for w in words if w.lower() != "e"]
    if len(values) == 1:
        return str(values[0])
    if all(v is not None and v < 10 for v in values) and "e" not in words:
        return "".join(str(v) for v in values)
    spoken = " ".join(_number_aliases().get(w.lower(), w) for w in words)
    digits = alpha2digit(spoken, "pt")
    # One number said in several words ("oito mil e oitenta"), or two ("zero e cem") kept apart.
    return digits.replace(" ", "") if digits.replace(" ", "").isdigit() else digits


_DIGITS_RE = re.compile(r"^\d+%?$")


def _decimal_part(words: list[_Word], lower: list[str], at: int) -> tuple[str, int] | None:
    """The fraction after "vírgula" at `at` ("nove", "zero cinco", or digits "9%") and where it ends.

    A fraction written in digits keeps its percent sign: "noventa e nove vírgula 9%" is "99,9%".
    """
    if at + 1 >= len(words) or lower[at] not in ("vírgula", "virgula") or words[at].closes:
        return None
    first = at + 1
    if _DIGITS_RE.match(words[first].text):
        return words[first].text, first + 1
    end = first
    while end < len(words) and _number_value(lower[end]) is not None:
        end += 1
        if words[end - 1].closes:
            break
    if end == first:
        return None
    return _digits([w.text for w in words[first:end]]), end


def _elements(words: list[_Word]) -> list[_Element | None]:
    """The words as symbols, numbers and atoms; None marks a word that ends any run."""
    elements: list[_Element | None] = []
    i = 0
    lower = [w.text.lower() for w in words]
    breakers = lexicon.words("pt", "spoken_run_breakers")
    while i < len(words):
        previous = elements[-1] if elements else None
        after_symbol = previous is not None and previous.kind == "symbol"
        symbol = next(
            (
                (phrase, sym)
                for phrase, sym in _symbols().get(lower[i], ())
                if tuple(lower[i : i + len(phrase)]) == phrase
                and not any(words[k].closes for k in range(i, i + len(phrase) - 1))
            ),
            None,
        )
        if symbol:
            phrase, sym = symbol
            elements.append(_Element("symbol", sym, i, i + len(phrase) - 1))
            i += len(phrase)
            continue
        j = i
        while j < len(words) and (
            (
                _number_value(lower[j]) is not None
                # "um" is an article unless it is part of a number: "um vírgula cinco" is "1,5".
                and (
                    lower[j] not in ("um", "uma")
                    or after_symbol
                    or j > i
                    or _decimal_part(words, lower, j + 1) is not None
                )
            )
            or (
                lower[j] == "e"
                and j > i
                and j + 1 < len(words)
                and _number_value(lower[j + 1]) is not None
            )
        ):
            if words[j].closes:
                j += 1
                break
            j += 1
        if j > i and lower[j - 1] != "e":
            value = _digits([w.text for w in words[i:j]])
            decimal = None if words[j - 1].closes else _decimal_part(words, lower, j)
            if decimal:
                fraction, j = decimal
                value = f"{value},{fraction}"
            elements.append(
                _Element("number", value, i, j - 1, technical=True, decimal=decimal is not None)
            )
            i = j
            continue
        j = i
        while j < len(words) and _is_letter(lower[j]) and (j == i or not words[j - 1].closes):
            j += 1
        # A vowel that is also a word ("e", "o") at the edge is speech, not a spelled letter:
        # "traço C e o" is "-C" and the words "e o".
        while j > i and lower[j - 1] in _WORD_LETTERS:
            j -= 1
        letters = [_letter(w) for w in lower[i:j]]
        spelled = lower[i] not in _WORD_LETTERS - {"a"} and not set(letters) <= _WORD_LETTERS
        if j - i >= 2 and spelled:
            elements.append(_Element("spelled", "".join(letters), i, j - 1, technical=True))
            i = j
            continue
        word = lower[i]
        flag = after_symbol and previous.value == "-" and len(word) == 1
        # "com" is a domain only after a dot ("empresa ponto com"), a word elsewhere.
        domain = after_symbol and previous.value in ".@" and word in _technical_words()
        if _ATOM_RE.match(words[i].text) and (word not in breakers or domain or flag):
            technical = word in _technical_words() or any(c.isdigit() for c in word)
            elements.append(_Element("atom", words[i].text, i, i, technical=technical))
        else:
            elements.append(None)
        i += 1
    return elements


def _is_letter(word: str) -> bool:
    return (len(word) == 1 and "a" <= word <= "z") or word in _letter_names()


def _letter(word: str) -> str:
    return _letter_names().get(word, word)


def _runs(elements: list[_Element | None], words: list[_Word]) -> list[list[_Element]]:
    """Maximal stretches of atoms joined by symbols (two atoms side by side end a stretch)."""
    runs: list[list[_Element]] = []
    current: list[_Element] = []

    def close() -> None:
        while (
            current
            and current[0].kind == "symbol"
            and (
                current[0].value not in _MAY_LEAD
                # "o ponto dois" is a list item, not ".2".
                or (current[0].value == "." and len(current) > 1 and current[1].kind == "number")
            )
        ):
            current.pop(0)
        while current and current[-1].kind == "symbol" and current[-1].value not in _MAY_TRAIL:
            current.pop()
        if any(e.kind == "symbol" for e in current) and any(e.kind != "symbol" for e in current):
            runs.append(list(current))
        current.clear()

    for element in elements:
        if element is None:
            close()
            continue
        if current and current[-1].kind != "symbol" and element.kind != "symbol":
            close()
        current.append(element)
        if words[element.last].closes or (element.kind == "symbol" and element.value in _CLOSING):
            close()
    close()
    return runs


def _is_flag(element: _Element | None) -> bool:
    """A short word after a dash reads as a command-line flag ("traço la", "traço rf")."""
    return (
        element is not None
        and element.kind in ("atom", "spelled")
        and element.value.isalpha()
        and len(element.value) <= 3
    )


def _looks_technical(run: list[_Element], words: list[_Word]) -> bool:
    flags = any(
        e.kind == "symbol" and e.value == "-" and _is_flag(run[i + 1] if i + 1 < len(run) else None)
        for i, e in enumerate(run)
    )
    symbols = [e.value for e in run if e.kind == "symbol"]
    if any(s in _SPACED for s in symbols):
        before = [w.text for w in words[max(0, run[0].first - 4) : run[0].first + 1]]
        if not any(_is_command(w) for w in before) and len(set(symbols) - _SPACED) == 0:
            return False
    return (
        len(symbols) >= 2
        or flags
        or any(s in _STRONG for s in symbols)
        or any(e.technical for e in run if e.kind != "symbol")
    )


def _render(run: list[_Element], program: str | None) -> str:
    """A technical run in written form; `program`: the program named just before the run."""
    program = program or (
        run[0].value if run[0].kind == "atom" and _is_command(run[0].value) else None
    )
    slash_options = program is not None and _takes_slash_options(program)
    # A percentage in prose keeps the pt-BR decimal comma ("99,9%"); anywhere else a decimal is
    # a technical value and takes a point ("timeout igual zero vírgula cinco" → "timeout=0.5").
    prose = all(e.value in _CLOSING for e in run if e.kind == "symbol")
    out = ""
    option = False  # the atom being written is an option ("-la", "--force")
    previous: _Element | None = None
    for index, element in enumerate(run):
        following = run[index + 1] if index + 1 < len(run) else None
        if element.kind != "symbol":
            out += (
                element.value if prose or not element.decimal else element.value.replace(",", ".")
            )
            previous = element
            continue
        sym = element.value
        if sym in _SPACED:
            out += f" {sym} "
            option = False
        elif sym in "/~." and previous is run[0] and _is_command(previous.value):
            out += f" {sym}"
            option = False
        elif sym == "/":
            after_word = previous is not None and previous.kind != "symbol"
            # "zero barra var" is "0 /var", "vinte e quatro barra sete" is "24/7".
            number_argument = (
                previous is not None
                and previous.kind == "number"
                and not (following is not None and following.kind == "number")
            )
            first_argument = previous is run[0] and (not previous.technical or number_argument)
            separate = after_word and (option or first_argument or slash_options)
            out += " /" if separate else "/"
            option = False
        elif sym == "-":
            starts_option = (
                previous is None or previous.kind != "symbol" or previous.value in _SPACED
            ) and (
                (following is not None and following.kind == "symbol" and following.value == "-")
                or option
                or _is_flag(following)
                or (previous is not None and bool(_CMDLET_RE.match(previous.value)))
            )
            if starts_option and out and not out.endswith(" "):
                out += " "
            out += "-"
            option = starts_option or (previous is not None and previous.value == "-" and option)
        else:
            out += sym
        previous = element
    return out.strip()


def _standalone_edits(
    words: list[_Word], elements: list[_Element | None]
) -> list[tuple[int, int, str]]:
    """Outside runs: spelled words ("s s h" → "ssh"), numbers after a cue ("porta oito mil") or a
    flag ("traço n cem"), and decimals, with the pt-BR comma ("noventa e nove vírgula nove" → "99,9")."""
    cues = lexicon.words("pt", "spoken_number_cues")
    edits = []
    for index, element in enumerate(elements):
        if element is None:
            continue
        # A number word after a flag is the flag's value: "ulimit traço n sessenta e cinco mil".
        flag_value = (
            element.kind == "number"
            and index >= 2
            and _is_flag(elements[index - 1])
            and elements[index - 2] is not None
            and elements[index - 2].value == "-"
            and not words[element.first - 1].closes
        )
        spelled = element.kind == "spelled" and element.last - element.first >= 2
        cue = words[element.first - 1] if element.first > 0 else None
        cued = (
            element.kind == "number"
            and cue is not None
            and cue.text.lower() in cues
            and not cue.closes
        )
        if spelled or cued or flag_value or element.decimal:
            edits.append((words[element.first].start, words[element.last].end, element.value))
    return edits


class Rewrite(NamedTuple):
    """One spoken expression of a text and its written form; `start`/`end` are offsets in the text."""

    start: int
    end: int
    said: str
    written: str


def spoken_rewrites(text: str) -> list[Rewrite]:
    """The spoken technical expressions of `text` and their written forms, in text order."""
    words = _words(text)
    elements = _elements(words)
    edits: list[tuple[int, int, str]] = []
    for run in _runs(elements, words):
        if _looks_technical(run, words):
            before = words[run[0].first - 1].text if run[0].first > 0 else ""
            written = _render(run, before if _is_command(before) else None)
            edits.append((words[run[0].first].start, words[run[-1].last].end, written))
    taken = [(start, end) for start, end, _ in edits]
    edits += [
        edit
        for edit in _standalone_edits(words, elements)
        if not any(edit[0] < end and edit[1] > start for start, end in taken)
    ]
    return [Rewrite(start, end, text[start:end], written) for start, end, written in sorted(edits)]


def normalize_spoken(text: str) -> str:
    """`text` with its spoken technical expressions in written form; prose unchanged."""
    for rewrite in reversed(spoken_rewrites(text)):
        text = text[: rewrite.start] + rewrite.written + text[rewrite.end :]
    return text
