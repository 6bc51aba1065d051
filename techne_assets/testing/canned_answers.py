"""A responder for the Converse simulator: answers to the staged writer's forced tools that
follow the tool schemas and cite evidence the way a model does.

Everything comes from the request it answers: the id-tagged transcript lines it was sent
(`[s0412 00:41:05 Ana] texto`, in the prefix or the prompt), the time range of an extraction,
the extractions a merge is given, the outline entries a section group must cover and the
findings a review is given. So every evidence id names a segment of that request, every
timestamp is `HH:MM:SS`, every required field is there, and an answer grows with what the
request asks for: a section group with twice the entries writes twice as much.

Like a model, it writes a command spoken in words in its written form (through
`normalize_spoken`), and it answers a lecture's reference group with review questions. It
follows the requests' economy rules as they are written: no `at` where it is the start of the
item's first evidence segment, unchanged notes and entries named by id rather than restated.
"""

from __future__ import annotations

import json
import re
from typing import Any

from techne_assets.core.spoken_forms import normalize_spoken
from techne_assets.core.writing.extraction import parse_timestamp
from techne_assets.core.writing.prompts import restore_data_text
from techne_assets.testing.converse_simulator import CannedReply, ConverseCall

_LINE = re.compile(r"^\[(s\d{4,}) (\d{2,}:\d\d:\d\d)(?: ([^\]]+))?\] (.*)$", re.MULTILINE)
_RANGE = re.compile(r'<trecho inicio="([\d:]+)" fim="([\d:]+)"')
_URL = re.compile(r"https?://[^\s,;]+[^\s,;.?!]")
# Tags that end a question in speech without asking anything.
_RHETORICAL = ("né?", "certo?", "tá bom?", "entendeu?", "ok?")
LINES_PER_TOPIC = 60
STEPS_PER_PROCEDURE = 4
EVIDENCE_PER_ENTRY = 4


class Line:
    def __init__(self, sid: str, at: str, speaker: str | None, text: str):
        self.sid, self.at, self.speaker = sid, at, speaker
        self.text = restore_data_text(text)
        self.seconds = parse_timestamp(at)


def _block(text: str, tag: str) -> Any:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return restore_data_text(json.loads(match.group(1))) if match else []


def _title(text: str, words: int = 6) -> str:
    return " ".join(text.rstrip(".?!").split()[:words])


def _written(text: str) -> str:
    """The line as a model writes it: spoken commands in their written form."""
    return normalize_spoken(text)


_COMMAND_CUES = ("kubectl", "/etc/", "rode ", "roda ", "execute", "abre o arquivo")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _command_sentence(text: str) -> str | None:
    """The sentence of a line that says a command (in words or written), as a model writes it."""
    for sentence in _sentences(text):
        written = _written(sentence)
        spoken_symbols = written != sentence and any(c in written for c in "/-~|")
        if spoken_symbols or any(cue in sentence for cue in _COMMAND_CUES):
            return written
    return None


def _first_sentence(text: str) -> str:
    return (_sentences(text) or [text])[0]


class CannedAnswers:
    """Tool inputs built from the request: the responder of `ConverseSimulator`."""

    def __call__(self, call: ConverseCall) -> CannedReply:
        texts = [
            block.get("text", "")
            for message in call.body.get("messages", [])
            for block in message.get("content", [])
        ]
        prompt = texts[-1]
        lines = [Line(*match) for text in texts for match in _LINE.findall(text)]
        answer = {
            "registrar_extracao": lambda: self.extraction(prompt, lines),
            "registrar_roteiro": lambda: self.outline(prompt),
            "registrar_sumario_topicos": lambda: self.summary_topics(prompt, lines),
            "registrar_procedimentos": lambda: self.procedures(prompt, lines),
            "registrar_troubleshooting": lambda: self.troubleshooting(prompt),
            "registrar_referencias": lambda: self.reference(prompt, lines),
            "registrar_revisao": lambda: self.review(prompt),
        }[call.tool_name]()
        return CannedReply(tool_input=answer)

    # ---- extraction ----------------------------------------------------------------------

    def extraction(self, prompt: str, lines: list[Line]) -> dict[str, Any]:
        match = _RANGE.search(prompt)
        low, high = parse_timestamp(match.group(1)), parse_timestamp(match.group(2))
        chosen = list({line.sid: line for line in lines if low <= line.seconds <= high}.values())
        answer: dict[str, list] = {name: [] for name in (
            "topics", "problems", "procedures", "questions", "action_items", "references", "terms")}
        for first in range(0, len(chosen), LINES_PER_TOPIC):
            self._extract_group(chosen[first : first + LINES_PER_TOPIC], answer)
        return answer

    def _extract_group(self, group: list[Line], answer: dict[str, list]) -> None:
        head, last = group[0], group[-1]
        answer["topics"].append({
            "title": _title(head.text), "start": head.at, "end": last.at, "evidence": [head.sid],
            "key_points": [{"text": _first_sentence(line.text), "evidence": [line.sid]} for line in group[1:3]],
        })
        steps = [(line, command) for line in group if (command := _command_sentence(line.text))]
        steps = steps[:STEPS_PER_PROCEDURE]
        if steps:
            answer["procedures"].append({
                "title": f"Procedimento: {_title(steps[0][1], 5)}", "start": steps[0][0].at,
                "end": steps[-1][0].at,
                "steps": [{"text": command, "evidence": [line.sid]} for line, command in steps],
            })
        # At most one item of each kind per topic, as a model summarizes a dense stretch.
        found: set[str] = set()
        for index, line in enumerate(group):
            lowered = line.text.lower()
            following = group[index + 1] if index + 1 < len(group) else None
            if "causa raiz" in lowered and "problems" not in found:
                found.add("problems")
                answer["problems"].append({
                    "title": _title(line.text), "start": line.at, "end": line.at,
                    "symptoms": [_first_sentence(head.text)], "evidence": [line.sid],
                    "root_cause": next(s for s in _sentences(line.text) if "causa raiz" in s.lower()),
                })
            elif (lowered.endswith("?") and not lowered.endswith(_RHETORICAL) and following
                  and following.speaker != line.speaker and "questions" not in found):
                found.add("questions")
                answer["questions"].append({
                    "question": line.text, "answer": _first_sentence(following.text), "asked_by": line.speaker,
                    "answered_by": following.speaker,
                    "evidence": [line.sid, following.sid],
                })
            elif ("fico com" in lowered or "vou " in lowered) and "action_items" not in found:
                found.add("action_items")
                answer["action_items"].append({
                    "text": _first_sentence(line.text), "owner": line.speaker, "evidence": [line.sid],
                    "deadline": "até sexta" if "sexta" in lowered else None,
                })
            if (url := _URL.search(line.text)) and "references" not in found:
                found.add("references")
                answer["references"].append({
                    "text": _title(line.text), "url": url.group(0),
                    "evidence": [line.sid],
                })

    # ---- merge ---------------------------------------------------------------------------

    def outline(self, prompt: str) -> dict[str, Any]:
        notes = _block(prompt, "extracoes")
        outline: dict[str, Any] = {"main_theme": "", "topics": [], "procedures": [], "problems": []}
        for kind in ("topics", "procedures", "problems"):
            seen: dict[str, dict] = {}
            for note in notes:
                if note["tipo"] == kind:
                    seen.setdefault(note["title"], {"sources": []})["sources"].append(note["id"])
            outline[kind] = list(seen.values())
        first = next((n["title"] for n in notes if n["tipo"] == "topics"), "a chamada")
        outline["main_theme"] = f"Treinamento técnico: {first}"
        return outline

    # ---- section groups ------------------------------------------------------------------
    # Like a model told not to copy, it names unchanged notes by id and writes only the rest.

    @staticmethod
    def _said(entry: dict[str, Any], lines: list[Line], words: int) -> str:
        """What the entry's first evidence line says, as a model sums it up."""
        said = next((line.text for line in lines if line.sid in entry.get("evidence", [])), entry["title"])
        return _title(_first_sentence(said), words) + "."

    def summary_topics(self, prompt: str, lines: list[Line]) -> dict[str, Any]:
        entries, notes = _block(prompt, "itens"), _block(prompt, "extracoes")
        theme = re.search(r"<tema>(.*?)</tema>", prompt, re.DOTALL).group(1)
        topics = []
        for entry in entries:
            matching = [n for n in notes if n["id"] in entry["sources"]]
            topics.append({
                "outline_id": entry["id"], "description": self._said(entry, lines, 25),
                "key_points": [{"source": kp["id"]} for n in matching for kp in n.get("key_points", [])],
            })
        titles = ", ".join(entry["title"] for entry in entries[:5])
        return {"executive_summary": [restore_data_text(theme), f"Foram tratados: {titles}."],
                "topics": topics, "dropped": []}

    def procedures(self, prompt: str, lines: list[Line]) -> dict[str, Any]:
        entries, notes = _block(prompt, "itens"), _block(prompt, "extracoes")
        procedures = []
        for entry in entries:
            note = next((n for n in notes if n["tipo"] == "procedures" and n["id"] in entry["sources"]), None)
            steps = [{"source": step["id"]} for step in note["steps"]] if note else []
            procedures.append({
                "outline_id": entry["id"], "objective": self._said(entry, lines, 12),
                "steps": steps,
            })
        return {"procedures": procedures, "dropped": []}

    def troubleshooting(self, prompt: str) -> dict[str, Any]:
        entries, notes = _block(prompt, "itens"), _block(prompt, "extracoes")
        problems = []
        for entry in entries:
            note = next((n for n in notes if n["tipo"] == "problems" and n["id"] in entry["sources"]), None)
            if note is None:
                problems.append({"outline_id": entry["id"]})
                continue
            changed = {key: entry[key] for key in ("title", "start", "end") if entry[key] != note.get(key)}
            problems.append({"outline_id": entry["id"], "source": note["id"], **changed})
        return {"troubleshooting": problems, "dropped": []}

    def reference(self, prompt: str, lines: list[Line]) -> dict[str, Any]:
        sections: dict[str, list] = {"questions": [], "action_items": [], "references": [], "glossary": []}
        target = {"Q": "questions", "A": "action_items", "R": "references", "G": "glossary"}
        for entry in _block(prompt, "itens"):
            sections[target[entry["id"][0]]].append({"outline_id": entry["id"]})
        if "perguntas para revisão" in prompt:
            for number, line in enumerate(lines[:5], 1):
                sections["questions"].append({
                    "outline_id": f"REV{number}", "question": f"O que foi explicado sobre {_title(line.text, 4)}?",
                    "answer": line.text, "at": line.at, "review": True, "evidence": [line.sid],
                })
        return {**sections, "dropped": []}

    # ---- review --------------------------------------------------------------------------

    def review(self, prompt: str) -> dict[str, Any]:
        view = _block(prompt, "documento")
        findings = re.search(r"<trechos_sem_suporte>(.*?)</trechos_sem_suporte>", prompt, re.DOTALL).group(1)
        spans = [restore_data_text(m) for m in re.findall(r"^- (.*) \(\w+\)$", findings, re.MULTILINE)]
        edits = []
        for entry in view:
            fields = {key: value for key, value in entry.items() if isinstance(value, str)}
            if any(span in value for span in spans for value in fields.values()):
                edits.append({"op": "remove", "item_id": entry["id"],
                              "reason": "trecho técnico que não foi dito na chamada"})
        return {"edits": edits}

