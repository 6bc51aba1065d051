"""Topics stage: boundaries where the vocabulary changes, titles, key points, decisions."""

from __future__ import annotations

from offline_support import document_of

DISK = "O disco do servidor de arquivos encheu porque o log do backup cresceu sem rotação."
VPN = "O túnel da VPN da filial perde a fase dois quando o lifetime das chaves expira."


def test_a_change_of_vocabulary_starts_a_new_topic_with_its_own_title_and_decisions():
    lines = [("Ana", DISK)] * 8 + [("Bruno", "Agora vamos falar da VPN da filial de Campinas.")]
    lines += [("Bruno", VPN)] * 7 + [
        ("Ana", "Decidimos igualar o lifetime da fase dois nos dois lados.")
    ]
    topics = document_of(lines, step=40.0).topics
    assert len(topics) == 2
    assert "disco" in topics[0].title.lower() or "log" in topics[0].title.lower()
    assert topics[1].decisions == ["Decidimos igualar o lifetime da fase dois nos dois lados."]
    assert topics[0].time_range.end <= topics[1].time_range.start
    assert all(t.evidence for t in topics)
    assert topics[0].title != topics[1].title
