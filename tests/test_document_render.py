"""The Markdown renderer: the document format of the product brief."""

from __future__ import annotations

from markdown_it import MarkdownIt

from techne_assets.core.document import (
    EMPTY_SECTION,
    OFFLINE_NOTICE,
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
    render_sections,
)
from techne_assets.core.transcript import Segment, Transcript

VIDEO = "https://videos.exemplo.com.br/treinamento/chamada-12.mp4"


def _transcript() -> Transcript:
    return Transcript(
        language="pt-BR",
        duration=5400.0,
        segments=[
            Segment(
                start=62.4,
                end=70.0,
                speaker="Ana",
                text="Bom dia, hoje vamos ver o deploy da API de cobrança.",
            ),
            Segment(start=65.0, end=72.0, speaker=None, text="Alguém entrou sem microfone."),
            Segment(
                start=5025.2,
                end=5031.0,
                speaker="Marcos",
                text=(
                    "Troca o <nome-do-pod> pelo pod que está *reiniciando*. O runbook fica em "
                    "https://wiki.exemplo.com.br/runbooks/deploy."
                ),
            ),
        ],
    )


def _document(video_url: str | None = VIDEO, offline: bool = False) -> Document:
    return Document(
        header=DocumentHeader(
            source_name="chamada-12.mp4",
            call_date="2025-04-03",
            duration_seconds=5400.0,
            participants=["Ana", "Marcos"],
            writer="offline" if offline else "us.anthropic.claude-sonnet-4-20250514-v1:0",
            written_offline=offline,
            video_url=video_url,
        ),
        executive_summary=["Primeiro parágrafo do resumo.", "Segundo parágrafo do resumo."],
        topics=[
            Topic(
                title="Deploy da API de cobrança",
                time_range=TimeRange(start=5025.0, end=5400.0),
                description="Como o deploy é feito hoje.",
                key_points=["O deploy usa `helm upgrade cobranca ./chart -n financeiro`."],
                decisions=["Decidimos manter duas réplicas."],
            )
        ],
        procedures=[
            Procedure(
                title="Reiniciar o deployment",
                time_range=TimeRange(start=600.0, end=720.0),
                objective="Recuperar o serviço.",
                prerequisites=["Acesso ao namespace financeiro."],
                steps=[
                    Step(text="Roda `kubectl get pods -n financeiro`.", at=600.0),
                    Step(
                        text="Abre o painel de eventos.",
                        at=640.0,
                        screenshot="screenshots/passo-02.png",
                    ),
                    Step(text="Confere se os pods voltaram."),
                ],
            )
        ],
        troubleshooting=[
            Problem(
                title="Pods reiniciando",
                time_range=TimeRange(start=900.0, end=1000.0),
                symptoms=["Os pods entravam em CrashLoopBackOff."],
                root_cause="Faltava memória no limite do container.",
                solution=["Aumentar o limite para 512Mi."],
                prevention=["Criar alerta de OOMKilled."],
            )
        ],
        questions=[
            QuestionAnswer(
                question="Precisa reiniciar o banco?",
                answer="Não, só a aplicação.",
                at=1200.0,
                asked_by="Marcos",
                answered_by="Ana",
            )
        ],
        action_items=[
            ActionItem(text="Atualizar o runbook", owner="Ana", at=1300.0),
            ActionItem(text="Revisar os limites de memória"),
        ],
        references=[
            Reference(
                text="Runbook de deploy",
                url="https://wiki.exemplo.com.br/runbooks/deploy",
                at=1400.0,
            ),
            Reference(text="Chamado INC0012345"),
        ],
        glossary=[
            GlossaryTerm(term="HPA", definition="Horizontal Pod Autoscaler, citado em [00:20:00].")
        ],
    )


def _heading_texts(markdown: str, tag: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(markdown)
    return [
        tokens[i + 1].content
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag == tag
    ]


def test_title_sections_in_order_and_parsed_as_headings():
    markdown = render_markdown(_document(), _transcript())
    assert markdown.startswith(f"# {TITLE}\n")
    assert _heading_texts(markdown, "h1") == [TITLE]
    assert _heading_texts(markdown, "h2") == [h.removeprefix("## ") for h in SECTION_HEADINGS]
    assert _heading_texts(markdown, "h3") == [
        "2.1 Deploy da API de cobrança",
        "3.1 Reiniciar o deployment",
        "4.1 Pods reiniciando",
    ]


def test_header_lists_date_duration_participants_source_and_writer():
    markdown = render_markdown(_document(), _transcript())
    header = markdown[: markdown.index(SECTION_HEADINGS[0])]
    assert "**Data da chamada:** 2025-04-03" in header
    assert "**Duração:** 01:30:00" in header
    assert "**Participantes:** Ana, Marcos" in header
    assert "**Fonte:** chamada-12.mp4" in header
    assert "**Redator:** us.anthropic.claude-sonnet-4-20250514-v1:0" in header
    assert OFFLINE_NOTICE not in markdown


def test_offline_documents_say_so():
    markdown = render_markdown(_document(offline=True), _transcript())
    assert OFFLINE_NOTICE in markdown[: markdown.index(SECTION_HEADINGS[0])]


def test_empty_sections_keep_their_heading_and_say_nothing_was_found():
    empty = Document(header=DocumentHeader(source_name="vazia.mp4", writer="offline"))
    sections = render_sections(empty, Transcript())
    assert list(sections) == list(SECTION_HEADINGS)
    for heading, text in sections.items():
        assert text.startswith(heading + "\n")
        assert EMPTY_SECTION in text
    markdown = render_markdown(empty, Transcript())
    assert markdown.count(EMPTY_SECTION) == len(SECTION_HEADINGS)
    assert "**Duração:** não informada" in markdown


def test_time_ranges_link_to_the_video_when_it_has_an_address():
    markdown = render_markdown(_document(), _transcript())
    assert f"[01:23:45]({VIDEO}#t=5025) – [01:30:00]({VIDEO}#t=5400)" in markdown


def test_time_ranges_are_plain_without_a_video_address():
    markdown = render_markdown(_document(video_url=None), _transcript())
    assert "**Trecho:** [01:23:45] – [01:30:00]" in markdown
    assert "#t=" not in markdown


def test_a_video_address_with_spaces_stays_one_link():
    url = "https://videos.exemplo.com.br/gravações/chamada 12 (parte 1).mp4"
    markdown = render_markdown(_document(video_url=url), _transcript())
    tokens = MarkdownIt("commonmark").parse(markdown)
    hrefs = [c.attrGet("href") for t in tokens for c in (t.children or []) if c.type == "link_open"]
    encoded = "https://videos.exemplo.com.br/grava%C3%A7%C3%B5es/chamada%2012%20(parte%201).mp4"
    assert f"{encoded}#t=5025" in hrefs
    assert encoded in hrefs


def test_steps_are_numbered_with_the_screenshot_under_its_step():
    markdown = render_markdown(_document(), _transcript())
    tokens = MarkdownIt("commonmark").parse(markdown)
    items: list[list[str]] = []
    depth = 0
    for token in tokens:
        if token.type == "ordered_list_open":
            depth += 1
        elif token.type == "ordered_list_close":
            depth -= 1
        elif token.type == "list_item_open" and depth:
            items.append([])
        elif token.type == "inline" and depth and items:
            items[-1] += [
                c.attrGet("src") or c.content
                for c in token.children or []
                if c.type in ("image", "code_inline")
            ]
    assert len(items) == 3
    assert items[0] == ["kubectl get pods -n financeiro"]
    assert items[1] == ["screenshots/passo-02.png"]
    assert items[2] == []
    assert "![Passo 2](screenshots/passo-02.png)" in markdown


def test_action_items_are_checkboxes_with_owner_when_known():
    markdown = render_markdown(_document(video_url=None), _transcript())
    assert "- [ ] Atualizar o runbook — **Responsável:** Ana ([00:21:40])" in markdown
    assert "- [ ] Revisar os limites de memória\n" in markdown


def test_problem_qa_reference_and_glossary_fields_are_rendered():
    markdown = render_markdown(_document(video_url=None), _transcript())
    for expected in (
        "**Sintomas:**",
        "- Os pods entravam em CrashLoopBackOff.",
        "**Causa raiz:** Faltava memória no limite do container.",
        "**Solução:**",
        "**Prevenção:**",
        "**P [00:20:00] (Marcos):** Precisa reiniciar o banco?",
        "**R (Ana):** Não, só a aplicação.",
        "- Runbook de deploy: <https://wiki.exemplo.com.br/runbooks/deploy> ([00:23:20])",
        "- Chamado INC0012345",
        "- **HPA:** Horizontal Pod Autoscaler",
        "**Objetivo:** Recuperar o serviço.",
        "- Acesso ao namespace financeiro.",
        "**Decisões:**",
        "- Decidimos manter duas réplicas.",
    ):
        assert expected in markdown


def test_commands_stay_verbatim_in_backticks():
    markdown = render_markdown(_document(), _transcript())
    tokens = MarkdownIt("commonmark").parse(markdown)
    codes = [c.content for t in tokens for c in (t.children or []) if c.type == "code_inline"]
    assert "helm upgrade cobranca ./chart -n financeiro" in codes


def test_appendix_has_one_line_per_segment_with_time_and_speaker():
    markdown = render_markdown(_document(), _transcript())
    appendix = markdown[markdown.index(SECTION_HEADINGS[-1]) :]
    lines = [line for line in appendix.splitlines()[1:] if line]
    assert lines[0] == "**[00:01:02] Ana:** Bom dia, hoje vamos ver o deploy da API de cobrança."
    assert lines[1] == "**[00:01:05]:** Alguém entrou sem microfone."
    assert lines[2].startswith("**[01:23:45] Marcos:** ")
    assert len(lines) == 3


def test_speech_with_markup_characters_reads_as_said():
    html = MarkdownIt("commonmark").render(render_markdown(_document(), _transcript()))
    assert "Troca o &lt;nome-do-pod&gt; pelo pod que está *reiniciando*." in html


def _rich_document(**header) -> Document:
    return Document(
        header=DocumentHeader(source_name="aula.mp4", writer="modelo", call_date="2025-04-03", **header),
        topics=[
            Topic(
                title="Painel",
                time_range=TimeRange(start=0, end=120),
                description="O painel principal.",
                key_frame="screenshots/topico-01.png",
                key_frame_at=65.0,
            )
        ],
        procedures=[
            Procedure(
                title="Limpeza",
                time_range=TimeRange(start=0, end=120),
                objective="Liberar disco.",
                warnings=["Nunca rode isso em produção."],
                steps=[
                    Step(
                        text="Roda `rm -rf /var/cache/app`.",
                        expected_result="O disco volta a ter espaço.",
                        caution="Comando destrutivo.",
                        note="Comando escrito a partir das palavras ditas.",
                    ),
                    Step(text="Confere com `df -h`."),
                ],
            )
        ],
        questions=[
            QuestionAnswer(question="Precisa reiniciar?", answer="Não.", asked_by="Marcos"),
            QuestionAnswer(question="O que o df mostra?", answer="O uso do disco.", review=True),
        ],
        action_items=[ActionItem(text="Atualizar o runbook", owner="Ana", deadline="até sexta")],
    )


def test_new_step_fields_render_under_their_step():
    markdown = render_markdown(_rich_document(), Transcript())
    assert (
        "1. Roda `rm -rf /var/cache/app`.\n\n"
        "   **Resultado esperado:** O disco volta a ter espaço.\n\n"
        "   > ⚠️ **Atenção:** Comando destrutivo.\n\n"
        "   *Nota:* Comando escrito a partir das palavras ditas.\n\n"
        "2. Confere com `df -h`."
    ) in markdown
    assert "**Avisos:**\n\n- ⚠️ Nunca rode isso em produção." in markdown
    tokens = MarkdownIt("commonmark").parse(markdown)
    ordered = [i for i, t in enumerate(tokens) if t.type == "ordered_list_open"]
    closing = next(i for i, t in enumerate(tokens) if t.type == "ordered_list_close")
    assert len(ordered) == 1
    assert any(t.type == "blockquote_open" for t in tokens[ordered[0] : closing])


def test_deadline_review_questions_and_key_frame():
    markdown = render_markdown(_rich_document(), Transcript())
    assert "- [ ] Atualizar o runbook — **Responsável:** Ana — **Prazo:** até sexta" in markdown
    section = render_sections(_rich_document(), Transcript())[SECTION_HEADINGS[4]]
    assert section.index("**P (Marcos):** Precisa reiniciar?") < section.index("**Perguntas para revisão**")
    assert section.index("**Perguntas para revisão**") < section.index("**P:** O que o df mostra?")
    assert "![Tela do tópico 2.1 em 00:01:05](screenshots/topico-01.png)" in markdown
    assert _heading_texts(markdown, "h2") == [h.removeprefix("## ") for h in SECTION_HEADINGS]


def test_header_names_a_foreign_language_the_date_source_and_an_audio_only_recording():
    markdown = render_markdown(
        _rich_document(language="en", call_date_source="recording", audio_only=True), Transcript()
    )
    header = markdown[: markdown.index(SECTION_HEADINGS[0])]
    assert "- **Idioma da chamada:** en" in header
    assert "- **Data da chamada:** 2025-04-03 (metadados da gravação)" in header
    assert "> Gravação sem vídeo: o documento não tem capturas de tela." in header
    pt = render_markdown(_rich_document(language="pt-BR", call_date_source="file"), Transcript())
    assert "Idioma da chamada" not in pt
    assert "- **Data da chamada:** 2025-04-03 (data do arquivo)" in pt
    assert "Gravação sem vídeo" not in pt


def test_a_screenshot_name_that_is_not_a_plain_relative_path_is_not_rendered():
    document = _rich_document()
    document.topics[0].key_frame = "https://evil.example/x.png"
    document.procedures[0].steps[1].screenshot = "../../etc/passwd"
    markdown = render_markdown(document, Transcript())
    assert "evil.example" not in markdown and "passwd" not in markdown
