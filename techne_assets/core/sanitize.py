"""Writer and model strings made safe to place inside the document's Markdown.

A field of the document is one inline piece of a line the renderer owns: it must not open a
heading, a list, a quote, raw HTML, an image or a link of its own, whatever a model returned
("\\n## 4. ..." must not add a section). Markdown libraries render Markdown but none neutralizes
it for embedding, so this is a short hand-written pass: whitespace collapsed to one line, code
spans kept verbatim, everything else escaped where CommonMark would read it as markup, and URLs
linked only when the call's transcript says them (`LinkPolicy`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from techne_assets.core.spoken_forms import normalize_spoken
from techne_assets.core.text_rules import URL_RE

# Characters the renderer itself uses to mark places in the Markdown (evidence blocks).
RESERVED_MARKS = "⟦⟧"

_CODE_SPAN_RE = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
# Markup that acts anywhere in a line: emphasis, links and images, raw HTML and autolinks.
_ALWAYS_RE = re.compile(r"([\\*\[\]<`])")
# An underscore opens or closes emphasis only at a word edge ("worker_processes" is safe).
_EDGE_UNDERSCORE_RE = re.compile(r"(?<!\w)_|_(?!\w)")
# Entities ("&lt;", "&#60;") would be decoded into the characters they name.
_ENTITY_RE = re.compile(r"&(?=#?\w+;)")
# A heading's closing sequence, or a '#' that starts the field.
_HASH_RE = re.compile(r"(?:(?<=\s)|^)#")
# Block markers at the start of the field: quote, list item, thematic break, setext underline.
_LEADING_BLOCK_RE = re.compile(r"^(>|[-+=])")
_LEADING_NUMBER_RE = re.compile(r"^(\d{1,9})([.)])")


def _one_line(text: str) -> str:
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if ch not in RESERVED_MARKS
    )
    return " ".join(cleaned.split())


def _escape_prose(text: str) -> str:
    text = _ALWAYS_RE.sub(r"\\\1", text)
    text = _EDGE_UNDERSCORE_RE.sub(r"\\_", text)
    text = _ENTITY_RE.sub(r"\\&", text)
    return _HASH_RE.sub(r"\\#", text)


def _prose(text: str, link_allowed: Callable[[str], bool]) -> str:
    pieces: list[str] = []
    cursor = 0
    for match in URL_RE.finditer(text):
        url = match.group().rstrip(".,;:!?")
        end = match.start() + len(url)
        pieces.append(_escape_prose(text[cursor : match.start()]))
        # A URL the call did not say is shown, never linked.
        pieces.append(f"<{url}>" if link_allowed(url) else f"`{url}`")
        cursor = end
    pieces.append(_escape_prose(text[cursor:]))
    return "".join(pieces)


def sanitize_inline(text: str, link_allowed: Callable[[str], bool] | None = None) -> str:
    """`text` as one safe inline piece of Markdown.

    Code spans (`ls -la`) stay verbatim; a URL becomes a link only when `link_allowed(url)`
    (by default never: it is shown as code).
    """
    allowed = link_allowed or (lambda url: False)
    text = _one_line(text)
    pieces: list[str] = []
    cursor = 0
    for match in _CODE_SPAN_RE.finditer(text):
        pieces.append(_prose(text[cursor : match.start()], allowed))
        pieces.append(match.group())
        cursor = match.end()
    pieces.append(_prose(text[cursor:], allowed))
    safe = "".join(pieces)
    safe = _LEADING_NUMBER_RE.sub(r"\1\\\2", safe)
    return _LEADING_BLOCK_RE.sub(r"\\\1", safe)


def sanitize_path(path: str | None) -> str | None:
    """A file name the renderer links (a screenshot), or None when it is not a plain relative path."""
    if not path or not re.fullmatch(r"[\w.-]+(?:/[\w.-]+)*", path) or ".." in path.split("/"):
        return None
    return path


@lru_cache(maxsize=4)
def _said_text(transcript_text: str) -> str:
    # Spoken forms written out once per transcript: every rendering of its document asks again.
    return "\n".join((transcript_text, normalize_spoken(transcript_text))).lower()


class LinkPolicy:
    """Which URLs the document may link: those said in the call, literally or in spoken form."""

    def __init__(self, transcript_text: str):
        self._said = _said_text(transcript_text)

    def allows(self, url: str) -> bool:
        needle = url.lower().rstrip("/")
        # The URL whole, not a prefix of a longer one ("…exemplo.co" of "…exemplo.com").
        return (
            bool(needle)
            and re.search(re.escape(needle) + r"(?![\w-]|\.\w)", self._said) is not None
        )
