"""Schemathesis checks of our own, loaded by the fuzzing test through
SCHEMATHESIS_HOOKS: no answer to alice may carry another user's data."""

import os

import schemathesis

# One marker per line: bob's id, email and task titles.
FORBIDDEN = [line for line in os.environ.get("FUZZ_FORBIDDEN_TEXT", "").splitlines() if line]


@schemathesis.check
def never_shows_another_users_data(ctx, response, case) -> None:
    text = response.text
    leaked = [marker for marker in FORBIDDEN if marker in text]
    if leaked:
        raise AssertionError(f"The answer carries another user's data: {leaked}")
