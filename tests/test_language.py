"""The call's language: the transcript's code wins, else the text is classified."""

from __future__ import annotations

import pytest

from techne_assets.core.language import detect_language, is_pt_br, normalize_language_code

PT = (
    "Bom dia pessoal, hoje a gente vai configurar o proxy reverso do nginx no servidor de "
    "homologação. Primeiro você abre o terminal e confere se o serviço está rodando."
)
PT_WITH_TECH_WORDS = (
    "Então, o deploy do cluster falhou porque o pod ficou em CrashLoopBackOff; a gente fez o "
    "rollback e abriu um ticket pro time de infra."
)
EN = (
    "Good morning everyone, today we are going to configure the reverse proxy on the staging "
    "server. First you open a terminal and check whether the service is running."
)
ES = (
    "Buenos días a todos, hoy vamos a configurar el proxy inverso en el servidor de pruebas. "
    "Primero abren la terminal y comprueban si el servicio está funcionando."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(PT, "pt-BR"), (PT_WITH_TECH_WORDS, "pt-BR"), (EN, "en"), (ES, "es")],
)
def test_the_text_is_classified_when_there_is_no_hint(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_the_transcripts_code_wins_over_the_text() -> None:
    assert detect_language(PT, hint="en-US") == "en"
    assert detect_language(EN, hint="pt-BR") == "pt-BR"


def test_a_blank_hint_is_no_hint() -> None:
    assert detect_language(EN, hint=" ") == "en"


def test_text_without_letters_is_the_default_language() -> None:
    assert detect_language("") == "pt-BR"
    assert detect_language("00:01 -- 42") == "pt-BR"


@pytest.mark.parametrize(
    ("code", "normalized"),
    [
        ("pt", "pt-BR"),
        ("pt-BR", "pt-BR"),
        ("pt_br", "pt-BR"),
        ("pt-PT", "pt-PT"),
        ("en-US", "en"),
        ("ES", "es"),
    ],
)
def test_codes_are_normalized(code: str, normalized: str) -> None:
    assert normalize_language_code(code) == normalized


def test_is_pt_br() -> None:
    assert is_pt_br("pt-BR") and is_pt_br("pt")
    assert not is_pt_br("pt-PT") and not is_pt_br("en") and not is_pt_br(None)
