"""Glossary stage: only terms the call defines, each with its defining sentence."""

from __future__ import annotations

import pytest
from offline_support import document_of


def _glossary(lines, language="pt-BR"):
    return {g.term: g for g in document_of(lines, language=language).glossary}


@pytest.mark.parametrize(
    ("sentence", "term", "start"),
    [
        (
            "O PgBouncer é um pooler de conexões que fica entre a aplicação e o banco.",
            "PgBouncer",
            "O PgBouncer é um pooler",
        ),
        (
            "WAL significa write-ahead log, o registro de cada alteração antes dos dados.",
            "WAL",
            "WAL significa",
        ),
        (
            "Chamamos de permission boundary a política que define o máximo de uma role.",
            "permission boundary",
            "Chamamos de",
        ),
        (
            "Pra quem não conhece: OOMKilled quer dizer que o kernel matou o processo.",
            "OOMKilled",
            "Pra quem não conhece",
        ),
        ("TES é Tipo de Entrada e Saída, o cadastro que define os impostos.", "TES", "TES é Tipo"),
    ],
)
def test_a_defined_term_gets_its_defining_sentence(sentence, term, start):
    glossary = _glossary([("Carla", sentence), ("Rui", "Entendi, obrigado pela explicação.")])
    assert glossary[term].definition.startswith(start)
    assert glossary[term].evidence == ["s0000"]


def test_the_answer_to_what_is_x_defines_x():
    glossary = _glossary(
        [
            ("Jéssica", "O que é copytruncate, exatamente?"),
            (
                "Wellington",
                "copytruncate é a opção do logrotate que copia o log e zera o original.",
            ),
        ]
    )
    assert glossary["copytruncate"].definition.startswith("copytruncate é a opção do logrotate")


def test_mentions_adjectives_names_and_typos_are_not_glossary_entries():
    glossary = _glossary(
        [
            ("Ana", "O Kubernetes reiniciou o pod três vezes durante a madrugada."),
            ("Bruno", "O HPA é importante."),
            ("Ana", "Por isso o CloudTrail é o lugar certo pra olhar o evento negado."),
            ("Bruno", "O Grafana mostrou o pico e o Kubernetes mostrou o restart."),
            ("Ana", "O Kubrenetes ficou instável, e o Bruno confirmou no painel."),
        ]
    )
    assert glossary == {}


def test_an_english_definition():
    glossary = _glossary(
        [
            (
                "Kenji",
                "A connection pool is a fixed set of open database connections the service reuses.",
            ),
            ("Tom", "Makes sense, thanks for explaining."),
        ],
        language="en",
    )
    assert any(
        g.definition.startswith("A connection pool is a fixed set") for g in glossary.values()
    )


def test_a_definition_goes_on_into_the_next_sentence_that_restates_the_term():
    glossary = _glossary(
        [
            (
                "Marina",
                "SLI significa service level indicator. Um SLI é uma medida do que o usuário "
                "percebe. Por exemplo, a proporção de requisições com sucesso.",
            ),
        ]
    )
    definition = glossary["SLI"].definition
    assert "Um SLI é uma medida do que o usuário percebe." in definition
    assert "Por exemplo" not in definition
