"""Sentence roles: what each sentence does in the call, so sections are built from roles.

A role is one of step, warning, narration, question, answer, commitment, decision, problem,
cause, solution or prevention. Warnings, negated instructions and spoken injections ("coloque
... como passo um") come from `core.instruction_types`, shared with the model writer; the rest
are cue phrases (data files under `lexicon/`), tense and person, which no library offers for
spoken pt-BR. The order of the checks is the precedence: a warning with a command is still a
warning, a commitment with "erro" in it is still a commitment.
"""

from __future__ import annotations

from techne_assets.core.instruction_types import classify_instruction, is_instruction_injection
from techne_assets.core.writing.offline.analysis import Analysis, Sentence
from techne_assets.core.writing.offline.commitments import is_commitment

ROLES = (
    "step",
    "warning",
    "narration",
    "question",
    "answer",
    "commitment",
    "decision",
    "problem",
    "cause",
    "solution",
    "prevention",
)


def step_evidence(analysis: Analysis, sentence: Sentence) -> str | None:
    """Why a sentence reads as a step ("command", "action", "sequence", "context"), or None."""
    text = sentence.text
    if (
        sentence.is_question
        or sentence.n_words < 3
        or analysis.cue("contingency_start").match(text)
        or analysis.cue("deadline").search(text)  # "... até sexta" is a commitment
    ):
        return None
    if sentence.has_command:
        return "command"
    if _acts(analysis, text):
        return "action"
    if (
        analysis.cue("sequence_start").match(text)
        and not analysis.cue("topic_shift").search(text)
        and sentence.n_words >= 4
    ):
        return "sequence"
    if analysis.cue("screen_name").search(text):
        return "context"
    return None


def _acts(analysis: Analysis, text: str) -> bool:
    """A step verb opening a clause ("Clica em Incluir", "aí você roda"), a move to a named
    screen ("vou em Documento de Saída") or an announced action ("vou reiniciar o serviço")."""
    if analysis.cue("screen_moves").search(text) or analysis.cue("step_intent").search(text):
        return True
    verbs = analysis.words("step_verbs")
    leads = analysis.words("step_leads")
    tokens = text.replace(",", " , ").replace(";", " ; ").replace(":", " : ").split()
    for i, token in enumerate(tokens):
        word = token.lower().strip(".!?")
        if word not in verbs or token.endswith("?"):
            continue
        before = [t.lower() for t in tokens[max(0, i - 2) : i]]
        if i == 0 or before[-1] in {",", ";", ":"} or before[-1] in leads:
            return True
        if len(before) == 2 and before[-1] in {"o", "a", "um", "uma"} and before[0] in leads:
            return True
        if len(before) == 2 and " ".join(before) in leads:
            return True
    return False


def classify(analysis: Analysis, sentence: Sentence) -> str:
    text = sentence.text
    if sentence.is_question:
        return "question"
    if is_instruction_injection(text):
        return "narration"
    if classify_instruction(text, analysis.lang) == "warning":
        return "warning"
    # "Agora vamos falar de prevenção" announces a subject; it prevents nothing.
    prevention = bool(analysis.cue("prevention").search(text)) and not analysis.cue(
        "topic_shift"
    ).search(text)
    if prevention and not analysis.cue("deadline").search(text):
        return "prevention"  # "para prevenir, vamos criar um alerta": how, not who and when
    if is_commitment(analysis, sentence):
        return "commitment"
    if analysis.cue("decision").search(text):
        return "decision"
    if prevention:
        return "prevention"
    if analysis.cue("cause").search(text):
        return "cause"
    evidence = step_evidence(analysis, sentence)
    if analysis.cue("solution").search(text) and evidence != "command":
        return "solution"
    if evidence is not None:
        return "step"
    if analysis.cue("problem").search(text):
        return "problem"
    return "narration"


def assign_roles(analysis: Analysis) -> None:
    """Every sentence's role; the opening of a reply to another speaker's question is an answer."""
    for sentence in analysis.sentences:
        sentence.injection = is_instruction_injection(sentence.text)
        sentence.role = classify(analysis, sentence)
    for previous, turn in zip(analysis.turns, analysis.turns[1:]):
        if previous.sentences[-1].is_question and turn.speaker != previous.speaker:
            for sentence in turn.sentences[:2]:
                if sentence.role == "narration":
                    sentence.role = "answer"
