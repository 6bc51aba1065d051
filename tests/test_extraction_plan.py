"""The quota-aware extraction plan: chunk sizes and waves that fit the tokens/min window,
budgets that still cover each chunk, the chunk upper bound, and the staged writer running the
plan a wave at a time."""

from __future__ import annotations

import json
import threading

import pytest

from techne_assets.core.chunking import chunk_evenly, chunk_transcript, with_tail_split
from techne_assets.core.tokens import estimate_tokens
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.writing import budgets
from techne_assets.core.writing.base import CallUsage, ModelReply, WritingContext
from techne_assets.core.writing.staged import StagedModelWriter

CAP = 64_000
QUOTA = dict(tokens_per_minute=200_000, output_burndown=5.0, max_output_tokens=CAP, max_parallel_calls=6)


def plan(transcript_tokens: int, call_tokens: int = 6_000, **changes) -> budgets.ExtractionPlan:
    options = {**QUOTA, "max_chunk_tokens": 16_000, **changes}
    return budgets.plan_extraction(transcript_tokens, call_tokens, **options)


def reserved(chunk: int, call_tokens: int = 6_000, burndown: float = 5.0) -> int:
    return budgets.extraction_reservation(chunk, call_tokens, burndown, CAP)


def cut(total: int, chosen: budgets.ExtractionPlan) -> list[int]:
    """The chunk sizes the plan gives a transcript of `total` tokens, cut exactly at its sizes."""
    if chosen.even_chunks:
        return [total // chosen.even_chunks + (n < total % chosen.even_chunks) for n in range(chosen.even_chunks)]
    full, rest = divmod(total, chosen.chunk_tokens)
    if not rest:
        return [chosen.chunk_tokens] * full
    pieces = chosen.tail_chunks(full, rest)
    return [chosen.chunk_tokens] * full + [rest // pieces + (n < rest % pieces) for n in range(pieces)]


# (transcript tokens, quota changes, chunk upper bound)
CALLS = {
    "3-hour call, default quota": (73_500, {}, 16_000),
    "6-hour call, default quota": (150_000, {}, 16_000),
    "10-hour call, default quota": (250_000, {}, 16_000),
    "90-minute call": (36_000, {}, 16_000),
    "20-minute call": (9_000, {}, 16_000),
    "a few lines": (300, {}, 16_000),
    "3-hour call, small upper bound": (73_500, {}, 6_000),
    "3-hour call, burndown 1": (73_500, {"output_burndown": 1.0}, 16_000),
    "3-hour call, 2M tokens/min": (73_500, {"tokens_per_minute": 2_000_000}, 30_000),
    "3-hour call, 60K tokens/min": (73_500, {"tokens_per_minute": 60_000}, 16_000),
    "two calls at a time": (73_500, {"max_parallel_calls": 2}, 16_000),
}


@pytest.mark.parametrize(("tokens", "changes", "upper"), CALLS.values(), ids=CALLS.keys())
def test_every_wave_fits_the_window_and_every_chunk_the_upper_bound(tokens, changes, upper):
    chosen = plan(tokens, max_chunk_tokens=upper, **changes)
    tpm = changes.get("tokens_per_minute", QUOTA["tokens_per_minute"])
    burndown = changes.get("output_burndown", QUOTA["output_burndown"])
    sizes = cut(tokens, chosen)
    assert sum(sizes) == tokens
    assert max(sizes) <= upper
    assert chosen.wave_calls <= min(budgets.WAVE_CALLS, changes.get("max_parallel_calls", 6))
    for first in range(0, len(sizes), chosen.wave_calls):
        wave = sizes[first : first + chosen.wave_calls]
        assert sum(reserved(size, burndown=burndown) for size in wave) <= budgets.quota_window(tpm)


@pytest.mark.parametrize(("tokens", "changes", "upper"), CALLS.values(), ids=CALLS.keys())
def test_no_budget_is_cut_below_what_its_chunk_produces(tokens, changes, upper):
    chosen = plan(tokens, max_chunk_tokens=upper, **changes)
    for size in cut(tokens, chosen):
        # the measured output of an extraction is about 0.23 tokens per chunk token
        assert budgets.extraction_budget(size, CAP) >= 0.23 * size + 300


def test_four_extractions_of_a_3_hour_call_fit_the_default_window_at_once():
    chosen = plan(73_500, max_chunk_tokens=40_000)
    assert chosen.wave_calls == 4 and not chosen.even_chunks
    # the largest chunks that fit: the window, not the upper bound, decides
    assert 4 * reserved(chosen.chunk_tokens) <= budgets.quota_window(200_000) < 4 * reserved(chosen.chunk_tokens + 100)
    assert plan(73_500, max_chunk_tokens=12_000).chunk_tokens == 12_000
    # what follows the first wave runs as small chunks, answered quickly in the next window
    tail = cut(73_500, chosen)[4:]
    assert 1 < len(tail) <= 4 and max(tail) < chosen.chunk_tokens / 2


def test_a_call_that_fits_one_window_gets_even_chunks_up_to_a_wave():
    chosen = plan(36_000)
    assert chosen.even_chunks == 4 and chosen.chunk_tokens == 9_000
    assert chosen.wave_tokens == 4 * reserved(9_000) <= budgets.quota_window(200_000)
    assert plan(9_000).even_chunks == 2  # chunks below MIN_CHUNK_TOKENS are not worth a call
    assert plan(300).even_chunks == 1


def test_a_larger_quota_gives_one_wave_and_a_smaller_one_more_smaller_waves():
    assert plan(73_500, tokens_per_minute=2_000_000, max_chunk_tokens=30_000).even_chunks == 4
    small = plan(73_500, tokens_per_minute=60_000)
    assert small.wave_calls < 4 and small.chunk_tokens < plan(73_500).chunk_tokens


def test_a_quota_no_chunk_fits_is_left_to_the_limiter_to_refuse():
    # the per-call tokens alone are past the window: one smallest chunk at a time
    chosen = plan(73_500, call_tokens=250_000)
    assert chosen.wave_calls == 1 and chosen.chunk_tokens == budgets.MIN_CHUNK_TOKENS
    assert chosen.wave_tokens > budgets.quota_window(200_000)


def test_the_whole_transcript_as_prefix_counts_once_per_call_not_per_chunk():
    compact = plan(73_500, call_tokens=6_000)
    transcript = plan(73_500, call_tokens=80_000, chunk_sent=False)
    assert transcript.wave_calls == 2 < compact.wave_calls
    assert transcript.wave_tokens == 2 * budgets.extraction_reservation(
        transcript.chunk_tokens, 80_000, 5.0, CAP, chunk_sent=False
    )


# ---- chunking to the plan ---------------------------------------------------------------------


def talk(segments: int = 400) -> Transcript:
    speakers = ["Ana", "Bruno", "Carla"]
    return Transcript(
        segments=[
            Segment(start=10.0 * n, end=10.0 * n + 8, speaker=speakers[n % 3] if n % 7 else speakers[0],
                    text=f"trecho {n} sobre o deploy do serviço de pagamentos no cluster")
            for n in range(segments)
        ]
    )


def test_even_chunks_are_about_the_same_size_and_never_more_than_asked():
    transcript = talk()
    greedy = chunk_transcript(transcript, 2_500)
    even = chunk_evenly(transcript, len(greedy), 2_500)
    assert len(even) == len(greedy)
    assert max(c.tokens for c in even) - min(c.tokens for c in even) < (
        max(c.tokens for c in greedy) - min(c.tokens for c in greedy)
    )
    assert [s for c in even for s in c.new_segments] == transcript.segments
    # more chunks than the upper bound allows: the chunks of the upper bound
    assert chunk_evenly(transcript, 1, 2_500) == greedy


def test_the_tail_is_split_into_even_pieces_and_the_rest_kept():
    transcript = talk()
    chunks = chunk_transcript(transcript, 4_000)
    split = with_tail_split(chunks, 3)
    assert split[: len(chunks) - 1] == chunks[:-1]
    tail = split[len(chunks) - 1 :]
    assert len(tail) == 3 and [c.index for c in split] == list(range(len(split)))
    assert [s for c in tail for s in c.segments] == chunks[-1].segments
    assert with_tail_split(chunks, 1) == chunks


def test_a_split_tail_keeps_what_it_repeats_of_the_previous_chunk():
    chunks = chunk_transcript(talk(), 4_000, overlap_tokens=200)
    split = with_tail_split(chunks, 2, overlap_tokens=200)
    assert split[len(chunks) - 1].overlap == chunks[-1].overlap > 0
    assert split[len(chunks) - 1].segments[: chunks[-1].overlap] == chunks[-1].segments[: chunks[-1].overlap]


# ---- the writer runs the plan a wave at a time ------------------------------------------------


class RecordingModel:
    """Answers every extraction with no items (the later stages are not reached), recording the
    extractions' prompts in the order they start and how many run at once."""

    model_id = "anthropic.test"

    def __init__(self):
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.prompt_tokens: dict[str, int] = {}
        self.reserved: dict[str, int] = {}
        self.running = self.peak = 0
        self.release = threading.Event()

    def converse(self, *, stage, system, prompt, cached_prefix=None, max_tokens=4096, tool=None):
        with self.lock:
            self.started.append(stage)
            self.prompt_tokens[stage] = estimate_tokens(prompt)
            # what the Bedrock client's limiter reserves for this request
            tool_config = {"tools": [{"toolSpec": {"name": tool.name, "description": tool.description,
                                                   "inputSchema": {"json": tool.input_schema}}}],
                           "toolChoice": {"tool": {"name": tool.name}}}
            inputs = sum(estimate_tokens(part) for part in (system, cached_prefix or "", prompt, json.dumps(tool_config)))
            self.reserved[stage] = inputs + 5 * max_tokens
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.release.wait(0.2)  # long enough for a wave's calls to overlap
        with self.lock:
            self.running -= 1
        if not stage.startswith("extract"):
            raise RuntimeError("extractions only")
        return ModelReply(text="", tool_input={}, stop_reason="tool_use",
                          usage=CallUsage(stage=stage, model_id=self.model_id))


def long_call() -> Transcript:
    return Transcript(
        segments=[
            Segment(start=5.0 * n, end=5.0 * n + 4, speaker=("Ana", "Bruno")[n % 2],
                    text=f"trecho {n}: o kubectl mostra o pod reiniciando e o limite de memória do deployment")
            for n in range(2_400)
        ]
    )


def test_the_writer_runs_a_wave_at_a_time_largest_chunks_first():
    model = RecordingModel()
    writer = StagedModelWriter(model, max_parallel_calls=6, tokens_per_minute=100_000, output_burndown=5.0)
    with pytest.raises(RuntimeError, match="extractions only"):
        writer.write(long_call(), WritingContext(source_name="call.mp4"))
    extractions = [stage for stage in model.started if stage.startswith("extract")]
    assert len(extractions) > 2 * budgets.WAVE_CALLS
    assert 1 < model.peak <= budgets.WAVE_CALLS  # not max_parallel_calls: a wave is what the quota admits
    assert set(extractions[:4]) == {f"extract:chunk-{n:02d}" for n in range(1, 5)}
    sizes = [model.prompt_tokens[f"extract:chunk-{n:02d}"] for n in range(1, len(extractions) + 1)]
    # the first wave holds full chunks; the last chunk is the shortest
    assert min(sizes[:4]) > 0.95 * max(sizes) and sizes[-1] == min(sizes)


def test_without_a_quota_the_chunks_are_cut_at_the_upper_bound():
    transcript = long_call()
    model = RecordingModel()
    writer = StagedModelWriter(model, chunk_max_tokens=8_000, max_parallel_calls=6)
    with pytest.raises(RuntimeError):
        writer.write(transcript, WritingContext(source_name="call.mp4"))
    extractions = [stage for stage in model.started if stage.startswith("extract")]
    assert len(extractions) == len(chunk_transcript(transcript, 8_000))


def test_a_call_that_fits_one_window_is_cut_into_even_chunks_run_at_once():
    transcript = Transcript(segments=long_call().segments[:600])
    model = RecordingModel()
    writer = StagedModelWriter(model, max_parallel_calls=6, tokens_per_minute=200_000, output_burndown=5.0)
    with pytest.raises(RuntimeError):
        writer.write(transcript, WritingContext(source_name="call.mp4"))
    sizes = [tokens for stage, tokens in model.prompt_tokens.items() if stage.startswith("extract")]
    assert len(sizes) == min(budgets.WAVE_CALLS, sum(sizes) // budgets.MIN_CHUNK_TOKENS) > 1
    assert max(sizes) - min(sizes) < 0.1 * max(sizes)


@pytest.mark.parametrize("tokens_per_minute", [100_000, 200_000])
def test_the_first_wave_as_the_limiter_counts_it_fits_the_window(tokens_per_minute):
    model = RecordingModel()
    writer = StagedModelWriter(model, max_parallel_calls=6, tokens_per_minute=tokens_per_minute, output_burndown=5.0)
    with pytest.raises(RuntimeError):
        writer.write(long_call(), WritingContext(source_name="call.mp4"))
    first_wave = [model.reserved[f"extract:chunk-{n:02d}"] for n in range(1, budgets.WAVE_CALLS + 1)]
    assert sum(first_wave) <= tokens_per_minute
    # and it is the largest wave that does (the window binds, not the chunks' upper bound)
    assert sum(first_wave) + min(first_wave) > tokens_per_minute
