"""Start-up refuses a bad environment with one line naming the variable."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from conftest import ROOT, START_GUARD_SECONDS, server_environment


def run_manage(tmp_path: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    # The working directory has no .env, so only the given environment counts.
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=tmp_path,
        env=server_environment(PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=START_GUARD_SECONDS,
    )


BAD_ENVIRONMENTS = [
    ("BETTER_AUTH_SECRET", {"BETTER_AUTH_SECRET": None}),
    ("BETTER_AUTH_SECRET", {"BETTER_AUTH_SECRET": "too-short"}),
    ("BETTER_AUTH_SECRET_PREVIOUS", {"BETTER_AUTH_SECRET_PREVIOUS": "too-short"}),
    ("DJANGO_SECRET_KEY", {"DJANGO_SECRET_KEY": "too-short"}),
    ("DJANGO_SECRET_KEY_PREVIOUS", {"DJANGO_SECRET_KEY_PREVIOUS": "too-short"}),
    ("AUTH_FAILURE_LIMIT", {"AUTH_FAILURE_LIMIT": "often"}),
    ("ADMIN_ENABLED", {"ADMIN_ENABLED": "perhaps"}),
    ("DATABASE_URL", {"DATABASE_URL": None}),
    ("DATABASE_URL", {"DATABASE_URL": "mysql://root@localhost/todo"}),
    ("DATABASE_URL", {"DATABASE_URL": "postgresql://postgres@localhost:5432"}),
    ("FRONTEND_URL", {"FRONTEND_URL": None}),
    ("FRONTEND_URL", {"FRONTEND_URL": "localhost:3000"}),
    ("FRONTEND_URL", {"FRONTEND_URL": "*"}),
    ("FRONTEND_URL", {"FRONTEND_URL": "http://localhost:3000,*"}),
    ("TEMPERATURE", {"TEMPERATURE": "abc"}),
    ("TEMPERATURE", {"TEMPERATURE": "5"}),
    ("MAX_TOKENS", {"MAX_TOKENS": "-1"}),
    ("LLM_PROVIDER", {"LLM_PROVIDER": "FOO"}),
    ("GROQ_API_KEY", {"LLM_PROVIDER": "GROQ", "GROQ_API_KEY": None}),
    ("OPENROUTER_API_KEY", {"LLM_PROVIDER": "OPENROUTER", "OPENROUTER_API_KEY": None}),
    ("JWT_ALGORITHM", {"JWT_ALGORITHM": "none"}),
    ("JWT_ALGORITHM", {"JWT_ALGORITHM": "RS256"}),
    ("JWT_EXPIRATION_DAYS", {"JWT_EXPIRATION_DAYS": "seven"}),
    ("DB_POOL_MAX", {"DB_POOL_MIN": "10", "DB_POOL_MAX": "5"}),
    ("DB_POOL_TIMEOUT", {"DB_POOL_TIMEOUT": "soon"}),
    ("LOG_LEVEL", {"LOG_LEVEL": "LOUD"}),
    ("LOG_FORMAT", {"LOG_FORMAT": "xml"}),
    ("DEBUG", {"DEBUG": "maybe"}),
    ("PORT", {"PORT": "70000"}),
    ("AUTH_RATE_LIMIT", {"AUTH_RATE_LIMIT": "lots"}),
    ("GROQ_BASE_URL", {"GROQ_BASE_URL": "api.groq.com"}),
    ("VAPID_PRIVATE_KEY", {"VAPID_PRIVATE_KEY": "not-a-key", "VAPID_SUBJECT": "mailto:ops@example.com"}),
    # A key of another curve (P-384), as PEM with its newlines written \\n.
    (
        "VAPID_PRIVATE_KEY",
        {
            "VAPID_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----"
            "\\nMIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDD72W61pJI4MJUBPBhG"
            "\\nW+rSLgFgJjJOTZMy7ca3H4jJkGjsKAL/1y7z9IEOWCJwP5ehZANiAATAyeVEOPlO"
            "\\n53il9N2rGhi7ZoUxmNd+9FNrTjF3nbfcKmtd+9XbqPXs1bXYkMS9qjHD18MYtq3/"
            "\\ns9RUzXt3/aGl3jxAaC5L/JHqiMz5NLL0uzkOfdz/Rs9BiWm1Il2s7VM=\\n-----END PRIVATE KEY-----",
            "VAPID_SUBJECT": "mailto:ops@example.com",
        },
    ),
    ("VAPID_SUBJECT", {"VAPID_PRIVATE_KEY": "6SX7Hmy4v8SOzXsOrUUtyU6BhVDyLiuLqP8ocPd1AJI"}),
    (
        "VAPID_SUBJECT",
        {"VAPID_PRIVATE_KEY": "6SX7Hmy4v8SOzXsOrUUtyU6BhVDyLiuLqP8ocPd1AJI", "VAPID_SUBJECT": "ops"},
    ),
    ("WEB_PUSH_ALLOWED_HOSTS", {"WEB_PUSH_ALLOWED_HOSTS": "https://push.example.com/path"}),
    ("WEB_PUSH_ALLOWED_HOSTS", {"WEB_PUSH_ALLOWED_HOSTS": "push.example.com:8443"}),
    ("WEB_PUSH_ALLOWED_HOSTS", {"WEB_PUSH_ALLOWED_HOSTS": "ftp://push.example.com"}),
]


@pytest.mark.parametrize(
    ("variable", "env"), BAD_ENVIRONMENTS, ids=[f"{v}-{i}" for i, (v, _) in enumerate(BAD_ENVIRONMENTS)]
)
def test_start_up_stops_with_one_line_naming_the_variable(tmp_path: Path, variable: str, env: dict) -> None:
    result = run_manage(tmp_path, "check", **env)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ")
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_the_asgi_application_refuses_a_bad_environment_the_same_way(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import todo_project.asgi"],
        cwd=tmp_path,
        env=server_environment(PYTHONPATH=str(ROOT), BETTER_AUTH_SECRET=None),
        capture_output=True,
        text=True,
        timeout=START_GUARD_SECONDS,
    )

    assert result.returncode != 0
    assert result.stderr.strip() == "Configuration error: BETTER_AUTH_SECRET is required but not set."


def test_a_dotenv_file_in_the_working_directory_fills_in_missing_variables(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "BETTER_AUTH_SECRET=a-secret-from-the-dotenv-file-0123456789\nLOG_LEVEL=debug\n"
    )

    result = run_manage(
        tmp_path,
        "shell",
        "-v0",
        "-c",
        "from django.conf import settings; print(settings.BETTER_AUTH_SECRET, settings.LOG_LEVEL)",
        BETTER_AUTH_SECRET=None,
        LOG_LEVEL="WARNING",
    )

    assert result.returncode == 0, result.stderr
    # .env filled the missing secret; the environment kept its LOG_LEVEL.
    assert result.stdout.split() == ["a-secret-from-the-dotenv-file-0123456789", "WARNING"]


def test_defaults_debug_off_and_a_derived_secret_key(tmp_path: Path) -> None:
    script = (
        "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY, settings.LLM_PROVIDER)"
    )

    derived = run_manage(tmp_path, "shell", "-v0", "-c", script, DEBUG=None, DJANGO_SECRET_KEY=None)
    again = run_manage(tmp_path, "shell", "-v0", "-c", script, DEBUG=None, DJANGO_SECRET_KEY=None)
    explicit_key = "an-explicit-django-secret-key-of-forty-chars"
    given = run_manage(tmp_path, "shell", "-v0", "-c", script, DJANGO_SECRET_KEY=explicit_key)

    debug, secret_key, provider = derived.stdout.split()
    assert debug == "False"
    assert len(secret_key) == 64
    assert secret_key != settings.BETTER_AUTH_SECRET
    assert again.stdout == derived.stdout
    assert given.stdout.split()[1] == explicit_key
    assert provider == "LOCAL"


def test_llm_provider_is_read_case_insensitively(tmp_path: Path) -> None:
    result = run_manage(
        tmp_path,
        "shell",
        "-v0",
        "-c",
        "from django.conf import settings; print(settings.LLM_PROVIDER)",
        LLM_PROVIDER="groq",
        GROQ_API_KEY="gsk_test_key_for_configuration_only",
    )

    assert result.stdout.strip() == "GROQ"


def test_the_previous_django_secret_key_still_verifies(tmp_path: Path) -> None:
    script = "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"
    previous = "the-previous-django-secret-key-of-forty-chars"

    result = run_manage(
        tmp_path,
        "shell",
        "-v0",
        "-c",
        script,
        DJANGO_SECRET_KEY="the-current-django-secret-key-of-forty-chars",
        DJANGO_SECRET_KEY_PREVIOUS=previous,
    )

    assert result.stdout.strip() == f"['{previous}']"
