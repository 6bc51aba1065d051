"""No word list was tuned on the evaluation set.

A word in a list must come from somewhere other than `tests/data/gold/`: the development calls
(`tests/data/dev/`), or general pt/en vocabulary (simplemma's dictionaries, and the number
words text2num reads). A word that
occurs in the gold files and nowhere else can only have been copied from them. The lists are
the data files under `techne_assets/lexicon/` and any collection of word strings written in
the package's Python source (the offline writer is meant to keep none there).
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import simplemma
from text_to_num import alpha2digit

from techne_assets import lexicon

PACKAGE = Path(lexicon.__file__).parents[1]
LEXICON = Path(lexicon.__file__).parent
DATA = Path(__file__).parent / "data"
GOLD = DATA / "gold"
DEV = DATA / "dev"
_WORD = re.compile(r"[^\W\d_]{3,}")
# A word of a regular-expression entry: whole, not a stem that a class, group or quantifier
# completes ("obrigad[oa]", "resolv(?:e|eu)"), nor the letter of an escape ("\\bword").
_ENTRY_WORD = re.compile(r"(?<![\w\\])[^\W\d_]{3,}(?![\w\[(?*+{])")
# A source collection holds a word list when it has this many word strings.
_MIN_LIST_SIZE = 5


def _fold(word: str) -> str:
    return unicodedata.normalize("NFC", word).casefold()


def _vocabulary(texts: Iterable[str]) -> set[str]:
    return {_fold(w) for text in texts for w in _WORD.findall(text)}


def entry_words(entry: str) -> set[str]:
    """The whole words an entry spells, a plain word or the literal words of a regex entry."""
    return {_fold(w) for w in _ENTRY_WORD.findall(entry)}


def lexicon_lists(folder: Path) -> dict[str, set[str]]:
    """`<language>/<name>.txt` → its words (comment lines skipped, as the loader does)."""
    lists = {}
    for path in sorted(folder.rglob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        words = set()
        for line in lines:
            if line.strip() and not line.startswith("# "):
                words |= entry_words(line.strip())
        lists[str(path.relative_to(folder))] = words
    return lists


def source_lists(package: Path) -> dict[str, set[str]]:
    """Collections of at least `_MIN_LIST_SIZE` string literals in the package's Python files."""
    lists = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Set | ast.List | ast.Tuple):
                continue
            strings = [
                e.value
                for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            ]
            if len(strings) >= _MIN_LIST_SIZE and len(strings) == len(node.elts):
                words = set().union(*(entry_words(s) for s in strings))
                lists[f"{path.relative_to(package)}:{node.lineno}"] = words
    return lists


def _call_texts(folder: Path) -> list[str]:
    return [
        path.read_text(encoding="utf-8")
        for path in sorted(folder.iterdir())
        if path.suffix in (".vtt", ".srt", ".json")
    ]


@cache
def is_general_word(word: str) -> bool:
    return any(
        simplemma.is_known(word, lang=language) or alpha2digit(word, language) != word
        for language in ("pt", "en")
    )


def gold_only_words(
    lists: dict[str, set[str]],
    gold_texts: list[str],
    dev_texts: list[str],
    general: Callable[[str], bool] = is_general_word,
) -> dict[str, list[str]]:
    """List → its words found in the gold files and in neither the dev calls nor general vocabulary."""
    gold = _vocabulary(gold_texts)
    dev = _vocabulary(dev_texts)
    found = {}
    for name, words in lists.items():
        suspects = sorted(w for w in words & gold if w not in dev and not general(w))
        if suspects:
            found[name] = suspects
    return found


GOLD_TEXTS = _call_texts(GOLD)
DEV_TEXTS = _call_texts(DEV)


def test_no_word_list_holds_a_word_found_only_in_the_gold_files():
    lists = {**lexicon_lists(LEXICON), **source_lists(PACKAGE)}
    assert lists, "no word lists found"
    assert gold_only_words(lists, GOLD_TEXTS, DEV_TEXTS) == {}


def test_a_planted_gold_only_word_is_caught(tmp_path):
    gold = _vocabulary(GOLD_TEXTS)
    dev = _vocabulary(DEV_TEXTS)
    planted = next(w for w in sorted(gold - dev) if not is_general_word(w))
    common = next(w for w in sorted(gold - dev) if is_general_word(w))
    from_dev = sorted(gold & dev)[0]
    (tmp_path / "pt").mkdir()
    (tmp_path / "pt" / "tuned.txt").write_text(
        f"# a list with one word copied from the gold files\n{common}\n{from_dev}\n(?:x|{planted})s?\n",
        encoding="utf-8",
    )
    assert gold_only_words(lexicon_lists(tmp_path), GOLD_TEXTS, DEV_TEXTS) == {
        "pt/tuned.txt": [planted]
    }


def test_a_word_list_written_in_python_source_is_checked_too(tmp_path):
    gold = _vocabulary(GOLD_TEXTS)
    planted = next(w for w in sorted(gold - _vocabulary(DEV_TEXTS)) if not is_general_word(w))
    (tmp_path / "rules.py").write_text(
        f"CUES = frozenset({{'alpha', 'beta', 'gamma', 'delta', {planted!r}}})\n", encoding="utf-8"
    )
    assert gold_only_words(source_lists(tmp_path), GOLD_TEXTS, DEV_TEXTS) == {
        "rules.py:1": [planted]
    }
