"""Technical fragments: where a spoken command ends, which programs start one, idioms that are not commands."""

from __future__ import annotations

import pytest

from techne_assets.core.text_rules import find_fragments, is_command_break


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
        ("Só cuidado com o systemctl restart remoto.", ["systemctl restart"]),
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


@pytest.mark.parametrize(
    "word", ["direto", "aí", "pra", "depois", "funcionava", "apontando", "normalmente"]
)
def test_spoken_words_break_a_command(word):
    assert is_command_break(word)


@pytest.mark.parametrize(
    "word", ["pods", "--previous", "status", "apply", "deployment/api", "-n", "42"]
)
def test_arguments_do_not_break_a_command(word):
    assert not is_command_break(word)


@pytest.mark.parametrize(
    "sentence",
    [
        "Let me head over to the dashboard first.",
        "That would kill two birds with one stone.",
        "Don't let the cat out of the bag before the release.",
        "We can tail back to that later.",
    ],
)
def test_an_idiom_with_a_program_name_is_not_a_command(sentence):
    assert _commands(sentence) == []


def test_a_program_named_like_a_word_is_a_command_in_a_shell_context_or_with_arguments():
    assert _commands("Then run kill 4242 and check again.") == ["kill 4242"]
    assert _commands("Eu rodo head /etc/hosts pra ver.") == ["head /etc/hosts"]
    assert _commands("Run tail -f /var/log/syslog now.") == ["tail -f /var/log/syslog"]


def test_english_function_words_end_a_command():
    assert _commands("Make sure you git checkout the release branch.") == ["git checkout"]


def test_a_word_after_a_flag_ends_the_command_when_only_a_full_stop_follows_it():
    assert _commands("Roda docker run --rm node:20 npm --version no runner.") == [
        "docker run --rm node:20 npm --version"
    ]


def test_fortigate_commands_start_only_with_a_known_subcommand():
    assert _commands("Roda diagnose vpn tunnel list name aws-sp-tunel1 pra ver.") == [
        "diagnose vpn tunnel list name aws-sp-tunel1"
    ]
    assert _commands("Let me get the system working again.") == []
