"""Validation of the names that become parts of Redis keys.

Queue, role and task names are embedded in key names, so they are restricted to a safe
charset and a bounded length: no input can reach another key or grow a key without limit.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)


def check_name(value: str) -> str:
    """Return ``value`` if it is a valid name, else raise ValueError saying what is allowed."""
    if not _NAME_RE.fullmatch(value):
        raise ValueError(
            f"invalid name {value!r}: use 1-64 characters from A-Z a-z 0-9 _ . -, "
            "starting with a letter or digit"
        )
    return value


Name = Annotated[str, AfterValidator(check_name)]
