"""Shared fixtures: the tests' data folder, and moto's standalone server over real HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from techne_assets.settings import get_settings
from techne_assets.testing.moto_server import reset_moto, running_moto_server

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def moto_server():
    """moto's standalone server in its own process; yields its endpoint URL."""
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(moto_server, monkeypatch):
    """Points boto3 (through its standard AWS_ENDPOINT_URL setting) at a freshly reset moto server."""
    reset_moto(moto_server)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No test reads the developer's TECHNE_* settings or AWS credentials files."""
    for name in list(os.environ):
        if name.startswith("TECHNE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
