"""The language a call was spoken in.

A transcript's own language code (Amazon Transcribe's, or a speech model's) wins when present;
otherwise `py3langid` classifies the text. The detector is limited to the languages technical
calls at a Brazilian company are held in, so that English technical words inside pt-BR speech
do not tip a short sample into an unrelated language. Codes are "pt-BR" for Portuguese spoken in
Brazil and the ISO 639-1 code otherwise ("en", "es").
"""

from __future__ import annotations

from functools import cache

PT_BR = "pt-BR"
# Languages the detector chooses among.
CANDIDATE_LANGUAGES = ("pt", "en", "es", "fr", "it", "de")
# Classifying more text than this adds time, not accuracy.
_SAMPLE_CHARS = 20_000


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(CANDIDATE_LANGUAGES))
    return identifier


def normalize_language_code(code: str) -> str:
    """ "pt", "pt-BR", "pt_BR" → "pt-BR"; "pt-PT" kept; others → their ISO 639-1 part ("en-US" → "en")."""
    base, _, region = code.strip().replace("_", "-").partition("-")
    base = base.lower()
    if base == "pt":
        return PT_BR if region.upper() in ("", "BR") else f"pt-{region.upper()}"
    return base


def detect_language(text: str, hint: str | None = None) -> str:
    """The language code of `text`; `hint` (a transcript's language code) wins when given.

    Text with no letters is taken to be pt-BR, the platform's default language.
    """
    if hint and hint.strip():
        return normalize_language_code(hint)
    sample = text[:_SAMPLE_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return PT_BR
    language, _ = _identifier().classify(sample)
    return normalize_language_code(language)


def is_pt_br(code: str | None) -> bool:
    """Whether a language code is Brazilian Portuguese (None, the unknown language, is not)."""
    return code is not None and normalize_language_code(code) == PT_BR
