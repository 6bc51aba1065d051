"""Configuration: every setting is a documented TECHNE_* variable; profiles pick their defaults."""

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from techne_assets.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _variable(name: str, field) -> str:
    """The environment variable of a setting: TECHNE_<NAME>, or its alias (AWS_REGION)."""
    alias = field.validation_alias
    return alias.choices[0] if alias is not None else f"TECHNE_{name.upper()}"


def test_every_setting_is_documented_in_the_readme():
    documented = set(re.findall(r"`((?:TECHNE|AWS)_[A-Z0-9_]+)`", README))
    expected = {_variable(name, field) for name, field in Settings.model_fields.items()}
    assert expected - documented == set()
    techne = {v for v in documented if v.startswith("TECHNE_")}
    assert techne - expected == set(), "README documents settings that do not exist"


def test_profiles_choose_their_transcriber_and_writer(monkeypatch):
    assert (Settings().transcriber, Settings().writer) == ("auto", "offline")
    monkeypatch.setenv("TECHNE_PROFILE", "aws")
    assert (Settings().transcriber, Settings().writer) == ("transcribe", "bedrock")
    monkeypatch.setenv("TECHNE_WRITER", "offline")
    assert Settings().writer == "offline"


def test_structured_settings_come_from_json(monkeypatch):
    monkeypatch.setenv("TECHNE_MODEL_PRICES", '{"m": {"input": 1, "output": 5, "cache_write": 1.25, "cache_read": 0.1}}')
    monkeypatch.setenv("TECHNE_VIDEO_EXTENSIONS", '["mp4", "mkv"]')
    settings = Settings()
    assert settings.price_for("m").output == 5
    assert settings.video_extensions == ["mp4", "mkv"]
    with pytest.raises(KeyError, match="TECHNE_MODEL_PRICES"):
        settings.price_for("desconhecido")


def test_invalid_values_are_rejected_with_the_setting_name(monkeypatch):
    monkeypatch.setenv("TECHNE_PROFILE", "azure")
    with pytest.raises(ValidationError, match="profile"):
        Settings()


def test_batch_price_defaults_to_half_the_on_demand_price_and_can_be_set(monkeypatch):
    settings = Settings()
    on_demand = settings.price_for(settings.bedrock_model_id)
    batch = settings.batch_price_for(settings.bedrock_model_id)
    assert (batch.input, batch.output) == (on_demand.input / 2, on_demand.output / 2)
    price = {"input": 1.0, "output": 6.0, "cache_write": 1.0, "cache_read": 1.0}
    monkeypatch.setenv("TECHNE_BATCH_PRICES", json.dumps({settings.bedrock_model_id: price}))
    assert Settings().batch_price_for(settings.bedrock_model_id).output == 6.0
    with pytest.raises(KeyError, match="no price configured"):
        Settings().batch_price_for("vendor.unpriced-model-v1")
