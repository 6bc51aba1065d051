"""Reading transcripts: Amazon Transcribe JSON, WebVTT and SRT, recognized by content.

`parse_transcript` (bytes) and `load_transcript` (a file) are the entry points; both return a
`Transcript` or raise a typed error naming the input and the reason (with the line or field).

Decisions the formats leave open:
- Words are grouped into segments: a new segment starts at a speaker change, at a pause of
  at least 1.5 s, after sentence-ending punctuation once the segment lasts 6 s (so steps and
  screenshots keep a fine time), and in any case at 30 s. Caption cues are grouped the same
  way, at cue boundaries, so every word stays
  in its original order.
- Transcribe speaker labels `spk_0`, `spk_1` become "Falante 1", "Falante 2"; channel labels
  `ch_0`, `ch_1` become "Canal 1", "Canal 2"; any other label is kept as it is.
- Zoom, Teams and Meet `Nome: texto` prefixes name the speaker by the rules of
  `core/speaker_names.py` (name shape, labels such as "Observação:" that never are names,
  and names that repeat across cues); when a file writes names only where the speaker
  changes, a cue without a name continues the speaker before it.
- A file without a `WEBVTT` header whose blocks carry `-->` timings is read as SRT, which
  accepts `,` or `.` before the milliseconds and missing caption numbers.
- As in the WebVTT parsing rules, a timing line inside cue text starts a new cue. In WebVTT
  any other line holding `-->` is an error; in SRT it is text.
- A cue with no text adds nothing; a block of text with no timing line is an error, since its
  words could not be placed in time.
"""

from __future__ import annotations

import codecs
import html
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import charset_normalizer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from techne_assets.core.errors import InputError, TranscriptParseError
from techne_assets.core.speaker_names import SpeakerNames
from techne_assets.core.transcript import Segment, Transcript, format_timestamp

# Highest share of "noise" (charset-normalizer's chaos) accepted in a decoded caption file.
MAX_DECODING_NOISE = 0.1
_TIE = 0.01
_TIE_BREAK_ENCODING = "cp1252"
# C0 and C1 control characters other than tab and line ends: never part of speech.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
PAUSE_SPLIT_SECONDS = 1.5
SENTENCE_SPLIT_SECONDS = 6.0
MAX_SEGMENT_SECONDS = 30.0
_SENTENCE_END = (".", "?", "!", "…")


def load_transcript(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Transcript:
    """Reads and parses a transcript file; a missing, unreadable or oversized file, a folder,
    a device or a FIFO (which could block or never end) is an `InputError`."""
    try:
        kind = os.stat(path).st_mode
        if stat.S_ISDIR(kind):
            raise InputError(str(path), "is a folder, not a transcript file")
        if not stat.S_ISREG(kind):
            what = "a FIFO (named pipe)" if stat.S_ISFIFO(kind) else "a device or socket"
            raise InputError(str(path), f"is {what}, not a transcript file")
        with open(path, "rb") as stream:
            data = stream.read() if max_bytes is None else stream.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except OSError as error:
        raise InputError(str(path), f"cannot read the file: {error.strerror or error}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(
            str(path),
            f"larger than the {max_bytes:,} bytes a caption file may have "
            "(TECHNE_MAX_CAPTION_BYTES)",
        )
    return parse_transcript(data, str(path))


def parse_transcript(data: bytes, source: str) -> Transcript:
    """Parses Transcribe JSON, WebVTT or SRT bytes; `source` names the input in errors."""
    text = _decode(data, source).lstrip("\ufeff")
    if not text.strip():
        raise TranscriptParseError(source, "empty file, no header")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    head = text.lstrip()
    if head.startswith("{"):
        return _parse_transcribe(text, source)
    if _VTT_HEADER.match(head):
        return _parse_vtt(lines, source)
    if "-->" in text:
        return _parse_srt(lines, source)
    extension = source.rsplit(".", 1)[-1].lower() if "." in source else ""
    if extension == "srt":
        return _parse_srt(lines, source)
    if extension == "vtt":
        raise TranscriptParseError(source, "line 1: missing the 'WEBVTT' header")
    if extension == "json":
        return _parse_transcribe(text, source)
    raise TranscriptParseError(
        source,
        "not a Transcribe JSON, WebVTT or SRT file: "
        "no JSON object, no 'WEBVTT' header, no '-->' timing",
    )


# --- decoding ---------------------------------------------------------------------------

_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(data: bytes, source: str) -> str:
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise TranscriptParseError(
                    source,
                    f"not valid {encoding} text despite its byte-order mark (byte {error.start})",
                ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _guessed_text(data, source)


def _guessed_text(data: bytes, source: str) -> str:
    """Text in a legacy encoding, when charset-normalizer decides it with confidence.

    Many single-byte code pages read the same bytes without noise (charset-normalizer's language
    coherence does not separate them reliably); when the least noisy disagree on the text,
    Windows-1252 (what caption editors on Windows write for Portuguese) breaks the
    tie, and any other disagreement is an error rather than a coin toss that could be mojibake.
    """
    matches = [m for m in charset_normalizer.from_bytes(data) if m.chaos <= MAX_DECODING_NOISE]
    if not matches:
        raise TranscriptParseError(
            source,
            "cannot decide the text encoding (not UTF-8, and no encoding reads it without "
            "noise): save the file as UTF-8",
        )
    least_noise = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos - least_noise <= _TIE]
    if len({str(m) for m in tied}) == 1:
        return str(tied[0])
    for match in tied:
        if _TIE_BREAK_ENCODING in match.could_be_from_charset:
            return str(match)
    encodings = ", ".join(sorted({m.encoding for m in tied})[:4])
    raise TranscriptParseError(
        source,
        f"cannot decide the text encoding: it reads equally well as {encodings}, with "
        "different characters; save the file as UTF-8",
    )


# --- grouping words or cues into segments -------------------------------------------------


class _Timed(NamedTuple):
    start: float
    end: float
    speaker: str | None
    text: str


def _starts_new_segment(current: list[_Timed], following: _Timed) -> bool:
    if following.speaker != current[0].speaker:
        return True
    if following.start - current[-1].end >= PAUSE_SPLIT_SECONDS:
        return True
    lasted = current[-1].end - current[0].start
    if lasted >= MAX_SEGMENT_SECONDS:
        return True
    return lasted >= SENTENCE_SPLIT_SECONDS and current[-1].text.endswith(_SENTENCE_END)


def _group(pieces: Iterable[_Timed]) -> list[Segment]:
    segments: list[Segment] = []
    current: list[_Timed] = []

    def close() -> None:
        text = " ".join(_CONTROL_CHARACTERS.sub("", " ".join(p.text for p in current)).split())
        speaker = current[0].speaker and _CONTROL_CHARACTERS.sub("", current[0].speaker).strip()
        if text:
            segments.append(
                Segment(
                    start=current[0].start,
                    end=max(piece.end for piece in current),
                    speaker=speaker or None,
                    text=text,
                )
            )

    for piece in pieces:
        if current and _starts_new_segment(current, piece):
            close()
            current = []
        current.append(piece)
    if current:
        close()
    return segments


# --- Amazon Transcribe JSON ---------------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Alternative(_Lenient):
    content: str


class _Item(_Lenient):
    type: str
    start_time: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    end_time: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    alternatives: list[_Alternative] = Field(min_length=1)
    speaker_label: str | None = None
    channel_label: str | None = None


class _TimedLabel(_Lenient):
    start_time: float | None = Field(default=None, allow_inf_nan=False)
    end_time: float | None = Field(default=None, allow_inf_nan=False)
    speaker_label: str | None = None


class _SpeakerSegment(_Lenient):
    items: list[_TimedLabel] = Field(default_factory=list)


class _SpeakerLabels(_Lenient):
    segments: list[_SpeakerSegment] = Field(default_factory=list)


class _Channel(_Lenient):
    channel_label: str
    items: list[_TimedLabel] = Field(default_factory=list)


class _ChannelLabels(_Lenient):
    channels: list[_Channel] = Field(default_factory=list)


class _TranscriptText(_Lenient):
    transcript: str = ""


class _Results(_Lenient):
    language_code: str | None = None
    transcripts: list[_TranscriptText] = Field(default_factory=list)
    items: list[_Item] = Field(default_factory=list)
    speaker_labels: _SpeakerLabels | None = None
    channel_labels: _ChannelLabels | None = None


class _TranscribeOutput(_Lenient):
    results: _Results


_NUMBERED_LABEL = re.compile(r"(spk|ch)_(\d+)")
_FRIENDLY_PREFIX = {"spk": "Falante", "ch": "Canal"}


def _friendly_speaker(label: str) -> str:
    numbered = _NUMBERED_LABEL.fullmatch(label)
    if numbered is None:
        return label
    return f"{_FRIENDLY_PREFIX[numbered.group(1)]} {int(numbered.group(2)) + 1}"


def _time_key(start: float, end: float) -> tuple[int, int]:
    return round(start * 1000), round(end * 1000)


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _parse_transcribe(text: str, source: str) -> Transcript:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise TranscriptParseError(
            source, f"line {error.lineno}, column {error.colno}: invalid JSON: {error.msg}"
        ) from None
    except (ValueError, RecursionError) as error:  # e.g. integers too long to convert, deep nesting
        raise TranscriptParseError(
            source, f"invalid JSON: {str(error) or type(error).__name__}"
        ) from None
    if not isinstance(document, dict) or "results" not in document:
        raise TranscriptParseError(
            source, "not an Amazon Transcribe result: no top-level 'results' object"
        )
    try:
        results = _TranscribeOutput.model_validate(document).results
    except ValidationError as error:
        first = error.errors()[0]
        raise TranscriptParseError(
            source, f"field {_field_path(first['loc'])}: {first['msg'].lower()}"
        ) from None

    # Older outputs name speakers and channels in separate lists keyed by word times.
    label_by_time: dict[tuple[int, int], str] = {}
    if results.speaker_labels is not None:
        for speaker_segment in results.speaker_labels.segments:
            for labelled in speaker_segment.items:
                if None not in (labelled.start_time, labelled.end_time) and labelled.speaker_label:
                    label_by_time[_time_key(labelled.start_time, labelled.end_time)] = (
                        labelled.speaker_label
                    )
    elif results.channel_labels is not None:
        for channel in results.channel_labels.channels:
            for labelled in channel.items:
                if None not in (labelled.start_time, labelled.end_time):
                    label_by_time[_time_key(labelled.start_time, labelled.end_time)] = (
                        channel.channel_label
                    )

    words: list[_Timed] = []
    label: str | None = None
    for position, item in enumerate(results.items):
        content = item.alternatives[0].content.strip()
        if not content:
            continue
        if item.type == "punctuation":
            if words:
                words[-1] = words[-1]._replace(text=words[-1].text + content)
            continue
        if item.type != "pronunciation":
            continue
        if item.start_time is None or item.end_time is None:
            raise TranscriptParseError(
                source,
                f"field results.items[{position}]: "
                "a pronunciation item needs start_time and end_time",
            )
        # A word without a label of its own keeps the label of the word before it.
        label = (
            item.speaker_label
            or item.channel_label
            or label_by_time.get(_time_key(item.start_time, item.end_time))
            or label
        )
        speaker = _friendly_speaker(label) if label else None
        words.append(_Timed(item.start_time, max(item.end_time, item.start_time), speaker, content))

    segments = _group(words)
    if not segments:
        # No timed words: keep any plain transcript text rather than drop it.
        plain = " ".join(" ".join(t.transcript.split()) for t in results.transcripts).strip()
        if plain:
            segments = [Segment(start=0.0, end=0.0, text=plain)]
    return Transcript(language=results.language_code or None, segments=segments)


# --- WebVTT and SRT -------------------------------------------------------------------------

_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t]|\n|\r|$)")
_TIMESTAMP = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_TIMING = re.compile(rf"\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}(?:\s.*)?")
_CAPTION_NUMBER = re.compile(r"\s*\d+\s*")
_VOICE_TAG = re.compile(r"<v(?:\.[^\s>]*)?(?:[ \t]+([^>]*))?>")
_MARKUP_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>")
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")


class _Cue(NamedTuple):
    start: float
    end: float
    text_lines: list[str]
    line: int = 0


def _shown(line: str, limit: int = 60) -> str:
    line = line.strip()
    return repr(line if len(line) <= limit else line[:limit] + "…")


def _cue_times(line: str, line_number: int, source: str) -> tuple[float, float] | None:
    """Start and end seconds of a timing line, or None when the line is not one."""
    match = _TIMING.fullmatch(line)
    if match is None:
        return None
    parts = match.groups()
    times = []
    for hours, minutes, seconds, fraction in (parts[0:4], parts[4:8]):
        if int(minutes) > 59 or int(seconds) > 59:
            raise TranscriptParseError(
                source,
                f"line {line_number}: invalid cue timing {_shown(line)}: "
                "minutes and seconds go up to 59",
            )
        times.append(
            int(hours or 0) * 3600
            + int(minutes) * 60
            + int(seconds)
            + int(fraction) / 10 ** len(fraction)
        )
    return times[0], times[1]


def _blocks(lines: list[str], first: int = 0) -> Iterator[list[tuple[int, str]]]:
    """Runs of non-blank lines, each line with its 1-based number."""
    block: list[tuple[int, str]] = []
    for index in range(first, len(lines)):
        if lines[index].strip():
            block.append((index + 1, lines[index]))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _read_cues(block: list[tuple[int, str]], source: str, *, webvtt: bool) -> list[_Cue]:
    """Cues from a block whose first line is a timing line; a later timing line starts a new cue."""
    cues: list[_Cue] = []
    for line_number, line in block:
        times = _cue_times(line, line_number, source) if "-->" in line else None
        if times is None and "-->" in line and (webvtt or not cues):
            raise TranscriptParseError(
                source, f"line {line_number}: invalid cue timing {_shown(line)}"
            )
        if times is not None:
            if (
                not webvtt
                and cues
                and cues[-1].text_lines
                and _CAPTION_NUMBER.fullmatch(cues[-1].text_lines[-1])
            ):
                cues[-1].text_lines.pop()  # the number of the next caption, its blank line missing
            cues.append(_Cue(times[0], times[1], [], line_number))
        else:
            cues[-1].text_lines.append(line)
    return cues


def _parse_vtt(lines: list[str], source: str) -> Transcript:
    header = next(index for index, line in enumerate(lines) if line.strip())
    language = None
    body = header + 1
    # Header metadata ("Kind: captions", "Language: pt-BR", ...) runs to the first blank line.
    while body < len(lines) and lines[body].strip() and "-->" not in lines[body]:
        key, colon, value = lines[body].partition(":")
        if colon and key.strip().lower() == "language" and value.strip():
            language = value.strip()
        body += 1
    cues: list[_Cue] = []
    for block in _blocks(lines, body):
        first_number, first_line = block[0]
        first_word = first_line.strip()
        if first_word == "NOTE" or first_line.startswith(("NOTE ", "NOTE\t")):
            continue
        if first_word in ("STYLE", "REGION") and not any("-->" in line for _, line in block):
            continue
        if "-->" in first_line:
            cues.extend(_read_cues(block, source, webvtt=True))
        elif len(block) > 1 and "-->" in block[1][1]:
            cues.extend(
                _read_cues(block[1:], source, webvtt=True)
            )  # the first line is the cue's id
        else:
            raise TranscriptParseError(
                source, f"line {first_number}: cue text without a timing line: {_shown(first_line)}"
            )
    return Transcript(
        language=language, segments=_group(_cue_pieces(cues)), timing_errors=_inverted(cues)
    )


def _parse_srt(lines: list[str], source: str) -> Transcript:
    cues: list[_Cue] = []
    for block in _blocks(lines):
        first_number, first_line = block[0]
        if _CAPTION_NUMBER.fullmatch(first_line):
            if len(block) == 1 or "-->" not in block[1][1]:
                raise TranscriptParseError(
                    source, f"line {first_number}: caption {first_line.strip()} has no timing line"
                )
            cues.extend(_read_cues(block[1:], source, webvtt=False))
        elif "-->" in first_line:
            cues.extend(_read_cues(block, source, webvtt=False))
        else:
            raise TranscriptParseError(
                source,
                f"line {first_number}: expected a caption number or a timing line, "
                f"found {_shown(first_line)}",
            )
    return Transcript(segments=_group(_cue_pieces(cues)), timing_errors=_inverted(cues))


def _inverted(cues: list[_Cue]) -> list[str]:
    """Cues that end before they start, reported with their line (their words are kept, timed
    at the cue's start; the transcript's blocking check stops the run on them)."""
    return [
        f"line {cue.line}: the cue ends at {format_timestamp(cue.end)} before it starts at "
        f"{format_timestamp(cue.start)}"
        for cue in cues
        if cue.end < cue.start
    ]


def _clean(text: str) -> str:
    text = _ASS_OVERRIDE.sub("", _MARKUP_TAG.sub("", text))
    return html.unescape(text)


def _voiced_lines(cue: _Cue) -> list[tuple[str | None, str]]:
    """The cue's non-empty text lines, markup removed, each with the `<v Name>` voice over it."""
    raw = "\n".join(cue.text_lines)
    voiced: list[tuple[str | None, str]] = []
    voice: str | None = None
    position = 0
    for tag in [*_VOICE_TAG.finditer(raw), None]:
        stretch = raw[position : tag.start() if tag else len(raw)]
        for line in _clean(stretch).split("\n"):
            if line.strip():
                voiced.append((voice, line))
        if tag:
            voice = " ".join(html.unescape(tag.group(1) or "").split()) or None
            position = tag.end()
    return voiced


def _cue_pieces(cues: list[_Cue]) -> list[_Timed]:
    """One piece per speaker stretch of each cue, in time order (stable for equal starts)."""
    cue_lines = [(cue, _voiced_lines(cue)) for cue in cues]
    names = SpeakerNames.from_cue_starts(
        [lines[0][1] if lines[0][0] is None else None for _, lines in cue_lines if lines]
    )

    pieces: list[_Timed] = []
    named: str | None = None
    for cue, lines in cue_lines:
        stretches: list[tuple[str | None, list[str]]] = []
        if not names.at_changes_only:
            named = None
        for voice, line in lines:
            prefix = names.split(line) if voice is None else None
            if prefix:
                named, line = prefix
            speaker = voice or named
            words = line.split()
            if not words:
                continue
            if stretches and stretches[-1][0] == speaker:
                stretches[-1][1].extend(words)
            else:
                stretches.append((speaker, words))
        pieces.extend(
            _Timed(cue.start, max(cue.end, cue.start), speaker, " ".join(words))
            for speaker, words in stretches
        )
    pieces.sort(key=lambda piece: piece.start)
    return pieces
