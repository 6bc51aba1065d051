"""Troubleshooting stage: symptoms, cause, solution and prevention from their roles."""

from __future__ import annotations

from offline_support import document_of


def test_a_problem_explained_at_length_stays_one_problem_until_its_fix():
    problems = document_of(
        [
            ("Ana", "Os clientes recebiam erro 503 no checkout da loja."),
            ("Bruno", "A causa foi o limite de conexões do banco de pedidos."),
            ("Ana", "E os pods do checkout caíam logo depois de subir, sem conexão com o banco."),
            ("Bruno", "A solução foi reduzir as réplicas e baixar o pool de conexões para dez."),
        ],
        step=60.0,
    ).troubleshooting
    assert len(problems) == 1
    (problem,) = problems
    assert len(problem.symptoms) == 2 and problem.root_cause.startswith("A causa foi")
    assert problem.solution == [
        "A solução foi reduzir as réplicas e baixar o pool de conexões para dez."
    ]
    assert problem.evidence == ["s0000", "s0001", "s0002", "s0003"]


def test_a_prevention_said_right_after_a_problem_belongs_to_it():
    problems = document_of(
        [
            ("Ana", "O disco do banco encheu com arquivos de WAL acumulados."),
            ("Bruno", "A causa foi um replication slot inativo segurando o WAL."),
            ("Bruno", "A solução foi remover o slot com pg_drop_replication_slot."),
            ("Ana", "Outro problema: o túnel da VPN caía toda hora com timeout na fase dois."),
            ("Bruno", "A correção é igualar o lifetime da fase dois nos dois lados."),
            (
                "Bruno",
                "E para prevenir, o checklist de migração compara os parâmetros da fase dois.",
            ),
        ],
        step=30.0,
    ).troubleshooting
    assert len(problems) == 2
    assert problems[0].prevention == []
    assert "checklist de migração" in problems[1].prevention[0]


def test_a_fix_confirmation_or_an_announced_subject_is_no_solution_or_prevention():
    problems = document_of(
        [
            ("Ana", "A replicação falhava com timeout desde a madrugada."),
            ("Bruno", "Resolvido."),
            ("Ana", "Agora vamos falar de prevenção, que é o mais importante."),
        ]
    ).troubleshooting
    assert problems == []
