"""Transcript parsers: Amazon Transcribe JSON, WebVTT and SRT, detected by content.

Third-party fixtures (sources in tests/data/SOURCES.md): `captions/webvttpy_*` come from
glut23/webvtt-py's test suite, `transcribe/tscribe_*` from kibaffo33/aws_transcribe_to_docx's
sample material. The pt-BR files beside them were written for these tests.
"""

from __future__ import annotations

import json
import re
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from techne_assets.core.captions import (
    MAX_SEGMENT_SECONDS,
    PAUSE_SPLIT_SECONDS,
    SENTENCE_SPLIT_SECONDS,
    load_transcript,
    parse_transcript,
)
from techne_assets.core.errors import InputError, TranscriptParseError
from techne_assets.core.transcript import Transcript


def _joined(transcript: Transcript) -> str:
    return " ".join(segment.text for segment in transcript.segments)


def _caption_numbers(*numbers: int) -> str:
    return " ".join(f"Caption text #{number}" for number in numbers)


# --- every third-party caption fixture ---------------------------------------------------

# file → (all words in order, start of the first segment, end of the last, language);
# read off the files by hand.
READABLE_CAPTIONS = {
    "webvttpy_captions_with_bom.vtt": (_caption_numbers(1, 2, 3, 4), 0.5, 21.58, None),
    "webvttpy_comments.vtt": (
        (
            "- Ta en kopp varmt te. - Det är inte varmt. "
            "- Har en kopp te. - Det smakar som te. - Ta en kopp"
        ),
        135.0,
        150.0,
        None,
    ),
    "webvttpy_cue_tags.vtt": (
        "When the moon hits your eye Like a big-a pizza pie That's amore",
        16.5,
        21.5,
        None,
    ),
    "webvttpy_metadata_headers.vtt": (_caption_numbers(1, 2), 0.5, 11.89, "en"),
    "webvttpy_metadata_headers_multiline.vtt": (_caption_numbers(1, 2), 0.5, 11.89, "en"),
    "webvttpy_missing_caption_text.vtt": (_caption_numbers(1, 3, 4, 5), 0.5, 23.88, None),
    "webvttpy_missing_caption_text.srt": (_caption_numbers(1, 3, 4, 5), 0.5, 23.88, None),
    "webvttpy_one_caption.vtt": (_caption_numbers(1), 0.5, 7.0, None),
    "webvttpy_sample.vtt": (_caption_numbers(*range(1, 17)), 0.5, 64.3, None),
    "webvttpy_sample.srt": (_caption_numbers(1, 2, 3, 4, 5), 0.5, 23.88, None),
    "webvttpy_styles.vtt": ("- Hello world.", 0.0, 10.0, None),
    "webvttpy_using_identifiers.vtt": (_caption_numbers(1, 2, 3, 4, 5, 6), 0.5, 27.28, None),
    "webvttpy_youtube_dl.vtt": (
        "yeah yeah what this will happen is I'm telling this will happen is I'm telling",
        286.07,
        305.4,
        "en",
    ),
    # Recoverable files, read leniently (see the decisions in core/captions.py):
    # no WEBVTT header but SRT-shaped blocks with '.' milliseconds;
    "webvttpy_invalid.vtt": (_caption_numbers(1, 2, 3, 4, 5, 6, 7), 0.5, 30.28, None),
    # one timing uses '.' instead of ',' before the milliseconds;
    "webvttpy_invalid_timeframe.srt": (_caption_numbers(1, 2, 3, 4, 5), 0.5, 23.88, None),
    # a second timing line inside a cue starts a new cue, as the WebVTT parsing rules say.
    "webvttpy_invalid_timeframe_in_cue_text.vtt": (_caption_numbers(1, 2, 3), 0.5, 16.32, None),
}

# file → (line number the message must name, or None, and a phrase it must contain)
BROKEN_CAPTIONS = {
    "webvttpy_empty.vtt": (None, "empty file, no header"),
    "webvttpy_invalid_format1.srt": (1, "caption 1 has no timing line"),
    "webvttpy_invalid_format4.srt": (1, "'some text'"),
    "webvttpy_invalid_timeframe.vtt": (6, "'00:00:07.000 --> 00:00:1d.890'"),
    "webvttpy_missing_timeframe.srt": (5, "caption 2 has no timing line"),
    "webvttpy_missing_timeframe.vtt": (6, "without a timing line"),
}


def test_every_third_party_fixture_has_an_expectation(data_dir: Path):
    captions = {path.name for path in (data_dir / "captions").glob("webvttpy_*")}
    covered = set(READABLE_CAPTIONS) | set(BROKEN_CAPTIONS) | {"webvttpy_no_captions.vtt"}
    assert captions == covered
    transcribe = {path.name for path in (data_dir / "transcribe").glob("tscribe_*")}
    assert transcribe == set(TRANSCRIBE_FIXTURES)


@pytest.mark.parametrize("name", sorted(READABLE_CAPTIONS))
def test_caption_fixture_keeps_every_word_in_order(data_dir: Path, name: str):
    words, first_start, last_end, language = READABLE_CAPTIONS[name]

    transcript = load_transcript(data_dir / "captions" / name)

    assert _joined(transcript).split() == words.split()
    assert transcript.segments[0].start == pytest.approx(first_start)
    assert transcript.segments[-1].end == pytest.approx(last_end)
    assert transcript.language == language
    assert transcript.duration is None


@pytest.mark.parametrize("name", sorted(BROKEN_CAPTIONS))
def test_broken_caption_fixture_raises_a_parse_error_naming_the_line(data_dir: Path, name: str):
    line, phrase = BROKEN_CAPTIONS[name]
    path = data_dir / "captions" / name

    with pytest.raises(TranscriptParseError) as raised:
        load_transcript(path)

    message = raised.value.one_line()
    assert message.startswith(f"{path}: ")
    assert phrase in message
    if line is not None:
        assert f"line {line}:" in message


def test_header_only_vtt_is_an_empty_transcript(data_dir: Path):
    transcript = load_transcript(data_dir / "captions" / "webvttpy_no_captions.vtt")
    assert transcript.segments == []
    assert transcript.word_count == 0


def test_notes_styles_regions_identifiers_and_settings_are_not_text(data_dir: Path):
    comments = _joined(load_transcript(data_dir / "captions" / "webvttpy_comments.vtt"))
    styles = _joined(load_transcript(data_dir / "captions" / "webvttpy_styles.vtt"))
    identifiers = _joined(load_transcript(data_dir / "captions" / "webvttpy_using_identifiers.vtt"))
    youtube = _joined(load_transcript(data_dir / "captions" / "webvttpy_youtube_dl.vtt"))

    assert "translation" not in comments and "NOTE" not in comments
    assert "papayawhip" not in styles and "::cue" not in styles
    assert "second caption" not in identifiers
    assert "align:start" not in youtube and "<" not in youtube and "c.color" not in youtube


# --- Amazon Transcribe JSON ------------------------------------------------------------------

TRANSCRIBE_FIXTURES = [
    "tscribe_01-plain.json",
    "tscribe_02-channel-identification.json",
    "tscribe_03-speaker-identification.json",
    "tscribe_05-redaction-redacted.json",
    "tscribe_07-vocabulary-filter-mask.json",
    "tscribe_08-vocabulary-filter-remove.json",
    "tscribe_10-speaker-id-alternative-results.json",
]


def _results(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["results"]


@pytest.mark.parametrize("name", TRANSCRIBE_FIXTURES)
def test_transcribe_fixture_text_matches_the_services_own_transcript(data_dir: Path, name: str):
    path = data_dir / "transcribe" / name
    results = _results(path)
    spoken = [
        item["alternatives"][0]["content"]
        for item in results["items"]
        if item["type"] == "pronunciation"
    ]

    transcript = load_transcript(path)

    # Transcribe's full transcript joins the same items: words spaced, punctuation attached.
    assert _joined(transcript) == " ".join(results["transcripts"][0]["transcript"].split())
    assert [word.strip(",.?!") for word in _joined(transcript).split()] == spoken
    assert transcript.segments[0].start == float(results["items"][0]["start_time"])


@pytest.mark.parametrize("name", TRANSCRIBE_FIXTURES)
def test_transcribe_segments_break_at_pauses_and_stay_short(data_dir: Path, name: str):
    path = data_dir / "transcribe" / name
    starts = sorted(
        float(item["start_time"]) for item in _results(path)["items"] if "start_time" in item
    )
    ends = {
        float(item["start_time"]): float(item["end_time"])
        for item in _results(path)["items"]
        if "start_time" in item
    }

    transcript = load_transcript(path)

    for segment in transcript.segments:
        inside = [start for start in starts if segment.start <= start < segment.end]
        gaps = [later - ends[earlier] for earlier, later in pairwise(inside)]
        assert all(gap < PAUSE_SPLIT_SECONDS for gap in gaps)
        # The cap is checked before each word is added, so one word may run past it.
        assert segment.end - segment.start < MAX_SEGMENT_SECONDS + 5


def test_transcribe_speaker_labels_name_each_segment(data_dir: Path):
    path = data_dir / "transcribe" / "tscribe_03-speaker-identification.json"
    spans = [
        (float(span["start_time"]), float(span["end_time"]), span["speaker_label"])
        for span in _results(path)["speaker_labels"]["segments"]
    ]
    friendly = {"spk_0": "Falante 1", "spk_1": "Falante 2", "spk_2": "Falante 3"}

    transcript = load_transcript(path)

    assert sorted(transcript.speakers) == ["Falante 1", "Falante 2", "Falante 3"]
    for segment in transcript.segments:
        labels = {label for start, end, label in spans if start <= segment.start < end}
        assert {friendly[label] for label in labels} == {segment.speaker}


def test_transcribe_channels_become_speakers(data_dir: Path):
    path = data_dir / "transcribe" / "tscribe_02-channel-identification.json"
    starts_by_channel = {
        channel["channel_label"]: {
            float(item["start_time"]) for item in channel["items"] if "start_time" in item
        }
        for channel in _results(path)["channel_labels"]["channels"]
    }

    transcript = load_transcript(path)

    assert sorted(transcript.speakers) == ["Canal 1", "Canal 2"]
    channel_of = {"Canal 1": "ch_0", "Canal 2": "ch_1"}
    for segment in transcript.segments:
        assert segment.start in starts_by_channel[channel_of[segment.speaker]]


def test_transcribe_vocabulary_mask_tokens_are_kept(data_dir: Path):
    path = data_dir / "transcribe" / "tscribe_07-vocabulary-filter-mask.json"
    masked = sum(
        1 for item in _results(path)["items"] if item["alternatives"][0]["content"] == "***"
    )

    transcript = load_transcript(path)

    assert masked > 0
    assert _joined(transcript).count("***") == masked


def test_ptbr_transcribe_with_per_item_speaker_labels(data_dir: Path):
    path = data_dir / "transcribe" / "suporte_ptbr_speaker_label.json"

    transcript = load_transcript(path)

    assert transcript.language == "pt-BR"
    assert [segment.speaker for segment in transcript.segments] == [
        "Falante 1",
        "Falante 2",
        "Falante 2",  # same speaker, but after a 1.85 s pause
        "Falante 1",
        "Falante 2",
        "Falante 1",
    ]
    assert (
        transcript.segments[1].text
        == "Oi, Ana! Meu nome é [PII] e a tarefa do ECS não sobe desde ontem."
    )
    assert "O *** do firewall" in transcript.segments[4].text
    assert "com.amazonaws.us-east-1.ecr.dkr" in transcript.segments[5].text
    assert transcript.segments[0].start == 0.64


def _transcribe_bytes(words: list[tuple[float, float, str, str | None]], **results) -> bytes:
    items = []
    for start, end, content, speaker in words:
        if start < 0:  # punctuation
            items.append(
                {"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": content}]}
            )
            continue
        item = {
            "type": "pronunciation",
            "start_time": f"{start:.3f}",
            "end_time": f"{end:.3f}",
            "alternatives": [{"confidence": "0.99", "content": content}],
        }
        if speaker:
            item["speaker_label"] = speaker
        items.append(item)
    return json.dumps(
        {"results": {"transcripts": [{"transcript": ""}], "items": items, **results}}
    ).encode()


def test_transcribe_monologue_splits_after_a_sentence_once_long_enough():
    words = []
    for second in range(120):
        words.append((float(second), second + 0.8, f"palavra{second}", "spk_0"))
        if second % 10 == 9:
            words.append((-1, -1, ".", None))

    transcript = parse_transcript(_transcribe_bytes(words), "monologo.json")

    assert len(transcript.segments) > 1
    for segment in transcript.segments[:-1]:
        assert segment.text.endswith(".")
        assert SENTENCE_SPLIT_SECONDS <= segment.end - segment.start < SENTENCE_SPLIT_SECONDS + 15
    assert _joined(transcript).replace(".", "").split() == [
        f"palavra{second}" for second in range(120)
    ]


def test_transcribe_without_punctuation_still_caps_segment_length():
    words = [(second * 0.5, second * 0.5 + 0.4, "sim", None) for second in range(400)]

    transcript = parse_transcript(_transcribe_bytes(words), "sem-pontuacao.json")

    assert transcript.word_count == 400
    assert all(
        segment.end - segment.start <= MAX_SEGMENT_SECONDS + 1 for segment in transcript.segments
    )


def test_transcribe_empty_results_are_zero_segments():
    transcript = parse_transcript(_transcribe_bytes([], language_code="pt-BR"), "vazio.json")
    assert transcript.segments == []
    assert transcript.language == "pt-BR"


def test_transcribe_text_without_timed_items_is_kept_untimed():
    data = json.dumps(
        {"results": {"transcripts": [{"transcript": "Só o texto, sem tempos."}], "items": []}}
    )

    transcript = parse_transcript(data.encode(), "sem-itens.json")

    assert [(s.start, s.end, s.text) for s in transcript.segments] == [
        (0.0, 0.0, "Só o texto, sem tempos.")
    ]


def _one_item(**item) -> bytes:
    return json.dumps({"results": {"items": [item]}}).encode()


_SAID = [{"content": "oi"}]


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b'{"results": {"items": [', "line 1, column 24: invalid JSON"),
        (b'{"jobName": "x"}', "no top-level 'results' object"),
        (
            _one_item(type="pronunciation", alternatives=_SAID),
            "results.items[0]: a pronunciation item needs start_time and end_time",
        ),
        (
            _one_item(type="pronunciation", start_time="abc", end_time="1", alternatives=_SAID),
            "field results.items[0].start_time",
        ),
        (
            _one_item(type="pronunciation", start_time="1e999", end_time="1", alternatives=_SAID),
            "field results.items[0].start_time",
        ),
        (
            _one_item(type="pronunciation", start_time="1", end_time="2", alternatives=[]),
            "field results.items[0].alternatives",
        ),
    ],
)
def test_broken_transcribe_json_names_the_field(data: bytes, phrase: str):
    with pytest.raises(TranscriptParseError) as raised:
        parse_transcript(data, "job.json")
    assert phrase in str(raised.value)
    assert str(raised.value).startswith("job.json: ")


# --- pt-BR captions of our own ------------------------------------------------------------------


def test_zoom_vtt_names_speakers_and_keeps_colons_inside_speech(data_dir: Path):
    path = data_dir / "captions" / "reuniao_zoom_ptbr.vtt"
    raw = path.read_text(encoding="utf-8")
    cue_texts = [
        line for line in raw.splitlines() if line and "-->" not in line and not line.isdigit()
    ]
    spoken = " ".join(
        text.partition(": ")[2] or text for text in cue_texts[3:]
    )  # after WEBVTT and the NOTE

    transcript = load_transcript(path)

    assert transcript.speakers == ["Ana Souza", "Bruno Lima", "Carla Mendes (Suporte)"]
    assert _joined(transcript).split() == spoken.split()
    # Cues 1-2 are one speaker with a short gap and no sentence end before the split length, so
    # they merge; Carla's cues 4-5 stay apart because the first ends a sentence after
    # SENTENCE_SPLIT_SECONDS; the rest change speaker.
    assert [segment.speaker for segment in transcript.segments] == [
        "Ana Souza",
        "Bruno Lima",
        "Carla Mendes (Suporte)",
        "Carla Mendes (Suporte)",
        "Ana Souza",
        "Bruno Lima",
    ]
    assert (transcript.segments[0].start, transcript.segments[0].end) == (1.2, 11.35)
    text = _joined(transcript)
    for kept in (
        "10:30",
        "http://intranet.exemplo.com.br/wiki/deploy",
        "ORA-12541: TNS",
        "configuração",
        "homologação",
    ):
        assert kept in text
    assert "Exportado do Zoom" not in text


def test_vtt_voices_tags_and_entities(data_dir: Path):
    transcript = load_transcript(data_dir / "captions" / "treinamento_vozes_ptbr.vtt")

    assert transcript.language == "pt-BR"
    assert [(s.speaker, s.text) for s in transcript.segments] == [
        ("Instrutor", "Bem-vindos ao módulo de observabilidade & alertas."),
        ("Júlia Prado", "Professor, qual é a diferença entre métrica e log?"),
        (
            "Instrutor",
            (
                "Uma métrica é um número agregado; um log é um evento com contexto. "
                "Use sempre o filtro <nível> certo."
            ),
        ),
        ("Júlia Prado", "Entendi!"),
        ("Instrutor", "Ótimo, vamos ao exercício."),
    ]
    assert (transcript.segments[0].start, transcript.segments[0].end) == (0.0, 4.5)
    assert transcript.segments[3].start == transcript.segments[4].start == 15.1


def test_srt_without_numbers_and_with_italics(data_dir: Path):
    transcript = load_transcript(data_dir / "captions" / "treinamento_ptbr_sem_indices.srt")

    assert [(s.start, s.end) for s in transcript.segments] == [(0.0, 7.9), (11.0, 14.5)]
    assert _joined(transcript) == (
        "Bom dia! Vamos começar pela configuração do servidor de aplicação. Abram o arquivo "
        "application.properties e confiram a chave spring.datasource.url. "
        "Depois reiniciem o serviço com systemctl restart app."
    )


def test_utf16_srt_with_speaker_prefixes(data_dir: Path):
    path = data_dir / "captions" / "treinamento_ptbr_utf16.srt"
    as_big_endian = b"\xfe\xff" + path.read_bytes()[2:].decode("utf-16-le").encode("utf-16-be")

    little = load_transcript(path)
    big = parse_transcript(as_big_endian, "treinamento_be.srt")

    assert little == big
    assert little.speakers == ["Ricardo Alves", "Fernanda Costa"]
    assert little.segments[0].text.startswith("A configuração do proxy reverso é o primeiro")
    assert little.segments[1].text == "E a autenticação? Ela também passa pelo proxy?"


def test_windows_1252_srt_round_trips_accents(data_dir: Path):
    transcript = load_transcript(data_dir / "captions" / "treinamento_ptbr_cp1252.srt")

    assert _joined(transcript) == (
        "A configuração do balanceador ficou pronta ontem à noite. "
        "Agora é só validar a renovação automática do certificado."
    )


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"]
)
def test_decoding_keeps_portuguese_letters(encoding: str):
    cue = "A configuração é ótima: ação, atenção, você."
    text = f"WEBVTT\n\n00:01.000 --> 00:02.000\n{cue}"
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):  # with a byte-order mark, as the format needs
        data = ("\ufeff" + text).encode(encoding)

    transcript = parse_transcript(data, f"legenda-{encoding}.vtt")

    assert transcript.segments[0].text == cue


# --- caption details, inline ---------------------------------------------------------------


def test_prefixes_in_a_minority_of_cues_stay_text():
    vtt = (
        "WEBVTT\n\n00:01.000 --> 00:03.000\nVamos ver a tela.\n\n"
        "00:03.100 --> 00:05.000\nNota: o backup roda às 2h.\n\n"
        "00:05.100 --> 00:07.000\nPerfeito, obrigado.\n"
    )
    transcript = parse_transcript(vtt.encode(), "legenda.vtt")

    assert transcript.speakers == []
    assert "Nota: o backup roda às 2h." in _joined(transcript)


def test_urls_and_times_are_not_speaker_names():
    vtt = (
        "WEBVTT\n\n00:01.000 --> 00:03.000\nAna: Bom dia.\n\n"
        "00:03.100 --> 00:05.000\nhttp://wiki.exemplo.com/deploy: esse é o link\n\n"
        "00:05.100 --> 00:07.000\n10:30: horário combinado\n\n"
        "00:07.100 --> 00:09.000\nBruno: Combinado.\n\n"
        "00:09.100 --> 00:11.000\nAna: Até logo.\n"
    )
    transcript = parse_transcript(vtt.encode(), "legenda.vtt")

    # Names on only some cues are written at speaker changes: unnamed cues continue Ana.
    assert [(s.speaker, s.text) for s in transcript.segments] == [
        ("Ana", "Bom dia. http://wiki.exemplo.com/deploy: esse é o link 10:30: horário combinado"),
        ("Bruno", "Combinado."),
        ("Ana", "Até logo."),
    ]


def test_srt_tags_overrides_and_dot_milliseconds():
    srt = (
        "1\n00:00:01.5 --> 00:00:03.250\n"
        '{\\an8}<font color="#ffffff">Clique em <b>Salvar</b></font>\n\n'
        "2\n00:00:03,300 --> 00:00:05,000\nArquivo --> Exportar &amp; pronto\n"
    )
    transcript = parse_transcript(srt.encode(), "aula.srt")

    assert _joined(transcript) == "Clique em Salvar Arquivo --> Exportar & pronto"
    assert transcript.segments[0].start == 1.5


def test_srt_missing_blank_line_between_captions():
    srt = "1\n00:00:01,000 --> 00:00:02,000\nOlá\n2\n00:00:02,100 --> 00:00:04,000\nTudo bem?\n"
    transcript = parse_transcript(srt.encode(), "colado.srt")
    assert _joined(transcript) == "Olá Tudo bem?"


def test_captions_out_of_order_come_out_in_time_order():
    srt = (
        "1\n00:00:10,000 --> 00:00:12,000\nsegunda\n\n2\n00:00:01,000 --> 00:00:03,000\nprimeira\n"
    )
    transcript = parse_transcript(srt.encode(), "fora-de-ordem.srt")
    assert [s.text for s in transcript.segments] == ["primeira", "segunda"]


@pytest.mark.parametrize(
    ("data", "source", "phrase"),
    [
        (b"", "vazio.vtt", "empty file, no header"),
        (b"  \n\r\n ", "brancos.srt", "empty file, no header"),
        (b"Kind: captions\n", "sem-cabecalho.vtt", "line 1: missing the 'WEBVTT' header"),
        (b"apenas texto solto\n", "notas.txt", "not a Transcribe JSON, WebVTT or SRT file"),
        (
            b"WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 --> 00:04.0x0\nerro\n",
            "a.vtt",
            "line 6: invalid cue timing '00:03.000 --> 00:04.0x0'",
        ),
        (
            b"WEBVTT\n\n00:01.000 --> 00:02.000\nclique A --> B\n",
            "a.vtt",
            "line 4: invalid cue timing",
        ),
        (b"1\n00:00:01,000 --> 00:75:02,000\nok\n", "a.srt", "line 2: invalid cue timing"),
        (b"\xff\xfe\x00\xd8", "quebrado.vtt", "byte-order mark"),
    ],
)
def test_unparseable_input_is_a_one_line_parse_error(data: bytes, source: str, phrase: str):
    with pytest.raises(TranscriptParseError) as raised:
        parse_transcript(data, source)
    assert phrase in raised.value.one_line()
    assert "\n" not in raised.value.one_line()


def test_load_transcript_missing_or_unreadable_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError) as missing:
        load_transcript(tmp_path / "nao-existe.vtt")
    with pytest.raises(InputError) as folder:
        load_transcript(tmp_path)

    assert not isinstance(missing.value, TranscriptParseError)
    assert missing.value.reason == "file not found"
    assert "folder" in folder.value.reason


# --- properties -------------------------------------------------------------------------------

_FORMAT_FRAGMENTS = st.sampled_from(
    [
        "WEBVTT",
        "\n",
        "\n\n",
        " --> ",
        "-->",
        "00:00:01.000",
        "00:01,5",
        "1",
        "NOTE",
        "STYLE",
        "<v Ana>",
        "</v>",
        "<b>",
        "&amp;",
        "Ana: ",
        "{",
        "}",
        '"results"',
        ":",
        "[",
        "]",
        '"items"',
        "\ufeff",
        "\r",
        "é",
        "ção",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_FORMAT_FRAGMENTS, st.text(max_size=8)), max_size=40))
def test_any_text_parses_or_raises_a_parse_error(fragments: list[str]):
    data = "".join(fragments).encode("utf-8", "surrogatepass")
    try:
        transcript = parse_transcript(data, "aleatorio.vtt")
    except TranscriptParseError as error:
        assert error.source == "aleatorio.vtt"
    else:
        assert isinstance(transcript, Transcript)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_a_parse_error(data: bytes):
    try:
        parse_transcript(data, "binario.srt")
    except TranscriptParseError:
        pass


_WORD = st.text(alphabet="abcçdeéfgãhiíoóõuú0123456789.,?!-", min_size=1, max_size=10)
_WORD = _WORD.filter(lambda word: re.search(r"[^\d.,?!-]", word) is not None)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, "Ana", "Bruno Lima"]),
            st.lists(_WORD, min_size=1, max_size=12),
            st.floats(0, 3),
            st.floats(0.2, 6),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["zoom", "voice"]),
)
def test_generated_vtt_keeps_every_word_in_order(cues, style: str):
    lines = ["WEBVTT", ""]
    clock = 0.0
    for speaker, words, gap, length in cues:
        start, clock = clock + gap, clock + gap + length
        text = " ".join(words)
        if style == "zoom":  # Zoom names every cue's speaker
            text = f"{speaker or 'Carla'}: {text}"
        elif speaker:
            text = f"<v {speaker}>{text}</v>"
        lines += [f"{_vtt_time(start)} --> {_vtt_time(clock)}", text, ""]

    transcript = parse_transcript("\n".join(lines).encode(), "gerado.vtt")

    assert _joined(transcript).split() == [word for _, words, _, _ in cues for word in words]
    starts = [segment.start for segment in transcript.segments]
    assert starts == sorted(starts)


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, minutes, seconds = millis // 3_600_000, millis // 60_000 % 60, millis // 1000 % 60
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis % 1000:03d}"
