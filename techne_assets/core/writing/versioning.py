"""The code version of what a writer produces, so Dagster marks `draft` and `document` stale
after a change to what the writer asks or how it decides.

A model writer's output is decided by its prompts (the prompt-building source, the system
prompt), its tool schemas, its name and the model id; the offline writer's by its rules and
word lists. The version is a short digest of exactly those, computed once at import by the
asset decorators: a change to a prompt or a lexicon file gives a new version, a change
elsewhere (logging, storage) does not.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from techne_assets.core.writing.base import ToolSpec

VERSION_CHARS = 12

# The modules whose source decides what each writer writes.
_MODEL_WRITER_MODULES = (
    "techne_assets.core.writing.prompts",
    "techne_assets.core.writing.extraction",
    "techne_assets.core.writing.sections",
    "techne_assets.core.writing.stages",
    "techne_assets.core.writing.budgets",
    "techne_assets.core.writing.review_edits",
    "techne_assets.core.writing.sources",
    "techne_assets.core.evidence",
)
_OFFLINE_WRITER_MODULES = ("techne_assets.core.writing.offline", "techne_assets.core.text_rules")
_TOOLS_MODULE = "techne_assets.core.writing.staged"
_LEXICON_DIR = Path(__file__).resolve().parents[2] / "lexicon"


def _module_sources(module: ModuleType) -> Iterable[str]:
    """A module's source, or every Python file of a package (a writer split into stages)."""
    if hasattr(module, "__path__"):
        for folder in module.__path__:
            for path in sorted(Path(folder).rglob("*.py")):
                yield path.read_text(encoding="utf-8")
    else:
        yield inspect.getsource(module)


def _tool_schemas() -> list[str]:
    """Every forced-tool schema the model writer declares, in a stable order."""
    tools = importlib.import_module(_TOOLS_MODULE)
    specs = [value for value in vars(tools).values() if isinstance(value, ToolSpec)]
    return sorted(spec.model_dump_json() for spec in specs)


def _lexicon_files() -> Iterable[str]:
    if _LEXICON_DIR.is_dir():
        for path in sorted(_LEXICON_DIR.rglob("*")):
            if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts:
                yield f"{path.relative_to(_LEXICON_DIR).as_posix()}\n{path.read_text(encoding='utf-8')}"


def writer_code_version(writer: str, model_id: str | None = None) -> str:
    """`offline` or `bedrock` (with its model id) → a short hex digest of what decides its output."""
    digest = hashlib.sha256()
    parts: list[str] = [writer]
    if writer == "offline":
        for name in _OFFLINE_WRITER_MODULES:
            parts.extend(_module_sources(importlib.import_module(name)))
        parts.extend(_lexicon_files())
    else:
        if not model_id:
            raise ValueError(f"the {writer} writer's code version needs its model id")
        parts.append(model_id)
        for name in _MODEL_WRITER_MODULES:
            parts.extend(_module_sources(importlib.import_module(name)))
        parts.extend(_tool_schemas())
    digest.update(json.dumps(parts, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:VERSION_CHARS]
