"""HTML and DOCX exports of the rendered document.

Both read the Markdown the renderer writes (one layout, three formats): the HTML page is
self-contained (images inlined as data: URIs, no scripts, no external styles) and readable on
a phone, and shows under each item the transcript segments it rests on (its evidence, with
their time links) in a collapsible `<details>` block; the DOCX uses Word's own Heading, List
Number and List Bullet styles.
"""

from __future__ import annotations

import base64
import html
import io
import mimetypes
import re
from collections.abc import Sequence

from docx import Document as new_docx
from docx.enum.text import WD_BREAK
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt
from markdown_it.token import Token

from techne_assets.core.document import (
    EVIDENCE_MARK,
    Document,
    render_markdown,
    rendering_for,
)
from techne_assets.core.transcript import Transcript, format_timestamp

IMAGE_WIDTH = Cm(15)
UNCHECKED_BOX = "☐ "

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 52rem; padding: 1rem; font: 16px/1.55 system-ui, -apple-system,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1d1d1f; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; line-height: 1.25; }
h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .25rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f3f3f3;
  padding: .1em .3em; border-radius: 3px; overflow-wrap: anywhere; }
pre { overflow-x: auto; background: #f3f3f3; padding: .75rem; border-radius: 4px; }
pre code { padding: 0; background: none; }
img { max-width: 100%; height: auto; display: block; margin: .5rem 0; border: 1px solid #ddd; }
blockquote { margin: 1rem 0; padding: .5rem 1rem; border-left: 4px solid #8aa; background: #f6f8f8; }
table { display: block; overflow-x: auto; border-collapse: collapse; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; }
a { color: #0b57d0; }
li { margin: .2rem 0; }
details.evidence { margin: .25rem 0 .75rem; font-size: .9em; color: #444; }
details.evidence summary { cursor: pointer; color: #0b57d0; }
details.evidence ul { margin: .25rem 0; padding-left: 1.25rem; }
"""
# The evidence mark as the renderer's paragraph in the HTML body.
_EVIDENCE_PARAGRAPH_RE = re.compile(
    "<p>" + re.escape(EVIDENCE_MARK).replace(r"\{\}", r"(\d+)") + "</p>\n?"
)


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    try:
        import linkify_it  # noqa: F401  (optional: bare URLs become links when it is installed)
    except ImportError:
        return md
    md.options["linkify"] = True
    return md.enable("linkify")


def _data_uri(path: str, data: bytes) -> str:
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _mark_task_boxes(tokens: Sequence[Token]) -> None:
    """`- [ ] text` items show an empty box (CommonMark itself has no task lists)."""
    for i, token in enumerate(tokens):
        if token.type != "inline" or i < 2 or tokens[i - 2].type != "list_item_open":
            continue
        first = (token.children or [None])[0]
        if first is not None and first.type == "text" and first.content.startswith("[ ] "):
            first.content = UNCHECKED_BOX + first.content[4:]


def markdown_to_html(
    markdown: str,
    images: dict[str, bytes],
    title: str,
    evidence_blocks: Sequence[str] = (),
) -> str:
    """A self-contained HTML page: embedded images, inline CSS, no scripts or external resources.

    `evidence_blocks[n]` replaces the renderer's evidence mark number n (see `document_to_html`).
    """
    md = _parser()
    tokens = md.parse(markdown)
    _mark_task_boxes(tokens)
    for token in tokens:
        for child in token.children or []:
            if child.type != "image":
                continue
            src = str(child.attrGet("src") or "")
            if src in images:
                child.attrSet("src", _data_uri(src, images[src]))
            else:
                # Never load anything from elsewhere: a missing image shows as its alt text.
                child.type = "text"
                child.content = f"[{child.content or src}]"
                child.children = None
    body = md.renderer.render(tokens, md.options, {})
    body = _EVIDENCE_PARAGRAPH_RE.sub(
        lambda m: (
            evidence_blocks[int(m.group(1))] if int(m.group(1)) < len(evidence_blocks) else ""
        ),
        body,
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="pt-BR">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def evidence_block(ids: Sequence[str], transcript: Transcript, video_url: str | None) -> str:
    """The collapsible HTML block quoting the segments `ids` name, each with its time link.

    Ids the transcript does not have are left out; with none left, the block is empty.
    """
    items = []
    for sid in ids:
        segment = transcript.segment_by_id(sid)
        if segment is None:
            continue
        stamp = html.escape(f"[{format_timestamp(segment.start)}]")
        when = (
            f'<a href="{html.escape(f"{video_url}#t={int(segment.start)}", quote=True)}">{stamp}</a>'
            if video_url
            else stamp
        )
        speaker = f" <strong>{html.escape(segment.speaker)}:</strong>" if segment.speaker else ""
        text = html.escape(" ".join(segment.text.split()))
        items.append(f"<li>{when}{speaker} “{text}”</li>")
    if not items:
        return ""
    label = "Evidência (1 trecho)" if len(items) == 1 else f"Evidência ({len(items)} trechos)"
    return (
        f'<details class="evidence"><summary>{label}</summary>\n<ul>\n'
        + "\n".join(items)
        + "\n</ul>\n</details>\n"
    )


def document_to_html(
    document: Document, transcript: Transcript, images: dict[str, bytes], title: str
) -> str:
    """The document as a self-contained HTML page, each item followed by its evidence."""
    rendering = rendering_for(document, transcript, collect_evidence=True)
    markdown = render_markdown(document, transcript, rendering)
    blocks = [
        evidence_block(ids, transcript, document.header.video_url)
        for ids in rendering.evidence or []
    ]
    return markdown_to_html(markdown, images, title, blocks)


def _add_hyperlink(paragraph: Paragraph, url: str, text: str) -> None:
    r_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Hyperlink")
    properties.append(style)
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    properties.append(underline)
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "0B57D0")
    properties.append(color)
    run.append(properties)
    text_element = OxmlElement("w:t")
    text_element.text = text
    text_element.set(qn("xml:space"), "preserve")
    run.append(text_element)
    link.append(run)
    paragraph._p.append(link)


class _DocxWriter:
    """Walks markdown-it tokens and writes the matching python-docx paragraphs."""

    def __init__(self, images: dict[str, bytes]):
        self.doc = new_docx()
        self.images = images
        self.lists: list[str] = []  # "bullet" | "ordered", innermost last
        self.item_started = False  # the next paragraph is a list item's own text
        self.quote = False
        self.list_number_num_id = self._style_num_id("List Number")

    def _style_num_id(self, style_name: str) -> int | None:
        properties = self.doc.styles[style_name].element.pPr
        num_pr = properties.numPr if properties is not None else None
        return None if num_pr is None or num_pr.numId is None else num_pr.numId.val

    def _restarted_numbering(self) -> int | None:
        """A fresh numbering instance of the List Number style, so every procedure counts from 1."""
        if self.list_number_num_id is None:
            return None
        numbering = self.doc.part.numbering_part.element
        abstract_id = next(
            num.abstractNumId.val
            for num in numbering.num_lst
            if num.numId == self.list_number_num_id
        )
        num = numbering.add_num(abstract_id)
        num.add_lvlOverride(ilvl=0).add_startOverride(1)
        return num.numId

    def write(self, tokens: Sequence[Token]) -> bytes:
        ordered_num_ids: list[int | None] = []
        pending_paragraph_style: str | None = None
        for token in tokens:
            kind = token.type
            if kind == "heading_open":
                pending_paragraph_style = f"Heading {min(int(token.tag[1]), 9)}"
            elif kind == "bullet_list_open":
                self.lists.append("bullet")
            elif kind == "ordered_list_open":
                self.lists.append("ordered")
                ordered_num_ids.append(self._restarted_numbering())
            elif kind == "list_item_open":
                self.item_started = True
            elif kind in ("bullet_list_close", "ordered_list_close"):
                if self.lists.pop() == "ordered":
                    ordered_num_ids.pop()
            elif kind == "blockquote_open":
                self.quote = True
            elif kind == "blockquote_close":
                self.quote = False
            elif kind == "paragraph_open" and pending_paragraph_style is None:
                pending_paragraph_style = self._paragraph_style()
            elif kind == "inline":
                style = pending_paragraph_style or "Normal"
                paragraph = self.doc.add_paragraph(style=style)
                if style == "List Number" and ordered_num_ids and ordered_num_ids[-1] is not None:
                    num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
                    num_pr.get_or_add_ilvl().val = 0
                    num_pr.get_or_add_numId().val = ordered_num_ids[-1]
                self._inline(paragraph, token.children or [])
                pending_paragraph_style = None
            elif kind in ("fence", "code_block"):
                paragraph = self.doc.add_paragraph(style="No Spacing")
                run = paragraph.add_run(token.content.rstrip("\n"))
                run.font.name = "Consolas"
                run.font.size = Pt(9)
        out = io.BytesIO()
        self.doc.save(out)
        return out.getvalue()

    def _paragraph_style(self) -> str:
        if self.lists and self.item_started:
            # A list item's first paragraph is the item; later ones (a step's screenshot) are not.
            self.item_started = False
            return "List Number" if self.lists[-1] == "ordered" else "List Bullet"
        return "Quote" if self.quote else "Normal"

    def _inline(self, paragraph: Paragraph, children: Sequence[Token]) -> None:
        bold = italic = False
        link: str | None = None
        link_text: list[str] = []
        pictures: list[bytes] = []
        for child in children:
            kind = child.type
            if kind == "strong_open":
                bold = True
            elif kind == "strong_close":
                bold = False
            elif kind == "em_open":
                italic = True
            elif kind == "em_close":
                italic = False
            elif kind == "link_open":
                link, link_text = str(child.attrGet("href") or ""), []
            elif kind == "link_close":
                _add_hyperlink(paragraph, link or "", "".join(link_text) or (link or ""))
                link = None
            elif kind in ("text", "code_inline") and link is not None:
                link_text.append(child.content)
            elif kind == "text":
                text = child.content
                if text.startswith("[ ] ") and not paragraph.runs:
                    text = UNCHECKED_BOX + text[4:]
                run = paragraph.add_run(text)
                run.bold, run.italic = bold or None, italic or None
            elif kind == "code_inline":
                run = paragraph.add_run(child.content)
                run.font.name = "Consolas"
                run.bold = bold or None
            elif kind in ("softbreak", "hardbreak"):
                paragraph.add_run().add_break(WD_BREAK.LINE)
            elif kind == "image":
                src = str(child.attrGet("src") or "")
                if src in self.images:
                    pictures.append(self.images[src])
                else:
                    paragraph.add_run(f"[{child.content or src}]")
        for picture in pictures:
            if paragraph.text.strip():
                paragraph.add_run().add_break(WD_BREAK.LINE)
            paragraph.add_run().add_picture(io.BytesIO(picture), width=IMAGE_WIDTH)


def document_to_docx(document: Document, transcript: Transcript, images: dict[str, bytes]) -> bytes:
    """The document as a Word file: Heading 1/2/3, numbered steps, bullets, screenshots, appendix."""
    tokens = MarkdownIt("commonmark", {"html": False}).parse(render_markdown(document, transcript))
    return _DocxWriter(images).write(tokens)
