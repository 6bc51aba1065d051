"""References stage: URLs, tickets, documents, books and posts named in the call."""

from __future__ import annotations

from offline_support import document_of


def test_urls_tickets_documents_and_an_english_blog_post():
    references = document_of(
        [
            (
                "Ana",
                "O painel está em https://grafana.exemplo.com.br/d/pg e o ticket é o PAG-1432.",
            ),
            ("Ana", "Atualizei o runbook de conexões do Postgres com esses passos."),
            ("Bruno", "E o manual.pdf do fornecedor explica os parâmetros."),
        ]
    ).references
    texts = [r.text for r in references]
    assert references[0].url == "https://grafana.exemplo.com.br/d/pg"
    assert "Chamado/ticket PAG-1432" in texts
    assert "Documento citado: runbook de conexões do Postgres" in texts
    assert "Documento citado: manual.pdf" in texts


def test_a_post_named_in_an_english_call():
    references = document_of(
        [("Kenji", "There is a post on the engineering blog about key eviction that explains it.")],
        language="en",
    ).references
    assert [r.text for r in references] == [
        "Documento citado: post on the engineering blog about key eviction"
    ]
