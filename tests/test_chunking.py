"""Token estimate, timestamps and the chunker: budgets, overlap, cut preferences, no text lost."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from techne_assets.core.captions import parse_transcript
from techne_assets.core.chunking import Chunk, chunk_transcript
from techne_assets.core.tokens import estimate_tokens
from techne_assets.core.transcript import Segment, Transcript, format_segment_line, format_timestamp

PARAGRAPH = (
    "Então, pessoal, bom dia a todos. Hoje a gente vai falar sobre a configuração do cluster de "
    "produção e como resolver aquele erro de conexão que apareceu na semana passada. O servidor "
    "estava retornando HTTP 503 e o Ricardo abriu o chamado INC-4521 pra gente investigar. "
    "Primeiro passo: vocês entram no console, vão em Configurações, depois em Rede, e verificam "
    "se a sub-rede privada tem rota pra NAT gateway. Não é difícil, mas se esquecer isso a "
    "tarefa do ECS não consegue baixar a imagem do ECR. Alguém tem alguma dúvida até aqui? Tá, "
    "beleza. Agora vou compartilhar a minha tela pra mostrar o arquivo dagster.yaml, tá?"
)

WORDS = [
    "então", "a", "gente", "vai", "configurar", "o", "servidor", "de", "produção", "com",
    "configuração", "do", "cluster", "não", "é", "só", "isso", "também", "precisa", "verificar",
    "permissão", "conexão", "banco", "dados", "erro", "timeout", "porta", "5432", "listener.ora",
    "https://wiki.exemplo.com.br/deploy", "INC-4521", "né", "tá", "beleza", "ação",
]  # fmt: skip


# --- tokens --------------------------------------------------------------------------------


def test_ptbr_speech_is_about_two_tokens_per_word():
    ratio = estimate_tokens(PARAGRAPH) / len(PARAGRAPH.split())
    # PRODUCT.md: 25-30K words come to 40-60K tokens.
    assert 1.5 <= ratio <= 2.1
    # More conservative than the English rule of thumb of four characters per token.
    assert estimate_tokens(PARAGRAPH) > len(PARAGRAPH) / 4


def test_token_estimate_counts_what_costs():
    assert estimate_tokens("") == 0
    assert estimate_tokens("   ") == 0
    assert estimate_tokens("de") == 1
    assert (
        estimate_tokens("configuração")
        > estimate_tokens("configuracao")
        > estimate_tokens("config")
    )
    assert estimate_tokens("porta, banco.") == estimate_tokens("porta banco") + 2
    assert estimate_tokens("12345678") > estimate_tokens("12")
    assert estimate_tokens("🙂") == 2


@given(st.text(max_size=60), st.text(max_size=60))
def test_token_estimate_adds_up_over_spaces_and_line_breaks(first: str, second: str):
    assert estimate_tokens(first + " " + second) == estimate_tokens(first) + estimate_tokens(second)
    assert (
        estimate_tokens(first + "\n" + second)
        == estimate_tokens(first) + estimate_tokens(second) + 1
    )


# --- timestamps and lines ----------------------------------------------------------------------


def test_format_timestamp():
    assert format_timestamp(0) == "00:00:00"
    assert format_timestamp(59.999) == "00:00:59"
    assert format_timestamp(3 * 3600 + 2 * 60 + 1.5) == "03:02:01"
    assert format_timestamp(100 * 3600) == "100:00:00"
    with pytest.raises(ValueError):
        format_timestamp(-1)
    with pytest.raises(ValueError):
        format_timestamp(float("nan"))


def test_segment_line_shows_time_speaker_and_text():
    assert format_segment_line(
        Segment(start=723.4, end=730, speaker="Ana", text="Bom  dia,\npessoal")
    ) == ("[00:12:03] Ana: Bom dia, pessoal")
    assert (
        format_segment_line(Segment(start=5, end=6, text="sem falante")) == "[00:00:05] sem falante"
    )


# --- the chunker, crafted cases ------------------------------------------------------------------


def _segment(index: int, speaker: str, start: float | None = None, words: int = 12) -> Segment:
    start = index * 5.0 if start is None else start
    return Segment(
        start=start,
        end=start + 4.5,
        speaker=speaker,
        text=" ".join(WORDS[:words]) + f" item{index}.",
    )


def _lines_tokens(segments: list[Segment]) -> int:
    return estimate_tokens("\n".join(format_segment_line(segment) for segment in segments))


def test_empty_transcript_has_no_chunks():
    assert chunk_transcript(Transcript(), max_tokens=500) == []


@pytest.mark.parametrize("overlap", [-1, 300, 301])
def test_overlap_must_leave_room(overlap: int):
    with pytest.raises(ValueError):
        chunk_transcript(
            Transcript(segments=[_segment(0, "Ana")]), max_tokens=300, overlap_tokens=overlap
        )


def test_cut_prefers_a_speaker_change():
    ana = [_segment(index, "Ana") for index in range(6)]
    bruno = [_segment(index, "Bruno") for index in range(6, 16)]
    budget = _lines_tokens((ana + bruno)[:9])  # nine lines fit, ten do not

    one_voice = chunk_transcript(
        Transcript(segments=[s.model_copy(update={"speaker": "Ana"}) for s in ana + bruno]), budget
    )
    two_voices = chunk_transcript(Transcript(segments=ana + bruno), budget)

    assert len(one_voice[0].segments) == 9  # without a turn to cut at, the chunk is filled
    assert two_voices[0].segments == ana  # the turn in the second half of the chunk wins
    assert two_voices[1].segments[0] == bruno[0]


def test_cut_prefers_a_pause():
    before = [_segment(index, "Ana") for index in range(7)]
    after = [
        _segment(index, "Ana", start=index * 5.0 + 3.0) for index in range(7, 16)
    ]  # 3.5 s of silence first
    budget = _lines_tokens((before + after)[:10])

    chunks = chunk_transcript(Transcript(segments=before + after), budget)

    assert chunks[0].segments == before


def test_no_cut_point_too_early_in_the_chunk():
    first = [_segment(0, "Ana")]
    rest = [_segment(index, "Bruno") for index in range(1, 20)]
    budget = _lines_tokens((first + rest)[:8])

    chunks = chunk_transcript(Transcript(segments=first + rest), budget)

    assert len(chunks[0].segments) == 8  # a cut after one line of eight would waste the budget


def test_oversized_segment_is_split_at_words_with_interpolated_times():
    words = [WORDS[index % len(WORDS)] for index in range(600)]
    long_turn = Segment(start=100.0, end=400.0, speaker="Carla Mendes", text=" ".join(words))

    chunks = chunk_transcript(Transcript(segments=[long_turn]), max_tokens=200)

    pieces = [segment for chunk in chunks for segment in chunk.segments]
    assert len(pieces) > 1
    assert " ".join(piece.text for piece in pieces).split() == words
    assert pieces[0].start == 100.0 and pieces[-1].end == 400.0
    for earlier, later in pairwise(pieces):
        assert earlier.end == pytest.approx(later.start)
        assert earlier.start < later.start
    # Times follow word positions: a piece starting at word k starts k/600 of the way through.
    position = len(pieces[0].text.split())
    assert pieces[1].start == pytest.approx(100.0 + 300.0 * position / 600)
    assert all(piece.speaker == "Carla Mendes" for piece in pieces)
    assert all(chunk.tokens <= 200 for chunk in chunks)


def test_a_word_longer_than_the_budget_is_split_between_characters():
    blob = "QmFzZTY0" * 200
    chunks = chunk_transcript(
        Transcript(segments=[Segment(start=0, end=10, text=f"chave {blob} fim")]), 120
    )

    text = "".join(segment.text for chunk in chunks for segment in chunk.segments)
    assert text.replace(" ", "") == f"chave{blob}fim"
    assert all(chunk.tokens <= 120 for chunk in chunks)


def test_budget_too_small_for_a_line_label_is_refused():
    with pytest.raises(ValueError):
        chunk_transcript(
            Transcript(segments=[_segment(0, "Ana Beatriz de Souza Lima")]), max_tokens=15
        )


def test_chunk_text_is_timestamped_speaker_lines():
    transcript = Transcript(
        segments=[_segment(0, "Ana", start=723.0), _segment(1, "Bruno", start=730.0)]
    )

    [chunk] = chunk_transcript(transcript, max_tokens=1000)

    lines = chunk.text.split("\n")
    assert lines[0].startswith("[00:12:03] Ana: então a gente")
    assert lines[1].startswith("[00:12:10] Bruno: então")
    assert (chunk.index, chunk.start, chunk.end, chunk.overlap) == (0, 723.0, 734.5, 0)


def test_overlap_repeats_the_end_of_the_previous_chunk():
    # Names of equal cost, so every line costs the same.
    transcript = Transcript(
        segments=[_segment(index, "Ana" if index % 4 else "Bia") for index in range(40)]
    )
    line_tokens = _lines_tokens([transcript.segments[1]])

    chunks = chunk_transcript(
        transcript, max_tokens=10 * line_tokens, overlap_tokens=2 * line_tokens + 1
    )

    assert len(chunks) > 2
    for previous, chunk in pairwise(chunks):
        assert chunk.overlap == 2
        assert chunk.segments[:2] == previous.segments[-2:]


# --- the chunker, properties ---------------------------------------------------------------------


@st.composite
def transcripts(draw) -> Transcript:
    segments = []
    clock = 0.0
    for _ in range(draw(st.integers(0, 40))):
        clock += draw(st.sampled_from([0.0, 0.3, 1.0, 2.5, 6.0]))
        length = draw(st.floats(0.5, 40))
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=90))
        speaker = draw(st.sampled_from([None, "Ana", "Bruno Lima", "Falante 3"]))
        segments.append(
            Segment(start=clock, end=clock + length, speaker=speaker, text=" ".join(words))
        )
        clock += length
    return Transcript(segments=segments)


def _check_chunks(
    transcript: Transcript, chunks: list[Chunk], max_tokens: int, overlap_tokens: int
) -> None:
    # No text lost, nothing repeated outside the overlap.
    new_words = [
        word for chunk in chunks for segment in chunk.new_segments for word in segment.text.split()
    ]
    assert new_words == [word for segment in transcript.segments for word in segment.text.split()]
    for number, chunk in enumerate(chunks):
        assert chunk.index == number
        assert chunk.segments and chunk.new_segments
        # Within budget, counted over the text itself.
        assert chunk.tokens == estimate_tokens(chunk.text) <= max_tokens
        assert chunk.text == "\n".join(format_segment_line(segment) for segment in chunk.segments)
        assert chunk.start == chunk.segments[0].start <= chunk.end
        assert chunk.end == max(segment.end for segment in chunk.segments)
    for previous, chunk in pairwise(chunks):
        assert chunk.start >= previous.start
        assert chunk.end >= previous.end
        repeated = chunk.segments[: chunk.overlap]
        assert repeated == previous.segments[len(previous.segments) - chunk.overlap :]
        assert chunk.overlap <= len(previous.new_segments)
        assert _lines_tokens(repeated) <= overlap_tokens
        if overlap_tokens == 0:
            assert chunk.overlap == 0


@settings(max_examples=120, deadline=None)
@given(transcripts(), st.integers(40, 600), st.data())
def test_chunks_keep_all_text_in_budget_and_in_order(transcript: Transcript, max_tokens: int, data):
    overlap_tokens = data.draw(st.sampled_from([0, 0, max_tokens // 4, max_tokens // 2]))

    chunks = chunk_transcript(transcript, max_tokens, overlap_tokens)

    _check_chunks(transcript, chunks, max_tokens, overlap_tokens)


@settings(max_examples=60, deadline=None)
@given(transcripts(), st.integers(40, 600))
def test_zero_overlap_chunks_are_disjoint(transcript: Transcript, max_tokens: int):
    chunks = chunk_transcript(transcript, max_tokens)

    pieces = [segment for chunk in chunks for segment in chunk.segments]
    assert all(chunk.overlap == 0 for chunk in chunks)
    assert len(pieces) == len({(segment.start, segment.text) for segment in pieces})


@settings(max_examples=60, deadline=None)
@given(transcripts(), st.integers(60, 600))
def test_overlap_takes_as_many_previous_lines_as_fit(transcript: Transcript, max_tokens: int):
    overlap_tokens = max_tokens // 3

    chunks = chunk_transcript(transcript, max_tokens, overlap_tokens)

    for previous, chunk in pairwise(chunks):
        if chunk.overlap < len(previous.new_segments):
            # One more line would break the overlap limit or leave no room for the first new line.
            one_more = previous.segments[len(previous.segments) - chunk.overlap - 1 :]
            first_new = chunk.new_segments[0]
            assert (
                _lines_tokens(one_more) > overlap_tokens
                or _lines_tokens(one_more + [first_new]) > max_tokens
            )


# --- scale ------------------------------------------------------------------------------


def test_a_three_hour_call_parses_and_chunks_without_losing_a_segment():
    """About 30,000 words in 3,000 cues by 10 speakers (its speed is in benchmarks/)."""
    rng = random.Random(7)
    lines = ["WEBVTT", ""]
    clock = 0.0
    for number in range(1, 3001):
        length = rng.uniform(2.0, 5.0)
        lines += [
            str(number),
            f"{format_timestamp(clock)}.000 --> {format_timestamp(clock + length)}.500",
            f"Pessoa {rng.randrange(10)}: " + " ".join(rng.choice(WORDS) for _ in range(10)),
            "",
        ]
        clock += length + rng.choice([0.0, 0.0, 1.0, 3.0])
    data = "\n".join(lines).encode()

    transcript = parse_transcript(data, "chamada-3h.vtt")
    chunks = chunk_transcript(transcript, max_tokens=12_000, overlap_tokens=500)

    assert transcript.word_count == 30_000
    assert len(transcript.speakers) == 10
    assert sum(len(chunk.new_segments) for chunk in chunks) == len(transcript.segments)
