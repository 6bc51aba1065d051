"""The offline writer on a realistic pt-BR support call, and on a long synthetic one."""

from __future__ import annotations

import itertools

import pytest

from techne_assets.core.captions import load_transcript
from techne_assets.core.document import (
    EMPTY_SECTION,
    OFFLINE_NOTICE,
    SECTION_HEADINGS,
    render_markdown,
)
from techne_assets.core.grounding import check_grounding
from techne_assets.core.spoken_forms import normalize_spoken
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.writing.base import WritingContext
from techne_assets.core.writing.offline import OfflineWriter

CALL = "calls/suporte-pagamentos-k8s-postgres.vtt"
CONTEXT = WritingContext(
    source_name="suporte-pagamentos.mp4",
    call_date="2025-03-12",
    video_url="https://videos.exemplo.com.br/suporte-pagamentos.mp4",
)


@pytest.fixture(scope="module")
def call(data_dir) -> Transcript:
    return load_transcript(data_dir / CALL)


@pytest.fixture(scope="module")
def draft(call):
    return OfflineWriter().write(call, CONTEXT)


def test_draft_is_offline_free_and_says_so(draft, call):
    assert draft.writer == "offline" and OfflineWriter.name == "offline"
    assert draft.calls == [] and draft.cost_usd == 0
    header = draft.document.header
    assert header.written_offline and header.writer == "offline"
    assert header.participants == ["Ana", "Bruno", "Carla", "Diego"]
    assert header.source_name == "suporte-pagamentos.mp4" and header.call_date == "2025-03-12"
    assert OFFLINE_NOTICE in render_markdown(draft.document, call)


def test_intermediate_structures_are_kept(draft):
    assert list(draft.sections) == list(SECTION_HEADINGS[:-1])
    assert len(draft.chunk_notes) == len(draft.document.topics)
    assert draft.outline["topics"] == [t.title for t in draft.document.topics]
    assert "PgBouncer" in draft.outline["glossary"]


def test_every_section_the_call_has_content_for_is_filled(draft, call):
    markdown = render_markdown(draft.document, call)
    assert EMPTY_SECTION not in markdown
    document = draft.document
    assert 2 <= len(document.executive_summary) <= 3
    assert len(document.topics) >= 3
    assert all(t.key_points for t in document.topics)


def test_topics_cover_the_call_in_order_without_overlap(draft, call):
    topics = draft.document.topics
    assert topics[0].time_range.start == call.segments[0].start
    assert topics[-1].time_range.end == call.spoken_end
    for before, after in itertools.pairwise(topics):
        assert before.time_range.end <= after.time_range.start


def test_decisions_come_from_the_call(draft):
    decisions = [d for t in draft.document.topics for d in t.decisions]
    assert any("Decidimos usar o PgBouncer em modo transaction" in d for d in decisions)
    assert any("`spring.datasource.hikari.maximum-pool-size`" in d for d in decisions)


def test_the_recovery_procedure_is_numbered_steps_with_real_times(draft, call):
    segment_starts = {s.start for s in call.segments}
    recovery = next(
        p for p in draft.document.procedures if any("rollout restart" in s.text for s in p.steps)
    )
    assert len(recovery.steps) >= 5
    assert recovery.steps[0].text.startswith(
        "Primeiro, roda o comando `kubectl get pods -n pagamentos`"
    )
    assert (
        "`kubectl rollout restart deployment/api-pagamentos -n pagamentos`"
        in recovery.steps[-2].text
    )
    assert all(step.at in segment_starts for step in recovery.steps)
    assert [s.at for s in recovery.steps] == sorted(s.at for s in recovery.steps)
    assert "objetivo" in recovery.objective.lower()
    assert any("`~/.kube/config`" in p for p in recovery.prerequisites)


def test_troubleshooting_has_symptoms_cause_and_solution_from_the_call(draft, call):
    # Sentences are the call's, with spoken technical forms written ("oitenta por cento" → "80%").
    spoken = " ".join(normalize_spoken(s.text) for s in call.segments)
    problems = draft.document.troubleshooting
    wal = next(p for p in problems if "replication slot" in p.root_cause)
    assert any("pg_wal" in s for s in wal.symptoms)
    assert any("pg_drop_replication_slot" in s for s in wal.solution)
    assert any("max_slot_wal_keep_size" in s for s in wal.prevention)
    connections = next(p for p in problems if "autoscaling" in p.root_cause)
    assert connections.symptoms and connections.solution
    for problem in problems:
        for sentence in [
            *problem.symptoms,
            problem.root_cause,
            *problem.solution,
            *problem.prevention,
        ]:
            assert sentence.replace("`", "") in spoken


def test_questions_are_paired_with_the_next_speakers_answer(draft):
    questions = draft.document.questions
    assert len(questions) >= 5
    health = next(q for q in questions if "PgBouncer está saudável" in q.question)
    assert (health.asked_by, health.answered_by) == ("Diego", "Carla")
    assert "`SHOW POOLS;`" in health.answer
    assert all(q.question.endswith("?") and q.asked_by != q.answered_by for q in questions)


def test_action_items_have_owners_when_said(draft):
    items = draft.document.action_items
    owner_of = {i.text: i.owner for i in items}
    assert owner_of["Eu fico com a atualização do runbook."] == "Ana"
    assert owner_of["O teste de carga fica comigo também, então."] == "Bruno"
    helm = next(i for i in items if "Helm chart" in i.text and i.text.startswith("Eu fico com"))
    assert helm.owner == "Bruno"
    chamado = next(i for i in items if "INC0048213" in i.text)
    assert chamado.owner == "Diego"
    assert any(i.owner is None and "próximo passo" in i.text for i in items)


def test_references_list_urls_tickets_and_named_documents(draft):
    references = draft.document.references
    urls = {r.url for r in references if r.url}
    assert urls == {
        "https://grafana.empresa.com.br/d/pg-conexoes/postgres-conexoes",
        "https://wiki.empresa.com.br/runbooks/postgres-conexoes",
    }
    texts = " | ".join(r.text for r in references)
    assert "INC0048213" in texts and "PAG-1432" in texts
    assert "runbook de conexões do Postgres" in texts


def test_glossary_definitions_are_quoted_or_neutral(draft, call):
    glossary = {g.term: g.definition for g in draft.document.glossary}
    assert "pooler de conexões" in glossary["PgBouncer"]
    assert glossary["WAL"].startswith("WAL significa write-ahead log.")
    assert "CrashLoopBackOff" in glossary and "HikariCP" in glossary
    spoken = " ".join(s.text for s in call.segments)
    for definition in glossary.values():
        quoted = definition.rsplit(" (", 1)[0].replace("`", "")
        assert quoted in spoken or definition.startswith("Termo citado em [")


def test_every_technical_span_in_the_output_is_grounded(draft, call):
    report = check_grounding(render_markdown(draft.document, call), call)
    assert report.unsupported == []
    supported = {s.text for s in report.supported}
    assert "kubectl rollout status deployment/api-pagamentos -n pagamentos" in supported
    assert "https://grafana.empresa.com.br/d/pg-conexoes/postgres-conexoes" in supported
    assert "~/.kube/config" in supported


def test_all_times_are_inside_the_call(draft, call):
    end = call.spoken_end
    document = draft.document
    ranges = [t.time_range for t in document.topics] + [p.time_range for p in document.procedures]
    ranges += [p.time_range for p in document.troubleshooting if p.time_range]
    assert all(0 <= r.start <= r.end <= end for r in ranges)
    moments = [s.at for p in document.procedures for s in p.steps] + [
        q.at for q in document.questions
    ]
    moments += [a.at for a in document.action_items] + [r.at for r in document.references]
    assert all(m is not None and 0 <= m <= end for m in moments)


def test_deterministic(call, draft):
    again = OfflineWriter().write(call, CONTEXT)
    assert again.model_dump() == draft.model_dump()
    assert render_markdown(again.document, call) == render_markdown(draft.document, call)


def test_a_call_without_problems_or_procedures_leaves_those_sections_empty():
    lines = [
        (
            "Paula",
            "Bom dia, pessoal, hoje a conversa é sobre o planejamento do treinamento de Python.",
        ),
        ("Rui", "A turma tem vinte alunos e a maioria já conhece lógica de programação."),
        ("Paula", "Então o módulo inicial pode ser mais curto e focado em tipos e funções."),
        ("Rui", "Concordo, e o material de exercícios fica para a segunda semana."),
    ]
    transcript = Transcript(
        segments=[
            Segment(start=30.0 * i, end=30.0 * i + 25, speaker=s, text=t)
            for i, (s, t) in enumerate(lines)
        ]
    )
    draft = OfflineWriter().write(transcript, WritingContext(source_name="planejamento.mp4"))
    sections = draft.sections
    for heading in (
        SECTION_HEADINGS[2],
        SECTION_HEADINGS[3],
        SECTION_HEADINGS[4],
        SECTION_HEADINGS[6],
    ):
        assert EMPTY_SECTION in sections[heading]
    assert EMPTY_SECTION not in sections[SECTION_HEADINGS[0]]
    assert draft.document.topics and draft.document.topics[0].key_points


def test_short_program_names_are_topic_words_too():
    lines = [
        ("Lia", "Primeiro roda ls -la /var/log/nginx pra ver os arquivos de log."),
        ("Lia", "Depois roda cd /var/log/nginx de novo e abre o access.log no editor."),
        ("Téo", "Em seguida roda du -sh /var/log/nginx para ver quanto ocupa."),
    ]
    transcript = Transcript(
        segments=[
            Segment(start=20.0 * i, end=20.0 * i + 15, speaker=s, text=t)
            for i, (s, t) in enumerate(lines)
        ]
    )
    draft = OfflineWriter().write(transcript, WritingContext(source_name="logs.mp4"))
    assert [s.at for s in draft.document.procedures[0].steps] == [0.0, 20.0, 40.0]
    assert "`du -sh /var/log/nginx`" in draft.document.procedures[0].steps[2].text


def test_an_empty_transcript_gives_a_document_with_every_heading():
    draft = OfflineWriter().write(Transcript(), WritingContext(source_name="silencio.mp4"))
    markdown = render_markdown(draft.document, Transcript())
    assert all(h in markdown for h in SECTION_HEADINGS)


def _write(lines: list[tuple[str, str]], step: float = 15.0):
    transcript = Transcript(
        segments=[
            Segment(start=step * i, end=step * i + step - 2, speaker=s, text=t)
            for i, (s, t) in enumerate(lines)
        ]
    )
    return OfflineWriter().write(transcript, WritingContext(source_name="teste.mp4")).document


def test_imperative_screen_steps_form_a_procedure_without_sequence_words():
    document = _write(
        [
            ("Ivo", "Vou compartilhar minha tela agora."),
            ("Ivo", "O caminho é Financeiro, Cadastros, Bancos."),
            ("Ivo", "Clica em Novo e preenche o campo Agência."),
            ("Ivo", "Marca a opção Conta Ativa."),
            ("Ivo", "Salva e confirma na janela seguinte."),
            ("Nina", "Entendi, ficou claro."),
        ]
    )
    assert len(document.procedures) == 1
    steps = [s.text for s in document.procedures[0].steps]
    assert steps[0].startswith("O caminho é Financeiro")
    assert any(s.startswith("Clica em Novo") for s in steps)
    assert all("ficou claro" not in s for s in steps)


def test_commands_said_in_a_row_form_a_procedure_even_with_talk_between():
    document = _write(
        [
            ("Téo", "Eu rodei docker ps -a pra ver os containers."),
            ("Lia", "E o que apareceu ali na lista de containers da máquina?"),
            ("Téo", "Apareceu o container da fila parado fazia duas horas."),
            ("Téo", "A fila tinha travado depois da atualização de ontem."),
            ("Lia", "Entendi, faz sentido com o que a gente viu."),
            ("Téo", "Ninguém tinha percebido porque o alerta estava desligado."),
            ("Lia", "Que coisa, isso precisa mudar logo."),
            ("Téo", "Pois é, e o painel também não mostrava nada."),
            ("Lia", "Tá bom, e depois disso, o que você fez?"),
            ("Téo", "Então eu rodei docker logs fila-worker --tail 50."),
        ],
        step=8.0,
    )
    assert len(document.procedures) == 1
    texts = " ".join(s.text for s in document.procedures[0].steps)
    assert "`docker ps -a`" in texts and "`docker logs fila-worker --tail 50`" in texts


def test_a_contingency_is_not_a_step_and_narration_is_not_an_action():
    document = _write(
        [
            ("Ana", "Primeiro, rode kubectl get nodes para ver os nós."),
            ("Ana", "Depois, rode kubectl cordon node-3 para tirar o nó do agendamento."),
            ("Ana", "Em seguida, rode kubectl drain node-3 --ignore-daemonsets."),
            ("Rui", "Nesse caso o retorno é kubectl uncordon node-3, quando o nó voltar."),
            ("Ana", "Essa aplicação roda com pouca memória desde o mês passado."),
        ]
    )
    steps = [s.text for p in document.procedures for s in p.steps]
    assert len(steps) == 3
    assert not any("uncordon" in s or "aplicação roda" in s for s in steps)


def test_procedure_titles_use_nouns_and_technical_terms_not_verbs():
    document = _write(
        [
            ("Ana", "Primeiro, rode psql -h banco-prod para conectar no banco."),
            ("Ana", "Depois, rode psql -c 'SELECT 1' para conferir a conexão conectada."),
            ("Ana", "Por fim, rode pg_dump vendas para gerar o backup do banco."),
        ]
    )
    title = document.procedures[0].title
    assert title.startswith("Procedimento: ")
    for word in ("conectada", "rode", "conectar", "gerar", "conferir"):
        assert word not in title


def test_glossary_keeps_terms_the_call_explains_and_drops_bare_mentions():
    document = _write(
        [
            ("Ana", "Hoje vamos falar do deploy do serviço de fila e do cluster novo."),
            ("Rui", "O que é o DLQ?"),
            ("Ana", "É a fila onde caem as mensagens que falharam várias vezes."),
            ("Ana", "O SLA é Service Level Agreement, o acordo de nível de serviço com o cliente."),
            ("Ana", "O deploy sai amanhã e o cluster já está pronto para o deploy."),
            ("Rui", "Se essa mensagem Kafka é reprocessada, o consumidor precisa ser idempotente."),
        ]
    )
    glossary = {g.term: g.definition for g in document.glossary}
    assert glossary["DLQ"].startswith("É a fila onde caem as mensagens")
    assert glossary["SLA"].startswith("O SLA é Service Level Agreement")
    assert "deploy" not in glossary and "cluster" not in glossary
    assert "Kafka" not in glossary


def test_prevention_goes_to_the_problem_it_follows():
    document = _write(
        [
            ("Ana", "O primeiro problema foi o disco cheio no servidor de logs."),
            ("Ana", "A causa foi a rotação de logs desligada no servidor."),
            ("Ana", "A solução foi ligar a rotação e apagar os arquivos antigos."),
            ("Rui", "O segundo problema foi o certificado expirado no gateway de pagamentos."),
            ("Rui", "A causa foi a renovação manual que ninguém fez."),
            ("Rui", "Resolvemos renovando o certificado na mão durante a madrugada."),
            (
                "Rui",
                "Pra evitar isso de novo vamos automatizar a renovação com alerta de validade.",
            ),
        ],
        step=20.0,
    )
    problems = document.troubleshooting
    assert len(problems) == 2
    assert not problems[0].prevention
    assert any("automatizar a renovação" in p for p in problems[1].prevention)


def test_titles_are_noun_phrases_of_the_call_and_never_end_in_a_verb():
    document = _write(
        [
            ("Rui", "O alerta do disco tocou de madrugada no servidor de arquivos."),
            ("Rui", "A cota de disco do servidor estava cheia, o disco travou."),
            ("Eva", "Primeiro, rode df -h para ver a cota de disco do servidor."),
            ("Eva", "Depois, rode du -sh /srv/arquivos para achar a pasta grande."),
            ("Eva", "Por fim, rode systemctl restart smbd e confere a cota de disco."),
            ("Rui", "Eu entro no painel e a cota de disco voltou ao normal."),
        ]
    )
    titles = [t.title for t in document.topics] + [p.title for p in document.procedures]
    procedure = document.procedures[0].title.removeprefix("Procedimento: ")
    # The phrase is said word for word in the call ("a cota de disco do servidor").
    assert procedure.startswith("cota de disco")
    assert procedure.split(" com ")[0] in "a cota de disco do servidor"
    for title in titles:
        last = title.split()[-1].lower()
        assert last not in {"entro", "rode", "confere", "travou", "tocou", "voltou"}


def test_without_a_noun_phrase_the_title_joins_salient_terms_and_skips_verb_forms():
    document = _write(
        [
            ("Ana", "Eu entro, rodei kubectl get pods -n loja e saí."),
            ("Ana", "Depois rodei kubectl describe pod loja-api -n loja e saí."),
            ("Ana", "Em seguida rodei kubectl logs loja-api -n loja e entro."),
        ]
    )
    title = document.procedures[0].title.removeprefix("Procedimento: ")
    assert title and "kubectl" in title
    assert not {"entro", "saí", "rodei"} & set(title.replace(",", " ").split())


def test_no_document_defect_on_the_development_calls(data_dir):
    """The trainer's defects of the issue, measured on the calls the rules are developed on."""
    from techne_assets.evaluation_runner import evaluate

    rows = evaluate(data_dir / "dev", [OfflineWriter()])
    assert len(rows) >= 8
    for row in rows:
        defects = row.defects
        assert defects.duplicate_titles == [], row.call
        assert defects.undefined_glossary_terms == [], row.call
        assert defects.same_speaker_answers == [], row.call
        assert defects.non_commitment_actions == [], row.call
        assert defects.warning_steps == [], row.call
        assert row.grounding_precision == 1.0, (row.call, row.unsupported_spans)
