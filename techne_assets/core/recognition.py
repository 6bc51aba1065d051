"""A speech recognizer's raw result, and its normalization into the shared `Transcript`.

The recognizer (Whisper, locally) reports segments with word timings but no speakers. The raw
result is what the work storage caches; `to_transcript` is the one place it becomes the
`Transcript` every later stage reads, so a cached result and a fresh one normalize alike.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from techne_assets.core.transcript import Segment, Transcript

# Word times are kept to the centisecond: finer than any timestamp a document shows, and it
# keeps the word list of a 3-hour call (~30k words) small inside the transcript's metadata.
_WORD_TIME_DECIMALS = 2


class RecognizedWord(BaseModel):
    start: float
    end: float
    text: str
    probability: float | None = None


class RecognizedSegment(BaseModel):
    start: float
    end: float
    text: str
    words: list[RecognizedWord] = Field(default_factory=list)


class Recognition(BaseModel):
    """What the recognizer returned for one audio file, before normalization."""

    model: str
    language: str | None = None
    language_probability: float | None = None
    audio_duration: float = Field(ge=0)
    vad_filter: bool = True
    segments: list[RecognizedSegment] = Field(default_factory=list)

    def to_transcript(self) -> Transcript:
        """Segments with text, times clamped to the audio and never going backwards, speaker
        None; word timings and the recognizer's facts in `metadata`.

        `metadata["words"]` holds, for each kept segment in order, its words as
        `[start, end, text]` triples.
        """
        segments: list[Segment] = []
        words: list[list[list[float | str]]] = []
        previous_start = 0.0
        for raw in self.segments:
            text = " ".join(raw.text.split())
            if not text:
                continue
            start = self._clamp(max(raw.start, previous_start))
            end = self._clamp(max(raw.end, start))
            previous_start = start
            segments.append(Segment(start=start, end=end, speaker=None, text=text))
            words.append(self._segment_words(raw, start, end))
        metadata: dict = {
            "source": "whisper",
            "model": self.model,
            "language_probability": (
                round(self.language_probability, 4)
                if self.language_probability is not None
                else None
            ),
            "vad_filter": self.vad_filter,
            "words": words,
        }
        return Transcript(
            language=self.language,
            duration=self.audio_duration,
            segments=segments,
            metadata=metadata,
        )

    def _clamp(self, seconds: float) -> float:
        return min(max(seconds, 0.0), self.audio_duration)

    def _segment_words(
        self, segment: RecognizedSegment, start: float, end: float
    ) -> list[list[float | str]]:
        kept: list[list[float | str]] = []
        previous = start
        for word in segment.words:
            text = word.text.strip()
            if not text:
                continue
            word_start = min(max(word.start, previous), end)
            word_end = min(max(word.end, word_start), end)
            previous = word_start
            kept.append(
                [
                    round(word_start, _WORD_TIME_DECIMALS),
                    round(word_end, _WORD_TIME_DECIMALS),
                    text,
                ]
            )
        return kept
