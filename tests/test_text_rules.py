"""pt-BR text rules: where a spoken command ends, which programs start one, which words can title."""

from __future__ import annotations

import pytest

from techne_assets.core.text_rules import (
    find_fragments,
    is_command_break,
    is_title_word,
    title_phrases,
)


def _commands(text: str) -> list[str]:
    return [text[f.start : f.end] for f in find_fragments(text) if f.kind == "command"]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Aí você roda kubectl logs direto e vê o container novo.", ["kubectl logs"]),
        ("No docker ps aparece tudo parado.", ["docker ps"]),
        ("Eu rodei git status rapidinho pra conferir.", ["git status"]),
        ("O curl funcionava apontando pro proxy.", []),
        ("Pra ver isso eu rodo cat /var/log/syslog agora.", ["cat /var/log/syslog"]),
        ("Roda kubectl get svc -n vendas pra listar.", ["kubectl get svc -n vendas"]),
        ("Só cuidado com o netplan apply remoto.", ["netplan apply"]),
    ],
)
def test_a_command_stops_at_the_first_word_of_speech(sentence, expected):
    assert _commands(sentence) == expected


def test_a_plain_word_right_after_a_flag_is_its_value_when_arguments_follow():
    assert _commands("Testa com ping -M do -s 1400 192.168.0.1 agora.") == [
        "ping -M do -s 1400 192.168.0.1"
    ]
    # A flag with nothing technical after it: "e" is speech again.
    assert _commands("Roda journalctl -f e depois me fala.") == ["journalctl -f"]


def test_flags_paths_key_values_quoted_args_and_names_stay_in_the_command():
    sentence = (
        "Executa helm upgrade loja ./chart --set image.tag=2.1 -f values/prod.yaml "
        "--namespace loja-prod e aguarda."
    )
    assert _commands(sentence) == [
        "helm upgrade loja ./chart --set image.tag=2.1 -f values/prod.yaml --namespace loja-prod"
    ]


def test_network_device_commands_start_only_with_a_known_subcommand():
    assert _commands("No roteador eu rodo show ip interface brief pra ver.") == [
        "show ip interface brief"
    ]
    assert _commands("Depois ip route add 10.0.0.0/8 via 10.1.1.1 e pronto.") == [
        "ip route add 10.0.0.0/8 via 10.1.1.1"
    ]
    assert _commands("Foi um show de bola, e o ip do servidor mudou.") == []


def test_a_relative_path_with_a_file_extension_is_one_fragment():
    text = "Edita o arquivo infra/envs/prod/main.yaml antes."
    fragments = [text[f.start : f.end] for f in find_fragments(text)]
    assert fragments == ["infra/envs/prod/main.yaml"]


@pytest.mark.parametrize("word", ["direto", "aí", "pra", "depois", "funcionava", "apontando", "normalmente"])
def test_spoken_words_break_a_command(word):
    assert is_command_break(word)


@pytest.mark.parametrize("word", ["pods", "--previous", "status", "apply", "deployment/api", "-n", "42"])
def test_arguments_do_not_break_a_command(word):
    assert not is_command_break(word)


@pytest.mark.parametrize("word", ["servidor", "estado", "PgBouncer", "kubectl", "Campinas", "tabela"])
def test_nouns_and_technical_terms_can_title_a_section(word):
    assert is_title_word(word)


@pytest.mark.parametrize("word", ["conectada", "rodando", "configurar", "tava", "rapidamente", "inteiro"])
def test_verbs_adverbs_and_adjectives_do_not_title_a_section(word):
    assert not is_title_word(word)


def _phrases(sentence: str, nouns: set[str]) -> list[str]:
    return [phrase for phrase, _ in title_phrases(sentence, nouns.__contains__)]


def test_a_title_phrase_is_a_noun_after_an_article_with_its_de_complements():
    nouns = {"tamanho", "fila", "servidor", "cota", "disco"}
    phrases = _phrases("Então eu aumento o tamanho da fila do servidor hoje.", nouns)
    assert "tamanho da fila do servidor" in phrases
    assert "aumento" not in " ".join(phrases)  # a verb never opens or ends a phrase
    assert "cota de disco" in _phrases("A gente revisou a cota de disco ontem.", nouns)


def test_a_title_phrase_keeps_an_adjective_and_joins_em_only_before_a_technical_term():
    nouns = {"rota", "pods"}
    assert _phrases("Criei a rota nova.", nouns) == ["rota"]  # "nova" is no -al/-ico adjective
    assert "rota principal" in _phrases("Conferi a rota principal.", nouns)
    assert "pods em ImagePullBackOff" in _phrases("Os pods em ImagePullBackOff sumiram.", nouns)
    assert not any(p.endswith(" em") for p in _phrases("Os pods em tela sumiram.", nouns))


def test_a_lowercase_word_not_known_as_a_noun_is_not_a_title_phrase():
    # "corre" is said after "a" here, but the call never used it as a noun.
    assert _phrases("Depois a corre e pronto.", {"fila"}) == []
    # A technical term needs no article.
    assert _phrases("Vi que DNS respondia.", set()) == ["DNS"]
