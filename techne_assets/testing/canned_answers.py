"""A responder for the Converse simulator: valid answers to the staged writer's forced tools.

Each answer quotes the call's own transcript lines (so it passes the grounding rules) and is
about `answer_tokens[tool]` tokens long, counted as the simulator counts them; a short
transcript simply gives shorter answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from techne_assets.core.tokens import estimate_tokens
from techne_assets.core.transcript import Segment, Transcript, format_timestamp
from techne_assets.core.writing.extraction import parse_timestamp
from techne_assets.testing.converse_simulator import CannedReply, ConverseCall

# Typical answer sizes, in output tokens, per tool.
ANSWER_TOKENS = {
    "registrar_extracao": 2_500,
    "registrar_roteiro": 1_500,
    "registrar_documento": 7_000,
    "registrar_revisao": 7_000,
}


class CannedAnswers:
    """Valid tool inputs of about `answer_tokens` tokens, quoting the call's own lines."""

    def __init__(self, transcript: Transcript, answer_tokens: Mapping[str, int] = ANSWER_TOKENS):
        self.segments = transcript.segments
        self.answer_tokens = dict(answer_tokens)

    def __call__(self, call: ConverseCall) -> CannedReply:
        prompt = call.body["messages"][0]["content"][-1]["text"]
        target = self.answer_tokens[call.tool_name]
        if call.tool_name == "registrar_extracao":
            start = parse_timestamp(re.search(r'inicio="([\d:]+)"', prompt).group(1))
            end = parse_timestamp(re.search(r'fim="([\d:]+)"', prompt).group(1))
            return CannedReply(tool_input=self._extraction(start, end, target))
        if call.tool_name == "registrar_roteiro":
            return CannedReply(tool_input=self._outline(target))
        return CannedReply(tool_input=self._document(target))

    def _lines(self, start: float, end: float) -> list[Segment]:
        return [s for s in self.segments if start <= s.start <= end] or self.segments[:1]

    def _extraction(self, start: float, end: float, target: int) -> dict:
        lines = self._lines(start, end)
        answer: dict = {"topics": [], "questions": [], "commands": []}
        for index, segment in enumerate(lines):
            at = format_timestamp(segment.start)
            if index % 3 == 0:
                answer["topics"].append(
                    {
                        "title": " ".join(segment.text.split()[:5]),
                        "start": at,
                        "end": format_timestamp(segment.end),
                        "summary": segment.text,
                        "key_points": [segment.text],
                    }
                )
            elif index % 3 == 1:
                answer["questions"].append(
                    {"question": segment.text, "answer": segment.text, "at": at}
                )
            else:
                answer["commands"].append(
                    {"command": segment.text, "purpose": "citado na chamada", "at": at}
                )
            if estimate_tokens(json.dumps(answer)) >= target:
                break
        return answer

    def _outline(self, target: int) -> dict:
        answer: dict = {"main_theme": self.segments[0].text, "topics": []}
        for segment in self.segments[:: max(1, len(self.segments) // 40)]:
            answer["topics"].append(
                {
                    "title": " ".join(segment.text.split()[:6]),
                    "start": format_timestamp(segment.start),
                    "end": format_timestamp(segment.end),
                    "notes": [segment.text],
                }
            )
            if estimate_tokens(json.dumps(answer)) >= target:
                break
        return answer

    def _document(self, target: int) -> dict:
        answer: dict = {
            "executive_summary": [s.text for s in self.segments[:3]],
            "topics": [],
            "questions": [],
        }
        for segment in self.segments:
            answer["topics"].append(
                {
                    "title": " ".join(segment.text.split()[:6]),
                    "start": format_timestamp(segment.start),
                    "end": format_timestamp(segment.end),
                    "description": segment.text,
                    "key_points": [segment.text],
                }
            )
            if estimate_tokens(json.dumps(answer)) >= target:
                break
        return answer
