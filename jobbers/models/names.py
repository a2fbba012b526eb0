"""Validation of the names and ids that become parts of Redis keys.

Queue, role and task names are embedded in key names, so they are restricted to a safe
charset and a bounded length: no input can reach another key or grow a key without limit.
Task ids are ULIDs, taken in any spelling and stored in one.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from ulid import ULID

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)
# Crockford base32 reads I and L as 1 and O as 0, in either case.
_CROCKFORD_ALIASES = str.maketrans("ILOilo", "110110")


def check_name(value: str) -> str:
    """Return ``value`` if it is a valid name, else raise ValueError saying what is allowed."""
    if not _NAME_RE.fullmatch(value):
        raise ValueError(
            f"invalid name {value!r}: use 1-64 characters from A-Z a-z 0-9 _ . -, "
            "starting with a letter or digit"
        )
    return value


Name = Annotated[str, AfterValidator(check_name)]


def canonical_ulid(value: str) -> str:
    """The canonical (upper-case) spelling of a ULID, so every spelling finds the same task."""
    if len(value) != 26:
        raise ValueError(f"{value!r} is not a ULID: expected 26 Crockford base32 characters")
    try:
        return str(ULID.from_str(value.translate(_CROCKFORD_ALIASES).upper()))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a ULID: expected 26 Crockford base32 characters, the first 0-7"
        ) from None
