"""Procedures stage: steps from step roles, warnings beside them, expected results, cautions."""

from __future__ import annotations

from offline_support import document_of


def test_steps_with_objective_prerequisite_expected_result_and_a_warning_beside_them():
    (procedure,) = document_of(
        [
            ("Eva", "O objetivo desse procedimento é liberar espaço no servidor de arquivos."),
            ("Eva", "Antes de começar, você precisa ter acesso sudo no servidor."),
            ("Eva", "Primeiro, rode df -h para ver qual partição encheu."),
            ("Eva", "Deve aparecer a raiz em cem por cento."),
            ("Eva", "Cuidado: nunca apague arquivos em /var/lib com o disco cheio."),
            ("Eva", "Depois, rode du -sh /var/log para achar o diretório grande."),
            ("Eva", "Por fim, rode systemctl restart rsyslog para soltar os arquivos apagados."),
        ]
    ).procedures
    assert procedure.objective.startswith("O objetivo desse procedimento")
    assert procedure.prerequisites == [
        "Antes de começar, você precisa ter acesso sudo no servidor."
    ]
    texts = [s.text for s in procedure.steps]
    assert len(texts) == 3 and not any("nunca" in t for t in texts)
    assert procedure.warnings and "nunca apague" in procedure.warnings[0]
    assert procedure.steps[0].expected_result == "Deve aparecer a raiz em 100%."
    assert procedure.steps[0].evidence == ["s0002", "s0003"]
    assert all(step.caution is None for step in procedure.steps)


def test_a_contingency_and_a_lone_screen_action_do_not_make_a_procedure():
    procedures = document_of(
        [
            ("Ivo", "Se der erro de permissão, nesse caso roda o comando com sudo."),
            ("Ivo", "A equipe financeira usa esse relatório toda segunda de manhã."),
            ("Ivo", "Clica em Salvar no fim."),
        ]
    ).procedures
    assert procedures == []


def test_a_first_person_task_said_during_a_procedure_is_an_action_item_not_a_step():
    document = document_of(
        [
            ("Marina", "Primeiro rode `systemctl status nginx` no servidor."),
            ("Marina", "Depois rode `journalctl -u nginx -n 50` para ver o erro."),
            ("Marina", "Aí rode `nginx -t` para validar a configuração."),
            ("Marina", "Depois rode `nginx -s reload`, eu coloco o link no chamado."),
        ]
    )
    steps = [s.text for p in document.procedures for s in p.steps]
    assert steps and not any("chamado" in s for s in steps)
    assert [i.owner for i in document.action_items] == ["Marina"]
