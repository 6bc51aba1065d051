"""`code_version` of `draft` and `document` follows what decides the writer's output."""

import dagster as dg

from techne_assets.core.writing import staged
from techne_assets.core.writing.base import ToolSpec
from techne_assets.core.writing.versioning import writer_code_version
from techne_assets.definitions import defs as load_defs
from techne_assets.settings import get_settings

MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def test_the_assets_carry_the_writers_code_version():
    settings = get_settings()
    expected = writer_code_version(settings.writer, settings.bedrock_model_id)
    graph = load_defs().resolve_asset_graph()
    for asset in ("draft", "document"):
        assert graph.get(dg.AssetKey(asset)).code_version == expected != "1"


def test_writer_name_and_model_id_change_the_version():
    bedrock = writer_code_version("bedrock", MODEL)
    assert bedrock == writer_code_version("bedrock", MODEL)  # stable across calls
    assert writer_code_version("bedrock", "anthropic.claude-sonnet-4-5-v1:0") != bedrock
    assert writer_code_version("offline") != bedrock


def test_a_tool_schema_change_changes_the_version(monkeypatch):
    before = writer_code_version("bedrock", MODEL)
    changed = staged.EXTRACTION_TOOL.model_copy(update={"input_schema": {"type": "object"}})
    monkeypatch.setattr(staged, "EXTRACTION_TOOL", changed)
    assert isinstance(changed, ToolSpec)
    assert writer_code_version("bedrock", MODEL) != before
    # The offline writer does not use the model's tools.
    monkeypatch.undo()
    offline = writer_code_version("offline")
    monkeypatch.setattr(staged, "EXTRACTION_TOOL", changed)
    assert writer_code_version("offline") == offline
