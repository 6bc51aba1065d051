"""Titles and summary: noun phrases that were said, unique in the document, counts that agree."""

from __future__ import annotations

import pytest
from offline_support import analysis_of, document_of

from techne_assets.core.writing.offline.summary import counted, human_duration
from techne_assets.core.writing.offline.titles import TitleBook, is_title_word, title_phrases


@pytest.mark.parametrize(
    "word", ["servidor", "estado", "PgBouncer", "kubectl", "Campinas", "tabela"]
)
def test_nouns_and_technical_terms_can_title_a_section(word):
    assert is_title_word(word)


@pytest.mark.parametrize(
    "word", ["conectada", "rodando", "configurar", "tava", "rapidamente", "inteiro"]
)
def test_verbs_adverbs_and_adjectives_do_not_title_a_section(word):
    assert not is_title_word(word)


@pytest.mark.parametrize("word", ["the", "that", "you", "this", "yeah"])
def test_english_pronouns_and_fillers_do_not_title_a_section(word):
    assert not is_title_word(word, "en")


def _phrases(sentence: str, nouns: set[str], lang: str = "pt") -> list[str]:
    return [phrase for phrase, _ in title_phrases(sentence, nouns.__contains__, lang)]


def test_a_title_phrase_is_a_noun_after_an_article_with_its_de_complements():
    nouns = {"tamanho", "fila", "servidor", "cota", "disco"}
    phrases = _phrases("Então eu aumento o tamanho da fila do servidor hoje.", nouns)
    assert "tamanho da fila do servidor" in phrases
    assert "aumento" not in " ".join(phrases)
    assert "cota de disco" in _phrases("A gente revisou a cota de disco ontem.", nouns)


def test_a_title_phrase_keeps_an_adjective_but_never_a_conjugated_verb():
    nouns = {"rota", "pods"}
    assert _phrases("Criei a rota nova.", nouns) == ["rota"]
    assert "rota principal" in _phrases("Conferi a rota principal.", nouns)
    assert "pods em ImagePullBackOff" in _phrases("Os pods em ImagePullBackOff sumiram.", nouns)
    # "significa" ends like an adjective (-ica) but is a verb: "SLO significa" is no title.
    assert "SLO significa" not in _phrases("O SLO significa objetivo de nível de serviço.", set())


def test_an_english_title_phrase_is_the_nouns_after_an_article():
    nouns = {"replication", "slot", "cache"}
    assert "replication slot" in _phrases("We dropped the replication slot yesterday.", nouns, "en")


def test_every_title_of_a_document_is_unique():
    analysis = analysis_of(
        [
            ("Ana", "O limite de conexões do banco estourou durante a campanha."),
            ("Bruno", "O limite de conexões do banco precisa de um alerta."),
        ]
    )
    book = TitleBook(analysis)
    salience = analysis.weighted(analysis.sentences)
    first = book.title(analysis.sentences, salience)
    second = book.title(analysis.sentences, salience)
    assert first != second and first.casefold() != second.casefold()


def test_topic_and_procedure_titles_never_repeat_in_a_call_that_keeps_to_one_subject():
    lines = [
        ("Ana" if i % 2 else "Rui", f"O disco do servidor {n} encheu e o log do serviço cresceu.")
        for i, n in enumerate(["app01", "app02", "app03", "app04"] * 6)
    ]
    document = document_of(lines, step=60.0)
    titles = [t.title for t in document.topics] + [p.title for p in document.procedures]
    assert len(document.topics) > 1
    assert len(titles) == len({t.casefold() for t in titles})


def test_counts_agree_in_number_and_never_say_s_in_parentheses():
    assert counted(1, "participants") == "1 participante"
    assert counted(2, "participants") == "2 participantes"
    assert counted(1, "decisions") == "1 decisão" and counted(3, "decisions") == "3 decisões"
    assert human_duration(60) == "1 minuto" and human_duration(125) == "2 minutos"
    assert human_duration(3 * 3600 + 300) == "3 h 05 min"


def test_the_summary_names_what_was_said_and_leaves_out_zero_counts():
    document = document_of(
        [
            ("Paula", "Hoje a conversa é sobre o planejamento do treinamento de Python."),
            ("Rui", "A turma tem vinte alunos e a maioria já conhece lógica de programação."),
        ]
    )
    summary = " ".join(document.executive_summary)
    assert "(s)" not in summary and " 0 " not in summary
    assert "2 participantes (Paula e Rui)" in summary
    assert "planejamento do treinamento" in summary
