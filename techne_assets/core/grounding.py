"""Technical spans of a document and whether the transcript supports them.

The grounding rule: a command, path, config key, error code or URL in the document must occur
in the transcript, literally or once the transcript's spoken technical forms are written out
("ls traço la barra etc barra nginx" supports `ls -la /etc/nginx`). Inline and fenced code always counts as technical; outside code only strong
patterns do (URLs, paths, `key=value`, snake_case and dotted keys, error codes), so ordinary
pt-BR words are never flagged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt
from pydantic import BaseModel, Field

from techne_assets.core.document import SECTION_HEADINGS, Document, Step
from techne_assets.core.spoken_forms import spoken_rewrites
from techne_assets.core.text_rules import (
    CONFIG_ASSIGN_RE,
    DOTTED_KEY_RE,
    ERROR_CODE_RE,
    HTTP_STATUS_RE,
    PATH_RE,
    SNAKE_CASE_RE,
    URL_RE,
    find_fragments,
)
from techne_assets.core.transcript import Transcript

SpanKind = Literal["command", "path", "url", "config_key", "error_code"]
Match = Literal["literal", "normalized"]

APPENDIX_HEADING = SECTION_HEADINGS[-1]
_OPENING_PUNCTUATION = " \t\"'([{«“"
_CLOSING_PUNCTUATION = " \t.,;:!?\"')]}»”"
# Links and images the renderer itself writes: time links to the video and screenshot files.
_TIME_LINK_RE = re.compile(r"\[\d{2,}:\d{2}:\d{2}\]\((?:<[^>]*>|[^)\s]*)\)")
_IMAGE_RE = re.compile(r"!\[[^\]]*\]\((?:<[^>]*>|[^)\s]*)\)")

_markdown = MarkdownIt("commonmark")


class TechnicalSpan(BaseModel):
    kind: SpanKind
    text: str
    matched: Match | None = Field(
        default=None,
        description="how the transcript supports it: its literal text, or its spoken form written out",
    )


class GroundingReport(BaseModel):
    supported: list[TechnicalSpan] = Field(default_factory=list)
    unsupported: list[TechnicalSpan] = Field(default_factory=list)

    @property
    def precision(self) -> float:
        """Share of technical spans the transcript supports (1.0 when there are none)."""
        total = len(self.supported) + len(self.unsupported)
        return 1.0 if total == 0 else len(self.supported) / total


def _trim(text: str) -> str:
    """Without the punctuation glued around a span ("./x" keeps its dot, "x." loses it)."""
    return text.lstrip(_OPENING_PUNCTUATION).rstrip(_CLOSING_PUNCTUATION)


def _classify_code(code: str) -> SpanKind:
    if URL_RE.fullmatch(code):
        return "url"
    if PATH_RE.fullmatch(code):
        return "path"
    if ERROR_CODE_RE.fullmatch(code) or HTTP_STATUS_RE.fullmatch(code):
        return "error_code"
    if (
        CONFIG_ASSIGN_RE.fullmatch(code)
        or SNAKE_CASE_RE.fullmatch(code)
        or DOTTED_KEY_RE.fullmatch(code)
    ):
        return "config_key"
    return "command"


def _prose_spans(text: str) -> list[TechnicalSpan]:
    spans: list[TechnicalSpan] = []
    taken: list[tuple[int, int]] = []

    def add(kind: SpanKind, start: int, end: int, value: str) -> None:
        if any(start < t_end and end > t_start for t_start, t_end in taken):
            return
        value = _trim(value)
        if value:
            taken.append((start, end))
            spans.append(TechnicalSpan(kind=kind, text=value))

    for kind, pattern in (
        ("url", URL_RE),
        ("path", PATH_RE),
        ("config_key", CONFIG_ASSIGN_RE),
        ("config_key", DOTTED_KEY_RE),
        ("config_key", SNAKE_CASE_RE),
        ("error_code", ERROR_CODE_RE),
    ):
        for m in pattern.finditer(text):
            add(kind, m.start(), m.end(), m.group())
    for m in HTTP_STATUS_RE.finditer(text):
        add("error_code", m.start(1), m.end(1), m.group(1))
    return spans


def technical_spans(markdown: str) -> list[TechnicalSpan]:
    """Commands, paths, URLs, config keys and error codes in a Markdown text, first occurrence each.

    Time links to the video and screenshot images are the renderer's own, not claims about
    the call, so they are left out.
    """
    markdown = _IMAGE_RE.sub(" ", markdown)
    markdown = _TIME_LINK_RE.sub(" ", markdown)
    spans: list[TechnicalSpan] = []
    for token in _markdown.parse(markdown):
        if token.type in ("fence", "code_block"):
            spans += [
                TechnicalSpan(kind=_classify_code(line.strip()), text=line.strip())
                for line in token.content.splitlines()
                if line.strip()
            ]
        elif token.type == "inline":
            prose: list[str] = []
            for child in token.children or []:
                if child.type == "code_inline":
                    code = child.content.strip()
                    if code:
                        spans.append(TechnicalSpan(kind=_classify_code(code), text=code))
                    prose.append(" ")
                elif child.type == "link_open":
                    href = str(child.attrGet("href") or "")
                    if href.startswith(("http://", "https://")):
                        spans.append(TechnicalSpan(kind="url", text=href))
                    prose.append(" ")
                elif child.type in ("text", "html_inline"):
                    prose.append(child.content)
                else:
                    prose.append(" ")
            spans += _prose_spans("".join(prose))
    unique: dict[tuple[str, str], TechnicalSpan] = {}
    for span in spans:
        unique.setdefault((span.kind, span.text), span)
    return list(unique.values())


def _normalize(text: str) -> str:
    text = re.sub(r"\s*=\s*", "=", text.lower())
    return re.sub(r"\s+", " ", text).strip()


def transcript_index(transcript: Transcript) -> _TranscriptIndex:
    """The transcript's index, built once per transcript text: writing out spoken forms is the
    slow part of grounding, and one document is checked against the same transcript several
    times (before the review, after it, when rendered)."""
    return _index_of(tuple(segment.text for segment in transcript.segments))


class _TranscriptIndex:
    """The transcript's text normalized once, literal and with spoken forms written out.

    It also keeps every technical expression of the transcript with the words that were said
    for it, so an unsupported span can be traced back to what the speaker actually said.
    """

    def __init__(self, segment_texts: tuple[str, ...]):
        self.text = _normalize("\n".join(segment_texts))
        written: list[str] = []
        self.said: list[tuple[str, str]] = []  # (written form, words said)
        for said_text in segment_texts:
            text, said_at = _written_with_origins(said_text)
            written.append(text)
            self.said += [
                (
                    text[f.start : f.end],
                    said_text[said_at(f.start, True) : said_at(f.end, False)],
                )
                for f in find_fragments(text)
            ]
        self.written = _normalize("\n".join(written))

    @staticmethod
    def _occurs(needle: str, text: str) -> bool:
        if needle not in text:
            return False
        # Word boundaries, so `kubectl get pod` is not supported by "kubectl get pods".
        before = r"(?<![\w])" if re.match(r"\w", needle) else ""
        after = r"(?![\w])" if re.search(r"\w$", needle) else ""
        return re.search(before + re.escape(needle) + after, text) is not None

    def match(self, span: TechnicalSpan) -> Match | None:
        """How the transcript supports `span`, or None when it does not."""
        needle = _trim(_normalize(span.text))
        if not needle or self._occurs(needle, self.text):
            return "literal"
        if self._occurs(needle, self.written):
            return "normalized"
        return None

    def supports(self, span: TechnicalSpan) -> bool:
        return self.match(span) is not None

    def words_said(self, span: TechnicalSpan) -> str | None:
        """What the speaker said for an unsupported span: the transcript's technical fragment
        (found once spoken forms are written out) that starts with the same word and shares
        most of its words, as it was said."""
        tokens = _tokens(span.text)
        if not tokens:
            return None
        best: tuple[float, str] | None = None
        for written, said in self.said:
            candidate = _tokens(written)
            if not candidate or candidate[0] != tokens[0]:
                continue
            shared = len(set(tokens) & set(candidate)) / len(set(tokens) | set(candidate))
            if shared >= 0.5 and (best is None or shared > best[0]):
                best = (shared, said)
        return best[1] if best else None


@lru_cache(maxsize=4)
def _index_of(segment_texts: tuple[str, ...]) -> _TranscriptIndex:
    return _TranscriptIndex(segment_texts)


def _written_with_origins(said: str):
    """`said` with its spoken forms written out, and a map from written offsets to said ones.

    An offset inside a rewritten expression maps to the start (or end) of what was said for it.
    """
    pieces: list[str] = []
    origins: list[tuple[int, int, int, int]] = []  # written start, end → said start, end
    position = 0
    length = 0
    for rewrite in spoken_rewrites(said):
        pieces.append(said[position : rewrite.start])
        length += rewrite.start - position
        origins.append((length, length + len(rewrite.written), rewrite.start, rewrite.end))
        pieces.append(rewrite.written)
        length += len(rewrite.written)
        position = rewrite.end
    pieces.append(said[position:])

    def said_at(offset: int, is_start: bool) -> int:
        delta = 0
        for w_start, w_end, s_start, s_end in origins:
            if offset < w_start or (offset == w_start and not is_start):
                break
            if offset < w_end or (offset == w_end and not is_start):
                return s_start if is_start else s_end
            delta = s_end - w_end
        return offset + delta

    return "".join(pieces), said_at


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s/]+", _trim(_normalize(text))) if t]


def checked_body(markdown: str) -> str:
    """The part of a rendered document whose claims come from the call: sections 1-8.

    The header is metadata and the appendix is the transcript itself, so both are excluded.
    """
    first = markdown.find(SECTION_HEADINGS[0])
    body = markdown[first:] if first >= 0 else markdown
    appendix = body.find(APPENDIX_HEADING)
    return body[:appendix] if appendix >= 0 else body


def check_grounding(markdown: str, transcript: Transcript) -> GroundingReport:
    index = transcript_index(transcript)
    report = GroundingReport()
    for span in technical_spans(checked_body(markdown)):
        matched = index.match(span)
        if matched:
            report.supported.append(span.model_copy(update={"matched": matched}))
        else:
            report.unsupported.append(span)
    return report


# Fields that name the renderer's own files rather than say something about the call.
_NOT_CLAIMS = frozenset({"screenshot", "key_frame", "evidence"})


def _claim_fields(model: BaseModel) -> list[str]:
    return [name for name in type(model).model_fields if name not in _NOT_CLAIMS]


_OMITTED = "(trecho técnico omitido: não consta na transcrição)"
_NOTE_SAID = "Trecho técnico sem correspondência exata na transcrição: mantidas as palavras ditas."
_NOTE_OMITTED = "Trecho técnico omitido: não consta na transcrição."


def remove_unsupported(document: Document, transcript: Transcript) -> tuple[Document, list[str]]:
    """The document without technical spans the transcript does not support, and those spans.

    A step is never dropped: an unsupported span in it is replaced by the words that were said
    for it when it can be traced back to the transcript (quoted, «...»), otherwise by a short
    omission note, and the step gets a `note` saying so. Any other list entry (a key point, an
    action item, a reference, a warning...) that carries an unsupported span is dropped whole; in
    prose (a summary paragraph, a description, a root cause) the span alone is replaced by the
    omission note. The header is left as is.
    """
    index = transcript_index(transcript)
    removed: list[str] = []

    def unsupported_in(text: str) -> list[TechnicalSpan]:
        bad = [s for s in technical_spans(text) if not index.supports(s)]
        removed.extend(s.text for s in bad if s.text not in removed)
        return bad

    def replace(text: str, span: TechnicalSpan, by: str) -> str:
        return text.replace(f"`{span.text}`", by).replace(span.text, by)

    def clean_text(text: str) -> str:
        for span in unsupported_in(text):
            text = replace(text, span, _OMITTED)
        return text

    def clean_step(step: Step) -> Step:
        notes: list[str] = []
        text = step.text
        for span in unsupported_in(text):
            said = index.words_said(span)
            text = replace(text, span, f"«{said}»" if said else _OMITTED)
            note = _NOTE_SAID if said else _NOTE_OMITTED
            if note not in notes:
                notes.append(note)
        update = {
            name: clean_text(getattr(step, name))
            for name in ("expected_result", "caution", "note")
            if getattr(step, name)
        }
        if notes:
            update["note"] = " ".join(filter(None, [update.get("note", step.note), *notes]))
        return step.model_copy(update={"text": text, **update})

    def has_unsupported(value) -> bool:
        if isinstance(value, str):
            return bool(unsupported_in(value))
        if isinstance(value, BaseModel):
            # Evaluate every field, so every bad span is reported, not just the first.
            return any(has_unsupported(getattr(value, name)) for name in _claim_fields(value))
        if isinstance(value, list):
            return any(has_unsupported(item) for item in value)
        return False

    def is_leaf(model: BaseModel) -> bool:
        return not any(isinstance(getattr(model, name), list) for name in _claim_fields(model))

    def clean(value):
        if isinstance(value, str):
            return clean_text(value)
        if isinstance(value, list):
            kept = []
            for item in value:
                if isinstance(item, Step):
                    kept.append(clean_step(item))
                elif isinstance(item, str) or (isinstance(item, BaseModel) and is_leaf(item)):
                    if not has_unsupported(item):
                        kept.append(item)
                else:
                    kept.append(clean(item))
            return kept
        if isinstance(value, BaseModel):
            return value.model_copy(
                update={name: clean(getattr(value, name)) for name in _claim_fields(value)}
            )
        return value

    body = {
        name: clean(getattr(document, name))
        for name in type(document).model_fields
        if name != "header"
    }
    # Summary paragraphs are prose, not list entries: only the span goes.
    body["executive_summary"] = [clean_text(p) for p in document.executive_summary]
    return document.model_copy(update=body), removed
