"""Schemathesis checks of our own, loaded by the fuzzing test through
SCHEMATHESIS_HOOKS: no answer to alice may carry another user's data, and no
request may cost the server more than REQUEST_BUDGET_SECONDS of CPU (SPEC.md
section 1), sign-up and sign-in aside (password hashing).

The CPU is the server process's own, read from /proc before and after each
request (schemathesis sends one at a time): time the server spent working,
which a busy machine does not inflate. /proc counts in clock ticks (10 ms),
so a request may show one tick more than it took. The first request of each
operation is not counted: it pays for what the process imports and builds
once (a serializer, the assistant's patterns)."""

import os
from pathlib import Path

import schemathesis

# One marker per line: bob's id, email and task titles.
FORBIDDEN = [line for line in os.environ.get("FUZZ_FORBIDDEN_TEXT", "").splitlines() if line]
SERVER_STAT = Path(f"/proc/{os.environ.get('FUZZ_SERVER_PID', 'self')}/stat")
REQUEST_BUDGET_SECONDS = 0.1
TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")
PASSWORD_HASHING = {"/api/auth/signup", "/api/auth/signin"}

_cpu_before_call = 0.0
_operations_seen: set[str] = set()


def server_cpu_seconds() -> float:
    # utime and stime: the 14th and 15th fields, the 12th and 13th after the ")" ending the name.
    fields = SERVER_STAT.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * TICK_SECONDS


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:
    global _cpu_before_call  # one request at a time: the hooks' shared state
    _cpu_before_call = server_cpu_seconds()


@schemathesis.check
def never_shows_another_users_data(ctx, response, case) -> None:
    text = response.text
    leaked = [marker for marker in FORBIDDEN if marker in text]
    if leaked:
        raise AssertionError(f"The answer carries another user's data: {leaked}")


@schemathesis.check
def stays_within_its_cpu_budget(ctx, response, case) -> None:
    spent = server_cpu_seconds() - _cpu_before_call
    operation = f"{case.method} {case.path}"
    first = operation not in _operations_seen
    _operations_seen.add(operation)
    if first or case.path.replace("/api/v1/", "/api/", 1) in PASSWORD_HASHING:
        return
    if spent > REQUEST_BUDGET_SECONDS + TICK_SECONDS:
        raise AssertionError(f"The request cost the server {spent * 1000:.0f} ms of CPU")
