"""Executive summary: what the call was about, in the noun phrases the speakers said.

Three short paragraphs: the call (duration, participants, subjects, topics in order), its
central sentences, and what the document holds. Counts agree in number ("1 participante",
"2 participantes") and a count of zero is left out rather than printed.
"""

from __future__ import annotations

from techne_assets.core.document import Document
from techne_assets.core.text_rules import quote_technical
from techne_assets.core.transcript import format_timestamp
from techne_assets.core.writing.offline.analysis import Analysis
from techne_assets.core.writing.offline.titles import TitleBook, join_terms
from techne_assets.core.writing.offline.topics import key_sentences

# (singular, plural) of what the document counts.
_NOUNS = {
    "participants": ("participante", "participantes"),
    "decisions": ("decisão", "decisões"),
    "procedures": ("procedimento", "procedimentos"),
    "problems": ("problema com diagnóstico", "problemas com diagnóstico"),
    "questions": ("pergunta respondida", "perguntas respondidas"),
    "review": ("pergunta para revisão", "perguntas para revisão"),
    "actions": ("action item", "action items"),
    "minutes": ("minuto", "minutos"),
}


def counted(n: int, what: str) -> str:
    singular, plural = _NOUNS[what]
    return f"{n} {singular if n == 1 else plural}"


def human_duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return counted(minutes, "minutes")
    return f"{minutes // 60} h {minutes % 60:02d} min"


def build(analysis: Analysis, document: Document, titles: TitleBook, duration: float) -> list[str]:
    if not analysis.sentences:
        return ["A transcrição desta chamada não tem falas."]
    weighted = analysis.weighted(analysis.sentences)
    subjects = titles.phrases(analysis.sentences, weighted, reach=8)[:3] or titles.top_terms(
        weighted, 3
    )
    people = analysis.participants
    first = f"Chamada de {human_duration(duration)}"
    if people:
        first += f" com {counted(len(people), 'participants')} ({join_terms(people)})"
    if subjects:
        first += f" sobre {join_terms(subjects)}"
    first += "."
    if len(document.topics) > 1:
        first += " Tópicos, em ordem: " + "; ".join(t.title for t in document.topics) + "."
    highlights = key_sentences(analysis, analysis.sentences, 3, weighted)
    second = "Falas centrais: " + " ".join(
        f"{s.speaker or 'Participante'} ({format_timestamp(s.start)}): “{quote_technical(s.text)}”"
        for s in highlights
    )
    answered = [q for q in document.questions if not q.review]
    counts = [
        (sum(len(t.decisions) for t in document.topics), "decisions"),
        (len(document.procedures), "procedures"),
        (len(document.troubleshooting), "problems"),
        (len(answered), "questions"),
        (len(document.questions) - len(answered), "review"),
        (len(document.action_items), "actions"),
    ]
    held = [counted(n, what) for n, what in counts if n]
    paragraphs = [first] + ([second] if highlights else [])
    if held:
        paragraphs.append(f"O documento reúne {join_terms(held)}.")
    return paragraphs
