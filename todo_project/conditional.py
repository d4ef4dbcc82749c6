"""HTTP conditional requests on a task's version (RFC 9110 section 13): its
ETag is the version in quotes, "3"."""

from __future__ import annotations

import re
from collections.abc import Iterator

from todo_project.patterns import pattern

# A strong entity tag of a version: "3". Weak tags (W/"3") and anything else
# never match an If-Match, which compares strongly.
_STRONG_VERSION = pattern(r'^"([0-9]{1,10})"$')
_WEAK_VERSION = pattern(r'^(?:W/)?"([0-9]{1,10})"$')


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(header: str | None) -> frozenset[int] | None:
    """The versions an If-Match accepts; None when any version will do (no
    header, or `*`). A tag that is not a version's accepts nothing."""
    if header is None or header.strip() == "*":
        return None
    return frozenset(_versions(header, _STRONG_VERSION))


def none_match(header: str | None, version: int) -> bool:
    """Whether a GET's If-None-Match names the version (weakly compared, as
    RFC 9110 says for If-None-Match), or is `*`."""
    if header is None:
        return False
    return header.strip() == "*" or version in _versions(header, _WEAK_VERSION)


def _versions(header: str, tag: re.Pattern[str]) -> Iterator[int]:
    for part in header.split(","):
        match = tag.match(part.strip())
        if match:
            yield int(match[1])
