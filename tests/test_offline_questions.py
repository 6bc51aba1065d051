"""Questions stage: a real question answered by someone else; review questions in a lecture."""

from __future__ import annotations

from offline_support import document_of


def test_a_question_is_paired_with_the_next_speakers_answer_with_evidence():
    (qa,) = document_of(
        [
            ("Ana", "Quanto tempo a réplica ficou atrasada ontem à noite?"),
            ("Bruno", "Uns quarenta minutos, até o slot órfão ser removido."),
        ]
    ).questions
    assert qa.asked_by == "Ana" and qa.answered_by == "Bruno"
    assert qa.evidence == ["s0000", "s0001"] and not qa.review


def test_audio_checks_greetings_and_tag_questions_are_not_questions():
    questions = document_of(
        [
            ("Ana", "Oi, gente, bom dia. Vocês estão me ouvindo bem?"),
            ("Diego", "Tô te ouvindo bem, Ana, pode seguir."),
            ("Ana", "Dá pra ver a minha tela agora com o console aberto?"),
            ("Diego", "Dá sim, tá aparecendo o console da AWS."),
            ("Ana", "Então a política fica assim por enquanto. Beleza?"),
            ("Diego", "Beleza, pode seguir para o próximo ponto."),
            ("Ana", "Tudo bem com vocês?"),
            ("Diego", "Tudo certo por aqui, obrigado."),
        ]
    ).questions
    assert questions == []


def test_a_rhetorical_question_the_speaker_answers_is_not_a_question():
    questions = document_of(
        [
            ("Ana", "E sabe por que o disco encheu tão rápido?"),
            ("Ana", "Porque o processo mantinha o arquivo apagado aberto."),
            ("Bruno", "Faz sentido, eu vi isso no lsof."),
        ]
    ).questions
    assert questions == []


def test_one_answer_is_never_used_for_two_questions():
    questions = document_of(
        [
            ("Ana", "Qual é o limite de conexões configurado no banco?"),
            ("Bruno", "E quantas conexões cada pod abre hoje no pool?"),
            ("Carla", "O limite é duzentas e cada pod abre trinta e duas conexões."),
        ]
    ).questions
    answers = [q.answer for q in questions]
    assert len(answers) == len(set(answers)) == 1
    assert questions[0].asked_by != questions[0].answered_by


def test_a_lecture_gets_review_questions_from_the_definitions_it_gave():
    document = document_of(
        [
            ("Marina", "Hoje eu vou falar de confiabilidade de serviços e de como medir."),
            ("Marina", "SLI significa service level indicator, o indicador que a gente mede."),
            ("Marina", "E o SLO é o objetivo que a gente define para esse indicador na janela."),
            ("Marina", "Se o SLO é noventa e nove vírgula nove, sobra zero vírgula um de falha."),
        ]
    )
    questions = document.questions
    assert questions and all(q.review for q in questions)
    assert {q.question for q in questions} == {"O que é SLI?", "O que é SLO?"}
    assert all(q.evidence for q in questions)
    # SLO is answered by the sentence that defines it, not by the one that uses a figure.
    assert {q.question: q.evidence for q in questions}["O que é SLO?"] == ["s0002"]
