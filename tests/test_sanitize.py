"""Hostile writer strings in every field never change the document's structure."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from techne_assets.adapters.export import document_to_html
from techne_assets.core.document import (
    SECTION_HEADINGS,
    TITLE,
    ActionItem,
    Document,
    DocumentHeader,
    GlossaryTerm,
    Problem,
    Procedure,
    QuestionAnswer,
    Reference,
    Step,
    TimeRange,
    Topic,
    render_markdown,
)
from techne_assets.core.sanitize import LinkPolicy, sanitize_inline
from techne_assets.core.transcript import Segment, Transcript

HOSTILE = [
    "\n## 4. Seção inventada\n",
    "# Outro título",
    "texto\n\n### 9.9 Subseção\n\nmais",
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "![imagem](https://evil.example/x.png)",
    "[clique aqui](https://evil.example/phish)",
    "Veja https://evil.example/fora-da-chamada agora",
    "linha 1\nSeção\n=====",
    "---",
    "> citação falsa",
    "1. lista falsa",
    "- item falso",
    "**negrito** _itálico_ `código ok`",
    "&lt;b&gt;entidade&lt;/b&gt;",
    "```\nbloco de código\n```",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "[ref]: https://evil.example/def",
    "⟦evidência 0⟧",
]


def _hostile_document(text: str) -> Document:
    span = TimeRange(start=0, end=10)
    return Document(
        header=DocumentHeader(
            source_name=text, call_date=text, participants=[text], writer=text, language=text
        ),
        executive_summary=[text, text],
        topics=[
            Topic(
                title=text, time_range=span, description=text, key_points=[text], decisions=[text]
            )
        ],
        procedures=[
            Procedure(
                title=text,
                time_range=span,
                objective=text,
                prerequisites=[text],
                warnings=[text],
                steps=[Step(text=text, expected_result=text, caution=text, note=text, at=1.0)],
            )
        ],
        troubleshooting=[
            Problem(
                title=text, symptoms=[text], root_cause=text, solution=[text], prevention=[text]
            )
        ],
        questions=[
            QuestionAnswer(question=text, answer=text, asked_by=text, answered_by=text),
            QuestionAnswer(question=text, answer=text, review=True),
        ],
        action_items=[ActionItem(text=text, owner=text, deadline=text)],
        references=[Reference(text=text, url=text)],
        glossary=[GlossaryTerm(term=text, definition=text)],
    )


TRANSCRIPT = Transcript(
    segments=[Segment(start=0, end=5, speaker="Ana <b>", text="Bom dia, vamos ver o deploy.")]
)


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text_of: dict[str, list[str]] = {}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._open = tag
            self.text_of.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.text_of[self._open][-1] += data


def _headings(markdown: str, tag: str) -> list[str]:
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    return [
        tokens[i + 1].content
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag == tag
    ]


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_keeps_exactly_the_title_and_nine_sections(text: str) -> None:
    markdown = render_markdown(_hostile_document(text), TRANSCRIPT)
    assert _headings(markdown, "h1") == [TITLE]
    assert _headings(markdown, "h2") == [h.removeprefix("## ") for h in SECTION_HEADINGS]
    assert all(h.startswith(("2.1 ", "3.1 ", "4.1 ")) for h in _headings(markdown, "h3"))
    assert _headings(markdown, "h4") == []
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert not kinds & {
        "html_block",
        "html_inline",
        "image",
        "fence",
        "code_block",
        "table_open",
        "hr",
    }
    hrefs = [c.attrGet("href") for t in tokens for c in t.children or [] if c.type == "link_open"]
    assert not any("evil.example" in str(h) for h in hrefs)


@pytest.mark.parametrize("text", HOSTILE)
def test_html_keeps_exactly_the_title_and_nine_sections(text: str) -> None:
    page = document_to_html(_hostile_document(text), TRANSCRIPT, {}, TITLE)
    structure = _Structure()
    structure.feed(page)
    assert structure.text_of["h1"] == [TITLE]
    assert structure.text_of["h2"] == [h.removeprefix("## ") for h in SECTION_HEADINGS]
    assert len(structure.text_of["h3"]) == 3
    assert not {"script", "img", "table", "hr", "h4", "h5", "h6", "pre"} & set(structure.tags)
    assert "evil.example" not in " ".join(re.findall(r'href="([^"]*)"', page))
    assert "<details" not in page  # the hostile mark is not an evidence block


def test_code_spans_stay_verbatim_and_prose_markup_is_escaped() -> None:
    assert (
        sanitize_inline("Roda `rm -rf /tmp/x` e *pronto*") == "Roda `rm -rf /tmp/x` e \\*pronto\\*"
    )
    assert (
        sanitize_inline("ajuste worker_processes e _isso_")
        == "ajuste worker_processes e \\_isso\\_"
    )
    assert sanitize_inline("# título") == "\\# título"
    assert sanitize_inline("2. item") == "2\\. item"
    assert sanitize_inline("linha\num\r\n  dois") == "linha um dois"


def test_only_urls_said_in_the_call_become_links() -> None:
    policy = LinkPolicy(
        "a doc tá em h t t p s dois pontos barra barra docs ponto exemplo ponto com barra api"
    )
    said = "https://docs.exemplo.com/api"
    assert sanitize_inline(f"Veja {said}.", policy.allows) == f"Veja <{said}>."
    assert (
        sanitize_inline("Veja https://outro.exemplo/x.", policy.allows)
        == "Veja `https://outro.exemplo/x`."
    )
    assert sanitize_inline(f"Veja {said}.") == f"Veja `{said}`."


def test_a_prefix_of_a_said_url_is_not_a_said_url() -> None:
    policy = LinkPolicy("a doc tá em https://docs.exemplo.com/api/v2")
    assert policy.allows("https://docs.exemplo.com/api/v2/")
    assert policy.allows("https://docs.exemplo.com/api")
    assert not policy.allows("https://docs.exemplo.co")
    assert not policy.allows("https://docs.exemplo.com/ap")
