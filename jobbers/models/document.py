"""The JSON documents a task carries (parameters, results): what may be stored, and reading back.

Python's JSON parser accepts text that cannot be sent back out: a lone surrogate such as
``"\\ud800"`` is a ``str`` that UTF-8 cannot encode, and nesting a few hundred levels deep
exceeds the serialiser's recursion limit. Stored, either would make every read of the task
answer 500. So writes are checked (``check_document``) and reads are made safe
(``load_document``): one bad record already in Redis can never break a listing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jobbers.errors import InvalidDocument

# Deep enough for any real payload; far below the recursion limits of the serialisers.
MAX_DEPTH = 64
# Marks a subtree that was cut at MAX_DEPTH on the read path.
TOO_DEEP = "<nested deeper than 64 levels>"
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_document(obj: object, what: str = "parameters", encoded: str | None = None) -> None:
    """Raise InvalidDocument unless every string encodes as UTF-8 and nesting is <= MAX_DEPTH.

    ``encoded``, the document's ASCII JSON when the caller has it, skips the walk for the
    common document (see ``_plainly_safe``).
    """
    if encoded is not None and _plainly_safe(encoded):
        return
    problem = _problem(obj, what, 0)
    if problem is not None:
        raise InvalidDocument(f"{what} cannot be stored: {problem}")


def _problem(obj: object, path: str, depth: int) -> str | None:
    """Why ``obj`` (found at ``path``) cannot be stored, or None."""
    if isinstance(obj, str):
        return None if _encodes(obj) else f"the string at {path} is not valid UTF-8"
    if isinstance(obj, dict | list):
        if depth >= MAX_DEPTH:
            return f"it is nested deeper than {MAX_DEPTH} levels"
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for key, value in items:
            if isinstance(key, str) and not _encodes(key):
                return f"a key in {path} is not valid UTF-8"
            where = f"{path}.{key}" if isinstance(obj, dict) else f"{path}[{key}]"
            found = _problem(value, where, depth + 1)
            if found is not None:
                return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def load_document(raw: str) -> Any:
    """Parse stored JSON into something that always renders, whatever was stored."""
    value = json.loads(raw)
    return value if _plainly_safe(raw) else _safe(value, 0)


def _plainly_safe(text: str) -> bool:
    """True when ASCII JSON ``text`` can hold neither a surrogate nor deep nesting.

    One substring search and two counts: JSON written by Python escapes every non-ASCII
    character, so a surrogate can only hide behind a ``\\ud`` (or ``\\uD``) escape, and at
    most MAX_DEPTH brackets cannot nest deeper than that.
    """
    if "\\ud" in text or "\\uD" in text:
        return False
    return text.count("{") + text.count("[") <= MAX_DEPTH


def renderable(obj: Any) -> Any:
    """``obj`` made safe to send as JSON (see ``load_document``), for echoes of bad input."""
    return _safe(obj, 0)


def _safe(obj: Any, depth: int) -> Any:
    """``obj`` with unencodable strings repaired (U+FFFD) and subtrees past MAX_DEPTH cut."""
    if isinstance(obj, str):
        return obj if _encodes(obj) else _repaired(obj)
    if isinstance(obj, dict | list):
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        if isinstance(obj, list):
            return [_safe(v, depth + 1) for v in obj]
        return {
            (_repaired(k) if isinstance(k, str) and not _encodes(k) else k): _safe(v, depth + 1)
            for k, v in obj.items()
        }
    return obj


def _repaired(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (json.loads pairs the rest)."""
    return _SURROGATE.sub("\ufffd", text)
