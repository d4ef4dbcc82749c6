"""What `make run` writes into .env on a fresh machine (scripts/dev.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT
from push.config import check_subject, load_vapid_key


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "scripts" / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ENV_FILE", tmp_path / ".env")
    monkeypatch.delenv("VAPID_PRIVATE_KEY", raising=False)
    return module


def values(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_a_fresh_env_file_has_a_secret_the_local_assistant_and_a_vapid_key_pair(dev: ModuleType) -> None:
    dev.write_env_file()
    dev.add_vapid_key()

    env = values(dev.ENV_FILE)
    assert len(env["BETTER_AUTH_SECRET"]) >= 32
    assert env["LLM_PROVIDER"] == "LOCAL"
    load_vapid_key(env["VAPID_PRIVATE_KEY"])  # a P-256 key, as start-up reads it
    check_subject(env["VAPID_SUBJECT"])
    assert oct(dev.ENV_FILE.stat().st_mode & 0o777) == "0o600"


def test_a_key_is_added_once_and_never_over_one_given(
    dev: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev.ENV_FILE.write_text("BETTER_AUTH_SECRET=an-existing-secret-of-the-developer-0123456789\n")
    dev.add_vapid_key()
    first = dev.ENV_FILE.read_text()
    dev.add_vapid_key()

    assert dev.ENV_FILE.read_text() == first
    assert first.startswith("BETTER_AUTH_SECRET=an-existing-secret")

    given = dev.ENV_FILE.parent / "given.env"
    given.write_text("LLM_PROVIDER=LOCAL\n")
    monkeypatch.setattr(dev, "ENV_FILE", given)
    monkeypatch.setenv("VAPID_PRIVATE_KEY", "set-by-the-environment")
    dev.add_vapid_key()
    assert given.read_text() == "LLM_PROVIDER=LOCAL\n"
