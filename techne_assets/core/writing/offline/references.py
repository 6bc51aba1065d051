"""References: URLs, tickets, and documents, books and posts named in the call.

URLs and ticket ids are the technical patterns of `core.text_rules`; a document is a noun from
`lexicon/<lang>/document_nouns.txt` followed by its name ("o runbook de failover", "o livro
Site Reliability Engineering", "o post do blog da AWS") or a file name with a document
extension. The name ends at the first function word of speech.
"""

from __future__ import annotations

import re
from functools import cache

from techne_assets.core.document import Reference
from techne_assets.core.text_rules import TICKET_RE, URL_RE, quote_technical
from techne_assets.core.writing.offline.analysis import Analysis

_DOCUMENT_FILE = re.compile(r"\b[\w-]+\.(?:pdf|docx?|xlsx?|pptx?|md|odt)\b", re.IGNORECASE)
_SPOKEN_TICKET = re.compile(
    r"\b(?:chamado|ticket|issue|card|incidente|incident)\s+(?:número\s+|number\s+|n[º°]\s*)?(\d{3,7})\b",
    re.IGNORECASE,
)
_NAME_STOP = {
    "pt": "que|vai|está|tá|fica|foi|e|é|mas|com|para|pra|porque|existe|mesmo|onde|já|hoje|se|quando|ali|aqui|lá|tem|explica|fala",
    "en": "that|which|is|was|and|but|with|for|because|where|when|here|there|has|explains|says",
}


@cache
def _mention(lang: str, nouns: frozenset[str]) -> re.Pattern[str]:
    joined = "|".join(sorted((re.escape(n) for n in nouns), key=len, reverse=True))
    linker = r"(?:de|do|da|dos|das)" if lang == "pt" else r"(?:on|of|about|from)"
    return re.compile(
        rf"\b(?i:{joined})\b(?:\s+{linker}|(?=\s+[A-ZÀ-Ú\"“]))"
        rf"(?:\s+(?!(?i:{_NAME_STOP[lang]})\b)[\wÀ-ÿ\"“”.-]+){{1,6}}"
    )


def build(analysis: Analysis) -> list[Reference]:
    references: list[Reference] = []
    seen: set[str] = set()
    pattern = _mention(analysis.lang, analysis.words("document_nouns"))

    def add(key: str, **fields) -> None:
        if key.lower() not in seen:
            seen.add(key.lower())
            references.append(Reference(at=sentence.start, evidence=sentence.evidence, **fields))

    for sentence in analysis.sentences:
        text = sentence.text
        who = f" por {sentence.speaker}" if sentence.speaker else ""
        for m in URL_RE.finditer(text):
            url = m.group().rstrip(".,;:!?)")
            add(url, text=f"Link citado{who}", url=url)
        for m in TICKET_RE.finditer(text):
            add(m.group(), text=f"Chamado/ticket {m.group()}")
        for m in _SPOKEN_TICKET.finditer(text):
            add(m.group(1), text=f"Chamado/ticket {m.group(1)}")
        phrases = [m.group() for m in pattern.finditer(text)] + [
            m.group() for m in _DOCUMENT_FILE.finditer(text)
        ]
        for phrase in phrases:
            phrase = re.sub(
                r"\s+(?:de|do|da|dos|das|no|na|on|of|the)$", "", phrase.strip(' .,;"“”')
            )
            if len(phrase.split()) >= 2 or _DOCUMENT_FILE.fullmatch(phrase):
                if not URL_RE.search(phrase):
                    add(phrase, text=f"Documento citado: {quote_technical(phrase)}")
    return references
