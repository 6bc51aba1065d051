"""Commitments stage: who takes on what, and by when; greetings and past actions never are."""

from __future__ import annotations

from offline_support import document_of


def _items(lines):
    return document_of(lines).action_items


def test_present_tense_commitments_in_the_first_and_third_person_with_owner_and_deadline():
    items = _items(
        [
            ("Diego", "Eu abro o chamado com o suporte da AWS amanhã."),
            ("Ana", "Beleza. A Carla revisa os limites da conta até sexta."),
            ("Carla", "Combinado."),
        ]
    )
    by_owner = {i.owner: i for i in items}
    assert set(by_owner) == {"Diego", "Carla"}
    assert by_owner["Diego"].deadline == "amanhã"
    assert by_owner["Carla"].deadline == "até sexta"
    assert by_owner["Carla"].evidence == ["s0001"]


def test_a_next_steps_list_gives_one_item_per_entry_without_its_number():
    items = _items(
        [
            (
                "Ana",
                "Próximos passos: um, o Bruno atualiza o runbook até quinta; dois, a Carla "
                "agenda o teste de carga na semana que vem.",
            ),
            ("Bruno", "Fechado."),
        ]
    )
    assert [i.text for i in items] == [
        "O Bruno atualiza o runbook até quinta",
        "A Carla agenda o teste de carga na semana que vem",
    ]
    assert [i.owner for i in items] == ["Bruno", "Carla"]


def test_an_action_items_list_in_english():
    items = document_of(
        [
            (
                "Priya",
                "Okay, action items: Tom moves the export buffer to S3 by Thursday; "
                "Kenji adds the eviction alert by Friday.",
            ),
            ("Tom", "Works for me."),
            ("Kenji", "Sure, I'll take that."),
        ],
        language="en",
    ).action_items
    owners = [i.owner for i in items]
    assert owners[:2] == ["Tom", "Kenji"]
    assert items[0].deadline == "by Thursday"


def test_the_speaker_owns_a_first_person_commitment_even_when_naming_someone_else():
    (item,) = _items(
        [
            ("Carla", "Eu vou criar o alerta no Grafana até quarta junto com o Bruno."),
            ("Bruno", "Ok."),
        ]
    )
    assert item.owner == "Carla" and item.deadline == "até quarta"


def test_greetings_past_actions_and_demonstrations_are_not_action_items():
    items = _items(
        [
            ("Ana", "Bom dia, pessoal, obrigada por entrarem tão cedo."),
            ("Diego", "Eu abri o chamado ontem às onze da noite."),
            ("Ana", "Vou compartilhar a minha tela agora."),
            ("Ana", "Agora vamos fechar com os próximos passos."),
            ("Diego", "Eu reiniciei o pod e ele voltou."),
        ]
    )
    assert items == []


def test_the_speaker_taking_a_task_on_now_is_a_commitment_and_a_present_fact_is_not():
    items = _items(
        [
            ("Jéssica", "Então eu altero o logrotate hoje e abro a mudança para mover os logs."),
            ("Wellington", "Tem o artigo da Red Hat sobre arquivos deletados, eu mando no grupo."),
            ("Bruno", "Hoje ela morre na inicialização, como a gente viu."),
        ]
    )
    assert [i.owner for i in items] == ["Jéssica", "Wellington"]


def test_a_past_action_with_its_former_owner_is_not_an_action_item():
    items = _items(
        [
            ("Rafael", "E o usuário de serviço antigo?"),
            ("Marina", "Ele foi desativado na semana passada, o responsável era o Pedro."),
            ("Rafael", "O cron estava configurado para rodar de hora em hora."),
            ("Marina", "Eu reviso as permissões do usuário novo até sexta."),
        ]
    )
    assert [(i.owner, i.deadline) for i in items] == [("Marina", "até sexta")]


def test_the_writer_and_the_evaluation_read_commitments_by_the_same_rule():
    from techne_assets.core.document_defects import non_commitment_actions

    document = document_of(
        [
            ("Ana", "Bom dia, pessoal, tudo certo?"),
            (
                "Bruno",
                "Próximos passos: o Bruno foi promovido na semana passada; a Ana atualiza "
                "o runbook até quinta.",
            ),
            ("Carla", "Eu já mandei o relatório de ontem para o time."),
            ("Ana", "Fechado, eu coloco o link no chamado."),
        ]
    )
    assert [i.owner for i in document.action_items] == ["Ana", "Ana"]
    assert non_commitment_actions(document) == []


def test_a_short_preterite_or_an_imperfect_is_read_as_past():
    items = _items(
        [
            ("Diego", "Eu abri o chamado com o suporte do banco."),
            ("Diego", "A Carla revisava os limites da conta toda segunda."),
            ("Ana", "Eu copio o link da documentação no chamado."),
        ]
    )
    assert [i.text for i in items] == ["Eu copio o link da documentação no chamado."]
