"""The Dockerfile, clause by clause against the image contract (no Docker engine needed)."""

import re
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from conftest import ROOT

CONTRACT_HEALTHCHECK = (
    "HEALTHCHECK --interval=30s --timeout=3s --start-period=40s --retries=3 \\\n"
    "  CMD python -c \"import urllib.request; urllib.request.urlopen('http://localhost:8001/health')\""
)
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|DATABASE_URL|CREDENTIAL", re.IGNORECASE)


@pytest.fixture(scope="module")
def dockerfile() -> list[dict]:
    """The Dockerfile's instructions, in order."""
    with (ROOT / "Dockerfile").open("rb") as file:
        return DockerfileParser(fileobj=file).structure


def instructions(dockerfile: list[dict], name: str) -> list[dict]:
    return [item for item in dockerfile if item["instruction"] == name]


def _final_start(dockerfile: list[dict]) -> int:
    return [index for index, item in enumerate(dockerfile) if item["instruction"] == "FROM"][-1]


def final_stage(dockerfile: list[dict]) -> list[dict]:
    return dockerfile[_final_start(dockerfile) :]


def runs(stage: list[dict]) -> str:
    """The RUN commands of some instructions, as one text."""
    return " ".join(item["value"] for item in stage if item["instruction"] == "RUN")


def builder_runs(dockerfile: list[dict]) -> str:
    return runs(dockerfile[: _final_start(dockerfile)])


def test_every_stage_is_python_3_13_alpine_and_there_are_at_least_two(dockerfile) -> None:
    stages = instructions(dockerfile, "FROM")

    assert len(stages) >= 2
    assert all(stage["value"].split()[0] == "python:3.13-alpine" for stage in stages)


def test_the_final_stage_runs_as_uid_1001(dockerfile) -> None:
    final = final_stage(dockerfile)
    users = [item["value"] for item in final if item["instruction"] == "USER"]
    final_runs = runs(final)

    assert users[-1] in ("1001", "1001:1001", "appuser", "appuser:appuser")
    assert re.search(r"addgroup .*-g 1001 appuser", final_runs)
    assert re.search(r"adduser .*-u 1001 -G appuser", final_runs)


def test_workdir_port_and_python_environment(dockerfile) -> None:
    final = final_stage(dockerfile)
    env = " ".join(item["value"] for item in final if item["instruction"] == "ENV")

    assert [item["value"] for item in final if item["instruction"] == "WORKDIR"][-1] == "/app"
    assert [item["value"] for item in final if item["instruction"] == "EXPOSE"] == ["8001"]
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env


def test_the_healthcheck_is_the_contracts_line(dockerfile) -> None:
    [healthcheck] = instructions(dockerfile, "HEALTHCHECK")
    text = (ROOT / "Dockerfile").read_text()

    assert CONTRACT_HEALTHCHECK in text
    for timing in ("--interval=30s", "--timeout=3s", "--start-period=40s", "--retries=3"):
        assert timing in healthcheck["value"]


def test_the_command_is_exec_form_and_starts_the_server(dockerfile) -> None:
    [cmd] = instructions(dockerfile, "CMD")

    assert cmd["value"].startswith("[")
    assert cmd["value"] == '["python", "-m", "todo_project.serve"]'
    assert not instructions(dockerfile, "ENTRYPOINT")


def test_no_env_or_arg_is_named_like_a_secret(dockerfile) -> None:
    for item in instructions(dockerfile, "ENV") + instructions(dockerfile, "ARG"):
        names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", item["value"]) or [item["value"].split()[0]]
        assert not [name for name in names if SECRET_NAME.search(name)], item["value"]


def test_dependencies_install_as_wheels_in_the_builder_and_static_files_are_collected(dockerfile) -> None:
    builder, final = builder_runs(dockerfile), runs(final_stage(dockerfile))

    assert "--only-binary=:all:" in builder
    # The one package built from source: pure Python (push's http-ece), no compiler needed.
    assert re.findall(r"--no-binary=(\S+)", builder) == ["http-ece"]
    assert "collectstatic" in builder
    assert "pip install" not in final
    assert "apk add" not in builder + final


def test_the_running_image_holds_no_pip(dockerfile) -> None:
    assert "/opt/venv/bin/pip uninstall --yes --quiet pip" in builder_runs(dockerfile)
    assert "python -m pip uninstall --yes --quiet pip" in runs(final_stage(dockerfile))
    env = " ".join(item["value"] for item in final_stage(dockerfile) if item["instruction"] == "ENV")
    assert 'FORWARDED_ALLOW_IPS=""' in env


def test_the_dockerignore_keeps_local_state_and_secrets_out() -> None:
    entries = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}

    assert {".git", ".env", ".venv", ".data", ".pytest_cache", ".ruff_cache", "**/__pycache__"} <= entries


def test_the_build_context_holds_what_the_image_runs() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    for needed in ("manage.py", "requirements.txt", "todo_project", "accounts", "tasks", "chat", "health"):
        assert needed not in ignored
        assert Path(ROOT / needed).exists()
