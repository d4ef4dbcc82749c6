from collections.abc import Iterator

import pytest

from chat.tests.fake_llm import FakeChatCompletions

GROQ_KEY = "gsk_test_key_0123456789abcdefghij"
OPENROUTER_KEY = "sk-or-v1-test-key-0123456789abcdef"


@pytest.fixture(params=["GROQ", "OPENROUTER"])
def provider(request: pytest.FixtureRequest, settings, fake_llm: FakeChatCompletions) -> str:
    """Each test runs against both providers, pointed at the fake server."""
    settings.LLM_PROVIDER = request.param
    settings.MAX_TOKENS = 321
    settings.TEMPERATURE = 0.3
    settings.LLM_TIMEOUT_SECONDS = 2.0
    if request.param == "GROQ":
        settings.GROQ_API_KEY = GROQ_KEY
        settings.GROQ_BASE_URL = fake_llm.url
        settings.GROQ_MODEL = "groq-test-model"
    else:
        settings.OPENROUTER_API_KEY = OPENROUTER_KEY
        settings.OPENROUTER_BASE_URL = f"{fake_llm.url}/api/v1"
        settings.OPENROUTER_MODEL = "openrouter-test-model"
    return request.param


@pytest.fixture
def provider_key(provider: str) -> str:
    return GROQ_KEY if provider == "GROQ" else OPENROUTER_KEY


@pytest.fixture(scope="session")
def stand_in() -> Iterator[FakeChatCompletions]:
    """One provider stand-in for the session, so that live servers pointed at it are shared."""
    with FakeChatCompletions() as fake:
        yield fake


@pytest.fixture
def fake(stand_in: FakeChatCompletions) -> FakeChatCompletions:
    stand_in.answers.clear()
    stand_in.received.clear()
    stand_in.chunk_times.clear()
    stand_in.abandoned = 0
    return stand_in


def provider_settings(provider: str, fake: FakeChatCompletions) -> dict[str, str]:
    if provider == "GROQ":
        return {"LLM_PROVIDER": "GROQ", "GROQ_API_KEY": GROQ_KEY, "GROQ_BASE_URL": fake.url}
    if provider == "OPENROUTER":
        return {
            "LLM_PROVIDER": "OPENROUTER",
            "OPENROUTER_API_KEY": OPENROUTER_KEY,
            "OPENROUTER_BASE_URL": f"{fake.url}/api/v1",
        }
    return {"LLM_PROVIDER": "LOCAL"}
