"""The offline writer: a deterministic document from the transcript alone, in named stages.

No model and no network. Every sentence in the document is a sentence of the call (commands,
paths, config keys and URLs quoted in backticks) or a fixed pt-BR phrase around it, so nothing
technical is invented. The stages run in order, each a module of this package:

analysis (turns, sentences, lemmas, language) → roles → topics → procedures → troubleshooting
→ questions → commitments → references → glossary → summary.

Every stage is linear (or close to it) in the transcript's length.
"""

from __future__ import annotations

from techne_assets.core.writing.offline.writer import WRITER_NAME, OfflineWriter

__all__ = ["WRITER_NAME", "OfflineWriter"]
