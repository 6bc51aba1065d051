"""Speaker names in `Name: text` captions: real display names in, labels inside speech out."""

from __future__ import annotations

from itertools import groupby

import pytest

from techne_assets.core.captions import parse_transcript
from techne_assets.core.speaker_names import SpeakerNames, split_name


def _vtt(*cues: str) -> bytes:
    blocks = ["WEBVTT"]
    for index, text in enumerate(cues):
        start = index * 4
        blocks.append(f"{index + 1}\n00:00:{start:02d}.000 --> 00:00:{start + 3:02d}.500\n{text}")
    return ("\n\n".join(blocks) + "\n").encode()


def _srt(*cues: str) -> bytes:
    blocks = []
    for index, text in enumerate(cues):
        start = index * 4
        blocks.append(f"{index + 1}\n00:00:{start:02d},000 --> 00:00:{start + 3:02d},500\n{text}")
    return ("\n\n".join(blocks) + "\n").encode()


def _turns(data: bytes, name: str = "call.vtt") -> list[tuple[str | None, str]]:
    return [(s.speaker, s.text) for s in parse_transcript(data, name).segments]


@pytest.mark.parametrize(
    "name",
    [
        "ana (@asouza)",
        "joao-pereira",
        "Maria Lima | Acme",
        "buildbot",
        "lucas.m",
        "Kenji (SRE) | Northwind",
        "Otávio Brandão - SAP",
        "Conceição Ribeiro",
        "Sala 3 Andar",
        "João da Silva Sauro",
    ],
)
def test_real_display_names_are_names(name: str):
    assert split_name(f"{name}: pode compartilhar a tela?") == (name, "pode compartilhar a tela?")


@pytest.mark.parametrize(
    "line",
    [
        "Observação: nunca apague arquivos do diretório de WAL.",
        "Resumo: o slot segurava o disco.",
        "Erro: permission denied ao abrir o socket.",
        "Passo 1: confirmar a identidade da chamada.",
        "Próximos passos: revisar as roles.",
        "Note: the cache is shared.",
        "Step 3: restart the service.",
        "então: a gente volta amanhã",
        "resumo: tudo certo",
        "O problema é: ninguém removeu o slot",
        "Uma pessoa com um nome muito comprido demais para ser nome: fala",
    ],
)
def test_labels_and_speech_are_not_names(line: str):
    assert split_name(line) is None


def test_zoom_names_on_every_cue_keep_two_speakers_apart():
    data = _vtt(
        "Maria Lima | Acme: Vocês estão me ouvindo?",
        "joao-pereira: Estou, sim. Pode começar.",
        "Maria Lima | Acme: Então vamos olhar os slots primeiro.",
        "joao-pereira: Tem um slot inativo, o slot_bi.",
    )
    assert _turns(data) == [
        ("Maria Lima | Acme", "Vocês estão me ouvindo?"),
        ("joao-pereira", "Estou, sim. Pode começar."),
        ("Maria Lima | Acme", "Então vamos olhar os slots primeiro."),
        ("joao-pereira", "Tem um slot inativo, o slot_bi."),
    ]


def test_a_label_on_the_second_line_of_a_cue_stays_speech():
    data = _vtt(
        "ana (@asouza): Antes de seguir, um aviso:\nObservação: nunca rode isso em produção.",
        "buildbot: Entendido aqui na sala.",
        "ana (@asouza): Então seguimos.",
    )
    turns = _turns(data)
    assert turns[0] == (
        "ana (@asouza)",
        "Antes de seguir, um aviso: Observação: nunca rode isso em produção.",
    )
    assert [speaker for speaker, _ in turns] == ["ana (@asouza)", "buildbot", "ana (@asouza)"]


def test_names_written_only_at_speaker_changes_carry_over_and_labels_stay_speech():
    data = _srt(
        "Sérgio Araújo: Vamos pela GPO.",
        "Passo 1: rodar o gpresult na máquina.",
        "Passo 2: olhar a seção de filtradas.",
        "Thaís Nogueira: Rodei, aparece como filtrada.",
        "Sérgio Araújo: Então é o filtro de segurança.",
        "Erro: acesso negado, é o que aparece?",
        "Thaís Nogueira: Isso mesmo.",
    )
    turns = _turns(data, "call.srt")
    assert [speaker for speaker, _ in groupby(speaker for speaker, _ in turns)] == [
        "Sérgio Araújo",
        "Thaís Nogueira",
        "Sérgio Araújo",
        "Thaís Nogueira",
    ]
    sergio = " ".join(text for speaker, text in turns if speaker == "Sérgio Araújo")
    assert "Passo 1: rodar o gpresult" in sergio and "Passo 2: olhar" in sergio
    assert "Erro: acesso negado" in sergio


def test_a_capitalized_word_with_a_colon_once_in_a_lecture_is_not_a_speaker():
    data = _srt(
        "Boa noite a todos, vamos começar a aula.",
        "Hoje o tema é confiabilidade de serviços.",
        "Definição: um SLI é uma medida do serviço.",
        "E um SLO é a meta para essa medida.",
    )
    assert all(speaker is None for speaker, _ in _turns(data, "aula.srt"))


def test_speaker_names_decided_by_repetition():
    starts = ["Docker: é um runtime de contêineres"] + [f"frase {i} da aula" for i in range(30)]
    assert SpeakerNames.from_cue_starts(starts).names == frozenset()
    changes = ["Ana: oi", "continua", "Bruno: oi", "continua", "Ana: certo", "Bruno: ok"]
    names = SpeakerNames.from_cue_starts(changes)
    assert names.names == {"Ana", "Bruno"}
    assert names.at_changes_only is True
    every = SpeakerNames.from_cue_starts([f"Ana: frase {i}" for i in range(9)] + ["Bruno: ok"])
    assert every.names == {"Ana", "Bruno"} and every.at_changes_only is False
