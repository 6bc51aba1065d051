"""Analysis stage: turns across caption cuts, sentences with their segments, lemmas, language."""

from __future__ import annotations

from offline_support import analysis_of

from techne_assets.core.writing.offline.analysis import lemma, word_lists_for


def test_a_sentence_cut_across_captions_is_one_sentence_with_both_segments_as_evidence():
    analysis = analysis_of(
        [
            ("Carla", "Só vou fechar a janela aqui que tem obra do"),
            ("Carla", "lado. O pod reiniciou três vezes."),
            ("Rui", "Vi aqui também."),
        ]
    )
    texts = [s.text for s in analysis.sentences]
    assert texts[0] == "Só vou fechar a janela aqui que tem obra do lado."
    assert analysis.sentences[0].evidence == ["s0000", "s0001"]
    assert analysis.sentences[1].evidence == ["s0001"]
    # Two speakers are never one turn.
    assert [t.speaker for t in analysis.turns] == ["Carla", "Rui"]


def test_lemmas_join_inflected_forms_and_leave_technical_terms_alone():
    assert lemma("configurações", "pt") == lemma("configuração", "pt")
    assert lemma("limites", "pt") == "limite"
    assert lemma("PgBouncer", "pt") == "pgbouncer"
    assert lemma("servers", "en") == "server"


def test_spoken_technical_forms_are_written_out_before_fragments_are_found():
    analysis = analysis_of([("Ana", "Agora roda ls traço la barra etc barra nginx e confere.")])
    (sentence,) = analysis.sentences
    assert "ls -la /etc/nginx" in sentence.text
    assert sentence.has_command


def test_an_english_call_reads_the_english_word_lists():
    analysis = analysis_of(
        [
            ("Priya", "Thanks everyone for joining, this is the review of the cache outage."),
            ("Kenji", "The eviction rate went up and the checkout latency followed it."),
        ],
        language=None,
    )
    assert analysis.language == "en" and analysis.lang == "en"
    assert "the" in analysis.stopwords
    assert word_lists_for("pt-BR") == "pt" and word_lists_for("es") == "pt"
