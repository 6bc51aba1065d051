"""The development calls in tests/data/dev/ are exactly what their scripts build."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "dev_call_scripts"
DEV = Path(__file__).parent / "data" / "dev"


def _builder():
    spec = importlib.util.spec_from_file_location("dev_call_build", SCRIPTS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.txt")), ids=lambda p: p.stem)
def test_a_dev_call_matches_its_script(script, tmp_path):
    built = _builder().build(script, tmp_path)
    assert built.read_bytes() == (DEV / built.name).read_bytes()
    assert (DEV / built.name.replace(built.suffix, ".gold.json")).is_file()


def test_every_dev_call_has_a_script():
    calls = {p.name for p in DEV.iterdir() if p.suffix in (".vtt", ".srt", ".json")}
    calls -= {p.name for p in DEV.glob("*.gold.json")}
    scripted = {_builder().read_script(p)[0]["output"] for p in SCRIPTS.glob("*.txt")}
    assert calls == scripted
