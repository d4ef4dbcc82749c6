"""The chat-completion providers: the only module that talks to an LLM.

Both speak the OpenAI chat-completions protocol with tools: GROQ through the
official groq SDK, OPENROUTER over plain HTTPS with httpx. They return plain
dataclasses, never SDK objects, and raise ProviderError; every call has a
timeout and the SDK's own retries are off (chat.agent retries within the
request's time budget). No error text from a provider is ever passed on: it
may echo the request or the key.

complete() is the blocking call of the JSON answer; stream() is the streamed
answer's, on the event loop (`stream: true`): it yields the text as the model
writes it, then one Completion with the whole text and the tool calls put
together from their deltas. Its timeout bounds the wait for each chunk, not
the whole answer; leaving the iteration early (a client gone) closes the
provider's response.

One HTTP client per provider and base URL lives as long as the process (the
async ones: as long as their event loop), so consecutive calls reuse a
kept-alive connection (and its TLS session) instead of opening a new one each
time; close_clients() ends them at shutdown."""

from __future__ import annotations

import asyncio
import functools
import json
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import groq
import httpx
import httpx_aiohttp
from django.conf import settings


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class Completion:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)


class ProviderError(Exception):
    """A failed call. `retryable` for timeouts, 429, 5xx and Groq's
    intermittent 400 tool_use_failed; `reason` is safe to log."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class ChatProvider(Protocol):
    name: str

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *, timeout: float
    ) -> Completion: ...

    def stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *, timeout: float
    ) -> AsyncIterator[str | Completion]: ...


def _request_options() -> dict[str, Any]:
    return {"max_tokens": settings.MAX_TOKENS, "temperature": settings.TEMPERATURE}


def _status_error(status: int, code: str | None) -> ProviderError:
    retryable = status == 429 or status >= 500 or (status == 400 and code == "tool_use_failed")
    reason = f"HTTP {status}" + (f" {code}" if code else "")
    return ProviderError(reason, retryable=retryable)


def _completion(message: dict[str, Any]) -> Completion:
    calls = [
        ToolCall(
            id=str(call.get("id") or ""),
            name=str((call.get("function") or {}).get("name") or ""),
            arguments=str((call.get("function") or {}).get("arguments") or "{}"),
        )
        for call in message.get("tool_calls") or []
    ]
    return Completion(content=message.get("content") or "", tool_calls=calls)


@functools.cache
def _groq_client(base_url: str, api_key: str) -> groq.Groq:
    return groq.Groq(api_key=api_key, base_url=base_url, max_retries=0)


@functools.cache
def _http_client() -> httpx.Client:
    return httpx.Client()


STREAMING_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
# The streaming clients, per event loop: a connection belongs to the loop that opened it.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Any]] = (
    weakref.WeakKeyDictionary()
)


def _async_client(kind: str, *key: str) -> Any:
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get((kind, *key))
    if client is None:
        if kind == "groq":
            base_url, api_key = key
            client = groq.AsyncGroq(
                api_key=api_key,
                base_url=base_url,
                max_retries=0,
                http_client=groq.DefaultAioHttpClient(limits=STREAMING_LIMITS),
            )
        else:
            # As many kept-alive connections as streams at once (the groq SDK's own limits).
            client = httpx_aiohttp.HttpxAiohttpClient(limits=STREAMING_LIMITS)
        clients[(kind, *key)] = client
    return client


def close_clients() -> None:
    """Close the kept-alive provider connections (the process is stopping;
    the streaming clients' connections end with their event loop)."""
    if _http_client.cache_info().currsize:
        _http_client().close()
    _http_client.cache_clear()
    _groq_client.cache_clear()
    _async_clients.clear()


async def close_async_clients() -> None:
    """Close this event loop's streaming clients (its server is stopping)."""
    for client in (_async_clients.pop(asyncio.get_running_loop(), None) or {}).values():
        await client.close()


class GroqProvider:
    name = "GROQ"

    def __init__(self) -> None:
        # The SDK appends /openai/v1/chat/completions itself.
        self.base_url = settings.GROQ_BASE_URL.rstrip("/").removesuffix("/openai/v1")

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *, timeout: float
    ) -> Completion:
        client = _groq_client(self.base_url, settings.GROQ_API_KEY)
        try:
            response = client.chat.completions.create(
                model=settings.GROQ_MODEL,
                messages=messages,  # type: ignore[arg-type]
                tools=tools,  # type: ignore[arg-type]
                tool_choice="auto",
                timeout=timeout,
                **_request_options(),
            )
        except groq.APITimeoutError:
            raise ProviderError("timeout", retryable=True) from None
        except groq.APIConnectionError:
            raise ProviderError("connection failed", retryable=True) from None
        except groq.APIStatusError as exc:
            raise _status_error(exc.status_code, _error_code(exc.body)) from None
        try:
            message = response.choices[0].message.model_dump(exclude_none=True)
        except (IndexError, AttributeError):
            raise ProviderError("malformed response", retryable=True) from None
        return _completion(message)

    async def stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *, timeout: float
    ) -> AsyncIterator[str | Completion]:
        client = _async_client("groq", self.base_url, settings.GROQ_API_KEY)
        # The SDK sends the request and raises its errors; the events are read
        # from its raw response (its own stream builds a model per chunk: twice
        # the relay's CPU).
        request = client.chat.completions.with_streaming_response.create(
            model=settings.GROQ_MODEL,
            messages=messages,  # type: ignore[arg-type]
            tools=tools,  # type: ignore[arg-type]
            tool_choice="auto",
            stream=True,
            timeout=timeout,
            **_request_options(),
        )
        try:
            async with asyncio.timeout(timeout) as waiting:
                async with request as response:
                    async for piece in _relay(response.http_response, waiting, timeout):
                        yield piece
        except TimeoutError:
            raise ProviderError("timeout", retryable=True) from None
        except groq.APITimeoutError:
            raise ProviderError("timeout", retryable=True) from None
        except groq.APIConnectionError:
            raise ProviderError("connection failed", retryable=True) from None
        except groq.APIStatusError as exc:
            raise _status_error(exc.status_code, _error_code(exc.body)) from None
        except httpx.HTTPError:
            raise ProviderError("connection failed", retryable=True) from None


class OpenRouterProvider:
    name = "OPENROUTER"

    def __init__(self) -> None:
        self.url = f"{settings.OPENROUTER_BASE_URL.rstrip('/')}/chat/completions"
        self.headers = {"Authorization": f"Bearer {settings.OPENROUTER_API_KEY}"}

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *, timeout: float
    ) -> Completion:
        body = {
            "model": settings.OPENROUTER_MODEL,
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
            **_request_options(),
        }
        try:
            response = _http_client().post(self.url, json=body, headers=self.headers, timeout=timeout)
        except httpx.TimeoutException:
            raise ProviderError("timeout", retryable=True) from None
        except httpx.HTTPError:
            raise ProviderError("connection failed", retryable=True) from None
        if response.status_code != 200:
            raise _status_error(response.status_code, _error_code(_json_or_none(response)))
        try:
            return _completion(response.json()["choices"][0]["message"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderError("malformed response", retryable=True) from None

    async def stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *, timeout: float
    ) -> AsyncIterator[str | Completion]:
        body = {
            "model": settings.OPENROUTER_MODEL,
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
            "stream": True,
            **_request_options(),
        }
        client: httpx.AsyncClient = _async_client("http")
        request = client.build_request("POST", self.url, json=body, headers=self.headers, timeout=timeout)
        try:
            async with asyncio.timeout(timeout) as waiting:
                response = await client.send(request, stream=True)
                try:
                    if response.status_code != 200:
                        await response.aread()
                        raise _status_error(response.status_code, _error_code(_json_or_none(response)))
                    async for piece in _relay(response, waiting, timeout):
                        yield piece
                finally:
                    await response.aclose()
        except TimeoutError:
            raise ProviderError("timeout", retryable=True) from None
        except httpx.TimeoutException:
            raise ProviderError("timeout", retryable=True) from None
        except httpx.HTTPError:
            raise ProviderError("connection failed", retryable=True) from None


async def _relay(
    response: httpx.Response, waiting: asyncio.Timeout, timeout: float
) -> AsyncIterator[str | Completion]:
    """A chat-completions event stream read off the wire: the text as it
    comes, then the Completion. Each event that carries data moves the
    deadline `timeout` seconds on (keep-alive comments do not); a stream
    that ends without [DONE] was cut."""
    loop = asyncio.get_running_loop()
    assembly = _Assembly()
    buffered = b""
    async for data in response.aiter_raw():
        buffered += data.replace(b"\r", b"")
        *events, buffered = buffered.split(b"\n\n")
        for event in events:
            payload = _data_of(event)
            if payload is None:
                continue
            if payload == b"[DONE]":
                waiting.reschedule(None)
                yield assembly.completion()
                return
            text = assembly.add(payload)
            if text:
                # The deadline is off while the caller has the text (a slow
                # client is not a slow provider), and starts again after.
                waiting.reschedule(None)
                yield text
            waiting.reschedule(loop.time() + timeout)
    raise ProviderError("stream cut", retryable=True)


def _data_of(event: bytes) -> bytes | None:
    """A server-sent event's data (the providers send one line of it), or
    None for a comment."""
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            return line[5:].strip()
    return None


class _Assembly:
    """A streamed answer put together: its text, and its tool calls from
    deltas that carry an index, the id and name once, the arguments in pieces."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.calls: dict[int, list[Any]] = {}

    def add(self, payload: bytes) -> str:
        """One chat.completion.chunk event; the text it adds."""
        try:
            event = json.loads(payload)
            if event.get("error"):
                raise ProviderError(f"stream error {_error_code(event) or ''}".strip(), retryable=True)
            text = ""
            for choice in event["choices"][:1]:
                delta = choice.get("delta") or {}
                text = delta.get("content") or ""
                for call in delta.get("tool_calls") or ():
                    function = call.get("function") or {}
                    self.add_call(
                        call["index"], call.get("id"), function.get("name"), function.get("arguments")
                    )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError("malformed stream", retryable=True) from None
        if text:
            self.content.append(text)
        return text

    def add_call(self, index: int, call_id: str | None, name: str | None, arguments: str | None) -> None:
        call = self.calls.setdefault(int(index), ["", "", []])
        if call_id:
            call[0] = call_id
        if name:
            call[1] += name
        if arguments:
            call[2].append(arguments)

    def completion(self) -> Completion:
        calls = [
            ToolCall(id=call_id or f"call_{index}", name=name, arguments="".join(arguments) or "{}")
            for index, (call_id, name, arguments) in sorted(self.calls.items())
        ]
        return Completion(content="".join(self.content), tool_calls=calls)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_code(body: Any) -> str | None:
    """The provider's machine-readable error code (e.g. tool_use_failed), if any."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return error["code"][:40]
    return None


def get_provider() -> ChatProvider | None:
    """The configured provider, or None for the built-in LOCAL agent."""
    if settings.LLM_PROVIDER == "GROQ":
        return GroqProvider()
    if settings.LLM_PROVIDER == "OPENROUTER":
        return OpenRouterProvider()
    return None


def parse_arguments(text: str) -> dict[str, Any] | None:
    """A tool call's arguments as a dict, or None when they are not a JSON object."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
