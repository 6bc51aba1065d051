"""Builds the development calls in tests/data/dev/ from the hand-written scripts beside this file.

A script is a plain-text dialogue, one turn per line:

    # output: aws-iam-accessdenied.vtt
    # format: vtt-voice | vtt-prefix | srt-prefix | srt-prefix-on-change | transcribe
    # start: 2.4
    Ana Souza >> Bom dia, pessoal. Vocês estão me ouvindo?
    [pausa 95]
    Bruno >> Estou, sim.

Speech runs at each speaker's own rate (140-160 words per minute, fixed per name), turns are
separated by short gaps, and `[pausa N]` adds N seconds of silence (a command running, a
screen being shared). Turns are cut into caption cues of at most 14 words, at punctuation
when possible, each cue wrapped to two lines of about 42 characters as caption editors do. A
`⏎` inside a turn forces a line break inside the cue. Run it after editing a script:

    .venv/bin/python tests/dev_call_scripts/build.py
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE.parent / "data" / "dev"
MAX_CUE_WORDS = 14
LINE_CHARS = 42
FORCED_BREAK = "⏎"


def speaker_rate(name: str) -> float:
    """Words per minute of one speaker, stable across builds."""
    digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return 140 + digest % 21


def read_script(path: Path) -> tuple[dict[str, str], list[tuple[str, str] | float]]:
    meta: dict[str, str] = {}
    turns: list[tuple[str, str] | float] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
        elif pause := re.fullmatch(r"\[pausa (\d+(?:\.\d+)?)\]", line):
            turns.append(float(pause.group(1)))
        else:
            speaker, sep, text = line.partition(" >> ")
            if not sep:
                raise SystemExit(f"{path.name}: turn without ' >> ': {line[:60]!r}")
            turns.append((speaker.strip(), " ".join(text.split())))
    return meta, turns


def split_cues(text: str) -> list[str]:
    """Cue texts of at most MAX_CUE_WORDS words, cut after punctuation when one is near."""
    words = text.split(" ")
    cues: list[str] = []
    while words:
        if len(words) <= MAX_CUE_WORDS:
            cut = len(words)
        else:
            cut = MAX_CUE_WORDS
            for index in range(MAX_CUE_WORDS, 5, -1):
                if words[index - 1].endswith((".", "?", "!", ",", ";")):
                    cut = index
                    break
        cues.append(" ".join(words[:cut]))
        words = words[cut:]
    return cues


def wrap(text: str) -> list[str]:
    if FORCED_BREAK in text:
        return [part.strip() for part in text.split(FORCED_BREAK) if part.strip()]
    if len(text) <= LINE_CHARS:
        return [text]
    words = text.split()
    best = min(
        range(1, len(words)),
        key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))),
    )
    return [" ".join(words[:best]), " ".join(words[best:])]


def timed_cues(
    turns: list[tuple[str, str] | float], start: float, seed: str
) -> list[tuple[float, float, str, str]]:
    """(start, end, speaker, text) per cue."""
    rng = random.Random(seed)
    clock = start
    cues = []
    for turn in turns:
        if isinstance(turn, float):
            clock += turn
            continue
        speaker, text = turn
        seconds_per_word = 60 / speaker_rate(speaker)
        for cue in split_cues(text):
            count = len(cue.replace(FORCED_BREAK, " ").split())
            length = count * seconds_per_word * rng.uniform(0.95, 1.05)
            cues.append((clock, clock + length, speaker, cue))
            clock += length + rng.uniform(0.05, 0.25)
        clock += rng.uniform(0.3, 0.9)
    return cues


def stamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def render_captions(meta: dict[str, str], cues: list[tuple[float, float, str, str]]) -> str:
    kind = meta["format"]
    vtt = kind.startswith("vtt")
    blocks = []
    if vtt:
        header = "WEBVTT"
        if meta.get("language"):
            header += f"\nLanguage: {meta['language']}"
        blocks.append(header)
    previous = None
    for number, (begin, end, speaker, text) in enumerate(cues, 1):
        lines = wrap(text)
        if kind == "vtt-voice":
            lines = [f"<v {speaker}>{lines[0]}", *lines[1:]]
        elif kind in ("vtt-prefix", "srt-prefix") or (
            kind == "srt-prefix-on-change" and speaker != previous
        ):
            lines = [f"{speaker}: {lines[0]}", *lines[1:]]
        previous = speaker
        separator = "." if vtt else ","
        timing = f"{stamp(begin, separator)} --> {stamp(end, separator)}"
        blocks.append("\n".join([str(number), timing, *lines]))
    return "\n\n".join(blocks) + "\n"


def render_transcribe(meta: dict[str, str], cues: list[tuple[float, float, str, str]]) -> str:
    labels: dict[str, str] = {}
    items: list[dict] = []
    segments: list[dict] = []
    for begin, end, speaker, text in cues:
        label = labels.setdefault(speaker, f"spk_{len(labels)}")
        tokens = text.replace(FORCED_BREAK, " ").split()
        step = (end - begin) / len(tokens)
        first = len(items)
        for index, token in enumerate(tokens):
            word = token.rstrip(".,?!;:")
            punctuation = token[len(word) :]
            word_start = begin + index * step
            items.append(
                {
                    "id": len(items),
                    "type": "pronunciation",
                    "alternatives": [{"confidence": "0.96", "content": word}],
                    "start_time": f"{word_start:.3f}",
                    "end_time": f"{word_start + step * 0.9:.3f}",
                    "speaker_label": label,
                }
            )
            for mark in punctuation[:1]:
                items.append(
                    {
                        "id": len(items),
                        "type": "punctuation",
                        "alternatives": [{"confidence": "0.0", "content": mark}],
                        "speaker_label": label,
                    }
                )
        segments.append(
            {
                "id": len(segments),
                "transcript": text.replace(FORCED_BREAK, " "),
                "start_time": f"{begin:.3f}",
                "end_time": f"{end:.3f}",
                "speaker_label": label,
                "items": list(range(first, len(items))),
            }
        )
    document = {
        "jobName": meta["output"].removesuffix(".json"),
        "accountId": "111122223333",
        "status": "COMPLETED",
        "results": {
            "language_code": meta.get("language", "pt-BR"),
            "transcripts": [{"transcript": " ".join(s["transcript"] for s in segments)}],
            "speaker_labels": {"speakers": len(labels), "channel_label": "ch_0", "segments": []},
            "items": items,
            "audio_segments": segments,
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def build(script: Path, out: Path = OUT) -> Path:
    meta, turns = read_script(script)
    cues = timed_cues(turns, float(meta.get("start", "2.0")), script.stem)
    text = (
        render_transcribe(meta, cues)
        if meta["format"] == "transcribe"
        else render_captions(meta, cues)
    )
    target = out / meta["output"]
    target.write_text(text, encoding="utf-8")
    spoken = sum(len(c[3].split()) for c in cues)
    print(f"{target.name}: {len(cues)} cues, {spoken} words, {cues[-1][1] / 60:.1f} min")
    return target


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    chosen = sys.argv[1:] or sorted(str(p) for p in HERE.glob("*.txt"))
    for name in chosen:
        build(Path(name))
