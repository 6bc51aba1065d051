"""HTML and DOCX exports of a document written from the sample call."""

from __future__ import annotations

import base64
import io
import re
import struct
import zlib

import docx
import pytest
from browser import HeadlessChromium
from docx.shared import Cm

from techne_assets.adapters.export import document_to_docx, markdown_to_html
from techne_assets.core.captions import load_transcript
from techne_assets.core.document import SECTION_HEADINGS, TITLE, render_markdown
from techne_assets.core.writing.base import WritingContext
from techne_assets.core.writing.offline import OfflineWriter

SCREENSHOT = "screenshots/passo-01.png"
SECTION_TITLES = [h.removeprefix("## ") for h in SECTION_HEADINGS]


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, written by hand so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def call(data_dir):
    return load_transcript(data_dir / "calls/suporte-pagamentos-k8s-postgres.vtt")


@pytest.fixture(scope="module")
def document(call):
    context = WritingContext(
        source_name="suporte-pagamentos.mp4",
        video_url="https://videos.exemplo.com.br/suporte-pagamentos.mp4",
    )
    document = OfflineWriter().write(call, context).document
    recovery = next(p for p in document.procedures if len(p.steps) >= 5)
    recovery.steps[0].screenshot = SCREENSHOT
    return document


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    return {SCREENSHOT: _png(640, 360, (30, 90, 160))}


@pytest.fixture(scope="module")
def page(document, call, images) -> str:
    return markdown_to_html(render_markdown(document, call), images, "Suporte <pagamentos> & banco")


def test_html_is_a_self_contained_pt_br_page(page, images):
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="pt-BR">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<title>Suporte &lt;pagamentos&gt; &amp; banco</title>" in page
    assert f'src="data:image/png;base64,{base64.b64encode(images[SCREENSHOT]).decode()}"' in page
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page


def test_html_has_every_heading(page, document):
    assert f"<h1>{TITLE}</h1>" in page
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in page
    assert f"<h3>2.1 {document.topics[0].title}</h3>" in page


def test_html_only_links_what_the_document_links(page, document, call):
    markdown = render_markdown(document, call)
    sources = re.findall(r'\ssrc="([^"]*)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert hrefs
    for href in hrefs:
        assert href.startswith(("https://", "http://")) and href.split("#")[0] in markdown


def test_html_never_loads_a_missing_image_from_elsewhere():
    page = markdown_to_html(
        "![Passo 1](https://cdn.exemplo.com/p.png)\n\n![Passo 2](screenshots/x.png)\n", {}, "t"
    )
    assert "<img" not in page
    assert "[Passo 1]" in page and "[Passo 2]" in page


def test_html_shows_unchecked_boxes_for_action_items(page, document):
    first = document.action_items[0].text.split("`")[0]
    assert f"☐ {first}" in page


def _reopen(data: bytes):
    return docx.Document(io.BytesIO(data))


@pytest.fixture(scope="module")
def word(document, call, images):
    return _reopen(document_to_docx(document, call, images))


def test_docx_headings_use_word_heading_styles(word, document):
    styled = {(p.style.name, p.text) for p in word.paragraphs}
    assert ("Heading 1", TITLE) in styled
    for title in SECTION_TITLES:
        assert ("Heading 2", title) in styled
    for number, topic in enumerate(document.topics, 1):
        assert ("Heading 3", f"2.{number} {topic.title}") in styled


def test_docx_steps_are_numbered_and_restart_per_procedure(word, document):
    numbered = [p for p in word.paragraphs if p.style.name == "List Number"]
    expected = [
        re.sub(r" \(\[\d\d:\d\d:\d\d\]\(.*?\)\)$", "", s.text).replace("`", "")
        for p in document.procedures
        for s in p.steps
    ]
    texts = [p.text.rsplit(" (", 1)[0] for p in numbered]
    assert texts == expected
    num_ids = []
    for paragraph in numbered:
        num_pr = paragraph._p.pPr.numPr
        num_ids.append(num_pr.numId.val)
    sizes = [len(p.steps) for p in document.procedures]
    groups, start = [], 0
    for size in sizes:
        groups.append(set(num_ids[start : start + size]))
        start += size
    assert all(len(g) == 1 for g in groups)
    assert len(set().union(*groups)) == len(document.procedures)


def test_docx_has_bullets_the_screenshot_and_the_appendix(word, call):
    assert any(p.style.name == "List Bullet" for p in word.paragraphs)
    assert len(word.inline_shapes) == 1
    assert abs(word.inline_shapes[0].width - Cm(15)) < Cm(0.1)
    texts = [p.text for p in word.paragraphs]
    last = call.segments[-1]
    assert any(t.startswith("[00:") and t.endswith(last.text) and last.speaker in t for t in texts)
    appendix = texts.index(SECTION_TITLES[-1])
    assert len(texts) - appendix - 1 == len(call.segments)


def test_docx_keeps_commands_verbatim_in_a_monospace_font(word):
    runs = [
        r for p in word.paragraphs for r in p.runs if r.text == "kubectl get pods -n pagamentos"
    ]
    assert runs and all(r.font.name == "Consolas" for r in runs)


def test_exported_page_renders_in_a_phone_sized_browser(page, tmp_path):
    if not HeadlessChromium.available():
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    html_file = tmp_path / "documento.html"
    html_file.write_text(page, encoding="utf-8")
    with HeadlessChromium() as browser:
        tab = browser.open(html_file.as_uri(), width=390, height=844)
        tab.wait_for("document.readyState === 'complete'")
        headings = tab.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        assert headings == SECTION_TITLES
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        assert tab.wait_for("[...document.images].every(i => i.complete && i.naturalWidth === 640)")
        shot = tab.screenshot(tmp_path / "documento.png")
        assert shot.read_bytes().startswith(b"\x89PNG")
        assert tab.console_errors == []


def test_html_shows_each_items_evidence_in_a_collapsible_block(document, call, images):
    from techne_assets.adapters.export import document_to_html
    from techne_assets.core.transcript import format_timestamp, segment_id

    evidenced = document.model_copy(deep=True)
    items = [
        *evidenced.topics,
        *evidenced.procedures,
        *evidenced.troubleshooting,
        *evidenced.questions,
        *evidenced.action_items,
        *evidenced.references,
        *evidenced.glossary,
        *(step for p in evidenced.procedures for step in p.steps),
    ]
    for item in items:
        item.evidence = []
    evidenced.header.video_url = "https://videos.exemplo.com.br/suporte-pagamentos.mp4"
    evidenced.topics[0].evidence = [segment_id(0), segment_id(1)]
    evidenced.procedures[0].steps[0].evidence = [segment_id(2), "s9999"]
    page = document_to_html(evidenced, call, images, TITLE)
    blocks = re.findall(r'<details class="evidence">(.*?)</details>', page, re.S)
    assert len(blocks) == 2
    video = evidenced.header.video_url
    first = call.segments[0]
    assert "Evidência (2 trechos)" in blocks[0]
    assert (
        f'<a href="{video}#t={int(first.start)}">[{format_timestamp(first.start)}]</a>' in blocks[0]
    )
    assert " ".join(first.text.split())[:30] in blocks[0].replace("&quot;", '"').replace(
        "&#x27;", "'"
    )
    # An id the transcript does not have is left out.
    assert "Evidência (1 trecho)" in blocks[1] and blocks[1].count("<li>") == 1
    assert "⟦" not in page
    # The block sits inside the step it belongs to.
    step_list = page[page.index("<ol>") : page.index("</ol>")]
    assert '<details class="evidence">' in step_list
    # Markdown and DOCX carry no evidence marks.
    assert "⟦" not in render_markdown(evidenced, call)


def test_docx_carries_the_new_fields(document, call, images):
    from techne_assets.core.document import ActionItem, QuestionAnswer

    rich = document.model_copy(deep=True)
    step = rich.procedures[0].steps[0]
    step.expected_result = "Os pods voltam a Running."
    step.caution = "Comando destrutivo: confira o namespace."
    step.note = "Comando escrito a partir das palavras ditas."
    rich.procedures[0].warnings = ["Nunca rode isso em produção."]
    rich.action_items = [ActionItem(text="Atualizar o runbook", owner="Ana", deadline="até sexta")]
    rich.questions.append(
        QuestionAnswer(question="O que é um pod?", answer="A menor unidade.", review=True)
    )
    rich.topics[0].key_frame = "screenshots/topico-01.png"
    word = _reopen(
        document_to_docx(rich, call, {**images, "screenshots/topico-01.png": images[SCREENSHOT]})
    )
    texts = [p.text for p in word.paragraphs]
    assert "Resultado esperado: Os pods voltam a Running." in texts
    assert any(t.endswith("Atenção: Comando destrutivo: confira o namespace.") for t in texts)
    assert "Nota: Comando escrito a partir das palavras ditas." in texts
    assert "⚠️ Nunca rode isso em produção." in texts
    assert any("Prazo: até sexta" in t for t in texts)
    assert "Perguntas para revisão" in texts
    assert len(word.inline_shapes) == 2
    quotes = [p for p in word.paragraphs if "Atenção:" in p.text]
    assert quotes and quotes[0].style.name == "Quote"
