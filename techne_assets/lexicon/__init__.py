"""Word lists and cue phrases, one list per data file: `<language>/<name>.txt`.

A line is one entry (a word, or a cue phrase written as a regular expression); blank lines and
lines starting with `# ` are comments. Lists are data so that they can be reviewed and extended
without touching the rules that read them; `en` holds the English lists and the language-neutral
technical ones (program names, SQL keywords).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

LANGUAGES = ("pt", "en")


def _lines(language: str, name: str) -> list[str]:
    if language not in LANGUAGES:
        raise ValueError(f"no word lists for language {language!r} (known: {', '.join(LANGUAGES)})")
    text = resources.files(__name__).joinpath(language, f"{name}.txt").read_text(encoding="utf-8")
    return [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("# ")
    ]


@cache
def words(language: str, name: str) -> frozenset[str]:
    """The list `<language>/<name>.txt` as a set of entries, as written."""
    return frozenset(_lines(language, name))


@cache
def cue(language: str, name: str) -> re.Pattern[str]:
    """The cue phrases of `<language>/<name>.txt` as one case-insensitive whole-word pattern."""
    phrases = sorted(_lines(language, name), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)", re.IGNORECASE)


def names(language: str) -> list[str]:
    """The lists a language has (file names without `.txt`)."""
    folder = resources.files(__name__).joinpath(language)
    return sorted(entry.name[:-4] for entry in folder.iterdir() if entry.name.endswith(".txt"))
