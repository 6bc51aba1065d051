"""Spoken pt-BR technical forms are written the way they are typed; prose is left alone."""

from __future__ import annotations

import pytest

from techne_assets.core.spoken_forms import normalize_spoken

SPOKEN_TO_WRITTEN = [
    # commands, flags and paths
    ("ls traço la barra etc barra nginx", "ls -la /etc/nginx"),
    ("aí você roda sudo rm traço rf barra tmp barra cache", "aí você roda sudo rm -rf /tmp/cache"),
    ("git push traço traço force", "git push --force"),
    ("kubectl traço n produção get pods", "kubectl -n produção get pods"),
    ("psql traço h localhost traço u postgres", "psql -h localhost -u postgres"),
    ("grep traço i error barra var barra log", "grep -i error /var/log"),
    ("cat barra var barra log barra syslog pipe grep erro", "cat /var/log/syslog | grep erro"),
    (
        "chmod seiscentos e quarenta e quatro barra etc barra ssl barra chave ponto pem",
        "chmod 644 /etc/ssl/chave.pem",
    ),
    (
        "roda o docker compose traço f docker traço compose ponto yml",
        "roda o docker compose -f docker-compose.yml",
    ),
    ("cd til barra ponto kube", "cd ~/.kube"),
    ("o arquivo fica em barra etc barra hosts", "o arquivo fica em /etc/hosts"),
    ("edita o barra etc barra fstab com cuidado", "edita o /etc/fstab com cuidado"),
    ("echo teste maior que saida ponto txt", "echo teste > saida.txt"),
    ("tar traço xzf backup ponto tar ponto gz", "tar -xzf backup.tar.gz"),
    ("systemctl restart nginx ponto service", "systemctl restart nginx.service"),
    ("abre o config ponto yaml", "abre o config.yaml"),
    ("edita o ponto env", "edita o .env"),
    ("copia pra barra opt barra app barra", "copia pra /opt/app/"),
    ("mkdir traço p barra srv barra dados", "mkdir -p /srv/dados"),
    (
        "o caminho é c dois pontos contrabarra windows contrabarra temp",
        "o caminho é c:\\windows\\temp",
    ),
    # configuration keys and values
    ("max underline connections igual duzentos", "max_connections=200"),
    ("coloca log underscore level igual debug", "coloca log_level=debug"),
    ("timeout igual trinta", "timeout=30"),
    ("a variável é database underline url", "a variável é database_url"),
    ("o glob é asterisco ponto log", "o glob é *.log"),
    ("a tag é app dois pontos latest", "a tag é app:latest"),
    # hosts, addresses and numbers
    ("o nome do host é app traço prod traço zero um", "o nome do host é app-prod-01"),
    ("cento e vinte e sete ponto zero ponto zero ponto um", "127.0.0.1"),
    ("acessa localhost dois pontos oito zero oito zero", "acessa localhost:8080"),
    ("sobe na porta oito mil e oitenta", "sobe na porta 8080"),
    ("deu erro quinhentos e dois no gateway", "deu erro 502 no gateway"),
    ("instala o python três ponto onze", "instala o python 3.11"),
    ("o ip é dez ponto zero ponto um ponto cinquenta", "o ip é 10.0.1.50"),
    # URLs and e-mail
    (
        "h t t p s dois pontos barra barra docs ponto empresa ponto com ponto br barra api",
        "https://docs.empresa.com.br/api",
    ),
    ("entra em dáblio dáblio dáblio ponto google ponto com", "entra em www.google.com"),
    ("manda pra fulano arroba empresa ponto com", "manda pra fulano@empresa.com"),
    (
        "o e-mail é suporte ponto ti arroba empresa ponto com ponto br",
        "o e-mail é suporte.ti@empresa.com.br",
    ),
    (
        "o repositório tá em github ponto com barra empresa barra infra",
        "o repositório tá em github.com/empresa/infra",
    ),
    (
        "acessa h t t p dois pontos barra barra localhost dois pontos três mil",
        "acessa http://localhost:3000",
    ),
    # Windows and PowerShell
    ("roda gpresult barra r barra scope computer", "roda gpresult /r /scope computer"),
    (
        "w32tm barra config barra syncfromflags dois pontos domhier barra update",
        "w32tm /config /syncfromflags:domhier /update",
    ),
    (
        "Test-ComputerSecureChannel traço Repair traço Credential",
        "Test-ComputerSecureChannel -Repair -Credential",
    ),
    ("o SPN é cifs barra fs01 ponto corp ponto local", "o SPN é cifs/fs01.corp.local"),
    # more flags and arguments
    ("du traço h traço traço max-depth igual um barra var", "du -h --max-depth=1 /var"),
    ("ls traço lh traço traço sort igual size", "ls -lh --sort=size"),
    (
        "truncate traço s zero barra var barra log barra app ponto log",
        "truncate -s 0 /var/log/app.log",
    ),
    (
        "kubectl rollout restart deployment barra loja-web traço n loja",
        "kubectl rollout restart deployment/loja-web -n loja",
    ),
    ("apaga a pasta ponto npm do runner", "apaga a pasta .npm do runner"),
    ("o disco chegou a noventa e nove por cento ontem", "o disco chegou a 99% ontem"),
    ("entre zero e cem por cento de uso", "entre 0 e 100% de uso"),
    ("com traço C e o resto igual", "com -C e o resto igual"),
    # spelled words
    ("conecta por s s h no servidor", "conecta por ssh no servidor"),
    ("o comando é s s h traço i chave ponto pem", "o comando é ssh -i chave.pem"),
]

UNCHANGED_PROSE = [
    "o ponto de montagem precisa estar livre",
    "clica na barra de ferramentas lá em cima",
    "nesse ponto a gente já tem o cluster",
    "faz um traço aqui no quadro",
    "o ponto de vista dele é outro",
    "a latência tá maior que o normal",
    "são três servidores e dois bancos",
    "temos dois pontos importantes hoje",
    "o resultado é igual ao anterior",
    "clica na barra lateral e depois em salvar",
    "ponto final, vamos pro próximo assunto",
    "a estrela do time é a Ana",
    "e o servidor voltou",
    "o item um e o ponto dois da pauta",
    "o consumo igual a um terço do mês",
]


@pytest.mark.parametrize(("spoken", "written"), SPOKEN_TO_WRITTEN)
def test_spoken_technical_forms_are_written_as_typed(spoken: str, written: str) -> None:
    assert normalize_spoken(spoken) == written


@pytest.mark.parametrize("prose", UNCHANGED_PROSE)
def test_ordinary_prose_is_left_alone(prose: str) -> None:
    assert normalize_spoken(prose) == prose


def test_a_sentence_keeps_its_punctuation_around_the_rewritten_command() -> None:
    assert (
        normalize_spoken("Depois roda ls traço la barra etc barra nginx, e confere.")
        == "Depois roda ls -la /etc/nginx, e confere."
    )


def test_punctuation_ends_an_expression() -> None:
    # The comma separates two clauses: the second "barra" does not continue the first path.
    assert normalize_spoken("abre barra etc barra hosts, barra lateral fechada") == (
        "abre /etc/hosts, barra lateral fechada"
    )


def test_written_forms_pass_through() -> None:
    text = "roda `ls -la /etc/nginx` e abre https://docs.empresa.com.br/api"
    assert normalize_spoken(text) == text


def test_the_table_is_large_enough() -> None:
    assert len(SPOKEN_TO_WRITTEN) + len(UNCHANGED_PROSE) >= 40


# Regressions: spacing around rewritten spans, token boundaries after numbers, decimals.
@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("o disco tá em oitenta por cento certo?", "o disco tá em 80% certo?"),
        ("a CPU bateu cem por cento, beleza", "a CPU bateu 100%, beleza"),
        ("uns cinquenta por cento dos usuários reclamaram", "uns 50% dos usuários reclamaram"),
    ],
)
def test_the_space_after_a_rewritten_percentage_is_kept(spoken: str, written: str) -> None:
    assert normalize_spoken(spoken) == written


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        (
            "truncate traço s zero barra var barra log barra integra ponto log",
            "truncate -s 0 /var/log/integra.log",
        ),
        ("tail traço n cem barra var barra log barra syslog", "tail -n 100 /var/log/syslog"),
        (
            "split traço l mil barra tmp barra dump ponto sql",
            "split -l 1000 /tmp/dump.sql",
        ),
        ("aumenta com ulimit traço n sessenta e cinco mil", "aumenta com ulimit -n 65000"),
        ("o serviço roda vinte e quatro barra sete", "o serviço roda 24/7"),
    ],
)
def test_a_flag_value_and_the_path_after_it_are_separate_tokens(spoken: str, written: str) -> None:
    assert normalize_spoken(spoken) == written


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        # pt-BR prose: decimal comma, whether the fraction was said in words or transcribed in digits.
        ("o SLA ficou em noventa e nove vírgula nove por cento", "o SLA ficou em 99,9%"),
        ("o SLA ficou em noventa e nove vírgula 9% no mês", "o SLA ficou em 99,9% no mês"),
        ("a latência caiu pra zero vírgula cinco segundos", "a latência caiu pra 0,5 segundos"),
        ("a resposta levou um vírgula cinco segundos", "a resposta levou 1,5 segundos"),
        # technical expression: the value is typed with a decimal point.
        ("coloca timeout igual zero vírgula cinco", "coloca timeout=0.5"),
        ("threshold igual zero vírgula nove cinco no arquivo", "threshold=0.95 no arquivo"),
    ],
)
def test_decimals_follow_the_context_convention(spoken: str, written: str) -> None:
    assert normalize_spoken(spoken) == written


@pytest.mark.parametrize(
    "prose",
    ["são dois, vírgula, três itens", "coloca uma vírgula aqui", "um servidor e dois bancos"],
)
def test_a_comma_said_in_prose_is_not_a_decimal(prose: str) -> None:
    assert normalize_spoken(prose) == prose
