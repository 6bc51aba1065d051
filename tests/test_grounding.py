"""Grounding: every technical span of a document must occur in the transcript."""

from __future__ import annotations

from techne_assets.core.document import (
    SECTION_HEADINGS,
    Document,
    DocumentHeader,
    Procedure,
    Reference,
    Step,
    TimeRange,
    Topic,
    render_markdown,
)
from techne_assets.core.grounding import check_grounding, remove_unsupported, technical_spans
from techne_assets.core.transcript import Segment, Transcript


def _transcript() -> Transcript:
    lines = [
        ("Rafael", "Primeiro roda kubectl   GET pods -n cobranca pra ver o estado."),
        ("Rafael", "A configuração fica em /etc/nginx/conf.d/cobranca.conf."),
        ("Júlia", "No Windows o log fica em C:\\ProgramData\\Cobranca\\logs\\app.log, tá?"),
        ("Rafael", "O erro era ORA-00942 e às vezes HTTP 502 no balanceador."),
        ("Júlia", "A documentação está em https://docs.exemplo.com.br/cobranca/deploy."),
        ("Rafael", "A gente colocou worker_processes = 4 e LOG_LEVEL=debug no ambiente."),
        ("Júlia", "O código do Windows foi 0x80070005, acesso negado."),
        ("Rafael", "Depois roda ./scripts/rollback.sh se der ruim."),
    ]
    return Transcript(
        segments=[
            Segment(start=10.0 * i, end=10.0 * i + 8, speaker=s, text=t)
            for i, (s, t) in enumerate(lines)
        ]
    )


def _texts(spans) -> set[tuple[str, str]]:
    return {(s.kind, s.text) for s in spans}


def test_spans_of_every_kind_are_found():
    markdown = "Rode `kubectl get pods -n cobranca` e veja https://docs.exemplo.com.br/cobranca/deploy.\n\nO arquivo /etc/nginx/conf.d/cobranca.conf e o script ./scripts/rollback.sh.\n\nNo Windows: C:\\ProgramData\\Cobranca\\logs\\app.log com código 0x80070005.\n\nAjuste worker_processes = 4 e LOG_LEVEL=debug; o banco devolveu ORA-00942 e HTTP 502.\n\n```\nsystemctl reload nginx\n```"
    found = _texts(technical_spans(markdown))
    assert {
        ("command", "kubectl get pods -n cobranca"),
        ("url", "https://docs.exemplo.com.br/cobranca/deploy"),
        ("path", "/etc/nginx/conf.d/cobranca.conf"),
        ("path", "./scripts/rollback.sh"),
        ("path", "C:\\ProgramData\\Cobranca\\logs\\app.log"),
        ("error_code", "0x80070005"),
        ("config_key", "worker_processes = 4"),
        ("config_key", "LOG_LEVEL=debug"),
        ("error_code", "ORA-00942"),
        ("error_code", "502"),
        ("command", "systemctl reload nginx"),
    } <= found


def test_ordinary_portuguese_is_not_technical():
    prose = (
        "O cliente e/ou o fornecedor atende 24/7. Em 12/03/2025 o Sr. Silva pagou R$ 1.500,00, etc. "
        "A equipe de TI revisou o processo às 14h30, com 3 pessoas e 500 reais de orçamento. "
        "Isso é, p.ex., um ponto importante: você precisa entender a regra antes de aplicar."
    )
    assert technical_spans(prose) == []


def test_time_links_and_screenshots_are_the_renderers_own():
    markdown = (
        "**Trecho:** [00:01:00](https://videos.exemplo.com.br/x.mp4#t=60) – [00:02:00](<https://v.exemplo/a b.mp4#t=120>)\n\n"
        "1. Abre o painel.\n\n   ![Passo 1](screenshots/passo-01.png)\n"
    )
    assert technical_spans(markdown) == []


def test_link_destinations_are_checked():
    spans = technical_spans("Veja [a documentação](https://docs.inventadas.com/pagina).")
    assert _texts(spans) == {("url", "https://docs.inventadas.com/pagina")}


def test_planted_inventions_are_unsupported_and_the_rest_supported():
    body = "\n".join(
        [
            SECTION_HEADINGS[0],
            "",
            "Rode `kubectl get pods -n cobranca` e depois `kubectl delete namespace cobranca`.",
            "",
            "Config em `/etc/nginx/conf.d/cobranca.conf`; não em /etc/nginx/inventado.conf.",
            "",
            "Docs: https://docs.exemplo.com.br/cobranca/deploy e https://wiki.inventada.io/runbook.",
            "",
            "Erro ORA-00942 (nunca ORA-12541). Código 0x80070005.",
        ]
    )
    report = check_grounding(body, _transcript())
    assert _texts(report.unsupported) == {
        ("command", "kubectl delete namespace cobranca"),
        ("path", "/etc/nginx/inventado.conf"),
        ("url", "https://wiki.inventada.io/runbook"),
        ("error_code", "ORA-12541"),
    }
    assert {
        ("command", "kubectl get pods -n cobranca"),
        ("path", "/etc/nginx/conf.d/cobranca.conf"),
        ("url", "https://docs.exemplo.com.br/cobranca/deploy"),
        ("error_code", "ORA-00942"),
        ("error_code", "0x80070005"),
    } <= _texts(report.supported)
    total = len(report.supported) + len(report.unsupported)
    assert report.precision == len(report.supported) / total < 1


def test_support_ignores_case_spacing_and_glued_punctuation_but_not_word_boundaries():
    transcript = _transcript()
    assert check_grounding("`kubectl get pods -n cobranca`", transcript).unsupported == []
    assert check_grounding("`worker_processes=4`", transcript).unsupported == []
    assert check_grounding("`./scripts/rollback.sh`.", transcript).unsupported == []
    truncated = check_grounding("`kubectl get pod`", transcript)
    assert _texts(truncated.unsupported) == {("command", "kubectl get pod")}


def test_header_and_appendix_are_not_checked():
    document = Document(
        header=DocumentHeader(
            source_name="c.mp4", writer="offline", video_url="https://videos.exemplo.com.br/c.mp4"
        ),
    )
    transcript = Transcript(
        segments=[
            Segment(
                start=0, end=5, speaker="Ana", text="Eu rodei `rm -rf /var/lib/inventado` ontem."
            )
        ]
    )
    markdown = render_markdown(document, transcript)
    assert "rm -rf /var/lib/inventado" in markdown
    report = check_grounding(markdown, Transcript(segments=[Segment(start=0, end=1, text="oi")]))
    assert report.unsupported == [] and report.precision == 1.0


def test_remove_unsupported_drops_invented_items_and_reports_them():
    transcript = _transcript()
    document = Document(
        header=DocumentHeader(source_name="c.mp4", writer="modelo"),
        executive_summary=[
            "Usamos `kubectl get pods -n cobranca` e também `kubectl drain node-7`."
        ],
        topics=[
            Topic(
                title="Deploy",
                time_range=TimeRange(start=0, end=80),
                description="Ver https://wiki.inventada.io/runbook para detalhes.",
                key_points=[
                    "Config em `/etc/nginx/conf.d/cobranca.conf`.",
                    "Apague `/etc/nginx/inventado.conf`.",
                ],
            )
        ],
        procedures=[
            Procedure(
                title="Rollback",
                time_range=TimeRange(start=0, end=80),
                objective="Voltar a versão.",
                steps=[
                    Step(
                        text="Roda `./scripts/rollback.sh`.",
                        at=70.0,
                        screenshot="screenshots/passo-01.png",
                    ),
                    Step(text="Roda `helm rollback cobranca 3`.", at=75.0),
                ],
            )
        ],
        references=[
            Reference(text="Documentação", url="https://docs.exemplo.com.br/cobranca/deploy"),
            Reference(text="Runbook", url="https://wiki.inventada.io/runbook"),
        ],
    )
    cleaned, removed = remove_unsupported(document, transcript)
    assert set(removed) == {
        "kubectl drain node-7",
        "https://wiki.inventada.io/runbook",
        "/etc/nginx/inventado.conf",
        "helm rollback cobranca 3",
    }
    assert cleaned.topics[0].key_points == ["Config em `/etc/nginx/conf.d/cobranca.conf`."]
    # A step is never dropped: its unsupported span gives way to the omission note, and it says so.
    steps = cleaned.procedures[0].steps
    assert [s.text for s in steps] == [
        "Roda `./scripts/rollback.sh`.",
        "Roda (trecho técnico omitido: não consta na transcrição).",
    ]
    assert steps[0].note is None
    assert steps[1].note == "Trecho técnico omitido: não consta na transcrição."
    assert steps[1].at == 75.0
    assert cleaned.procedures[0].steps[0].screenshot == "screenshots/passo-01.png"
    assert [r.text for r in cleaned.references] == ["Documentação"]
    assert "kubectl get pods -n cobranca" in cleaned.executive_summary[0]
    assert "kubectl drain" not in cleaned.executive_summary[0]
    assert "inventada" not in cleaned.topics[0].description
    assert check_grounding(render_markdown(cleaned, transcript), transcript).unsupported == []
    # The input is left as it was.
    assert len(document.procedures[0].steps) == 2


def _spoken_transcript() -> Transcript:
    lines = [
        "Agora roda ls traço la barra etc barra nginx pra ver os arquivos.",
        "A documentação tá em h t t p s dois pontos barra barra docs ponto exemplo ponto com barra nginx.",
        "Depois kubectl traço n cobranca get pods traço o wide.",
    ]
    return Transcript(
        segments=[Segment(start=10.0 * i, end=10.0 * i + 8, text=t) for i, t in enumerate(lines)]
    )


def test_a_command_spoken_in_words_supports_its_written_form_and_says_so():
    transcript = _spoken_transcript()
    report = check_grounding(
        "Rode `ls -la /etc/nginx` e veja https://docs.exemplo.com/nginx. Também `etc`.", transcript
    )
    assert report.unsupported == []
    matched = {span.text: span.matched for span in report.supported}
    assert matched["ls -la /etc/nginx"] == "normalized"
    assert matched["https://docs.exemplo.com/nginx"] == "normalized"
    literal = check_grounding("Roda `kubectl`.", transcript).supported
    assert [(s.text, s.matched) for s in literal] == [("kubectl", "literal")]


def test_an_unsupported_span_in_a_step_is_replaced_by_the_words_said():
    transcript = _spoken_transcript()
    document = Document(
        header=DocumentHeader(source_name="c.mp4", writer="modelo"),
        procedures=[
            Procedure(
                title="Pods",
                time_range=TimeRange(start=0, end=30),
                objective="Ver os pods.",
                steps=[
                    Step(text="Rode `ls -la /etc/nginx`.", at=1.0),
                    # The model wrote a flag that was not said: traced back to the spoken command.
                    Step(text="Rode `kubectl -n cobranca get pods -o yaml`.", at=20.0, note="Visto na tela."),
                ],
            )
        ],
    )
    cleaned, removed = remove_unsupported(document, transcript)
    assert removed == ["kubectl -n cobranca get pods -o yaml"]
    first, second = cleaned.procedures[0].steps
    assert first.text == "Rode `ls -la /etc/nginx`." and first.note is None
    assert second.text == "Rode «kubectl traço n cobranca get pods traço o wide»."
    assert second.note == (
        "Visto na tela. Trecho técnico sem correspondência exata na transcrição: mantidas as palavras ditas."
    )
    assert check_grounding(render_markdown(cleaned, transcript), transcript).unsupported == []
