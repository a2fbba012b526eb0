"""Reading what users type: task ids (``-`` for stdin), ``key=value`` parameters, JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from .exit_codes import UsageProblem

STDIN = "-"
URL_ENV = "JOBBERS_URL"  # jobbers.api.transport.URL_ENV, not imported: it loads httpx


def check_url(url: str | None, where: str = "--url") -> None:
    """UsageProblem (exit 2) unless the manager URL (``url`` or JOBBERS_URL) can be one.

    Without it a typo such as ``http//host`` reaches httpx and reads as "cannot reach the
    manager" (exit 5), which sends people looking for a manager that is not the problem.
    JOBBERS_URL is read with ``os.environ``, not a pydantic-settings model: the CLI's
    start-up time matters more here (every command checks the URL).
    """
    from urllib.parse import urlsplit

    value = url or os.environ.get(URL_ENV)
    if not value:
        return
    where = where if url else URL_ENV
    problem = f"{where} {value!r} is not a manager URL: expected http(s)://HOST[:PORT]"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        raise UsageProblem(problem) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageProblem(problem)


def read_ids(values: Iterable[str], stdin: TextIO | None = None) -> list[str]:
    """The ids given, with ``-`` replaced by the whitespace-separated ids on stdin, deduplicated."""
    ids: list[str] = []
    for value in values:
        if value == STDIN:
            ids.extend((stdin or sys.stdin).read().split())
        else:
            ids.append(value.strip())
    unique = list(dict.fromkeys(i for i in ids if i))
    if not unique:
        raise UsageProblem("no task ids given (pass ids, or - to read them from stdin)")
    return unique


def check_ids(ids: Iterable[str]) -> list[str]:
    """The ids in canonical form; UsageProblem naming the first one that is not a ULID."""
    from jobbers.api.schemas import canonical_ulid

    try:
        return [canonical_ulid(i) for i in ids]
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None


def parse_params(pairs: Iterable[str], document: str | None = None) -> dict[str, Any]:
    """Task parameters from ``--params`` (JSON, @file or -) overlaid with each ``--param``.

    ``key=value`` gives a string; ``key:=value`` parses value as JSON (numbers, booleans,
    lists, objects), as HTTPie does, so ``count:=3`` is 3 and ``zip=01234`` stays a string.
    """
    params = _load_document(document) if document is not None else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or key == ":":
            raise UsageProblem(f"--param {pair!r}: expected key=value or key:=json")
        if key.endswith(":"):
            params[key[:-1]] = _json(value, f"--param {pair!r}")
        else:
            params[key] = value
    return params


def _load_document(document: str) -> dict[str, Any]:
    where = "--params"
    if document == STDIN:
        text, where = sys.stdin.read(), "--params - (stdin)"
    elif document.startswith("@"):
        path = Path(document[1:])
        try:
            text = path.read_text()
        except OSError as exc:
            raise UsageProblem(f"--params {document}: {exc.strerror or exc}") from None
        where = f"--params {document}"
    else:
        text = document
    value = _json(text, where)
    if not isinstance(value, dict):
        raise UsageProblem(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"{where}: invalid JSON: {exc.msg} at position {exc.pos}") from None


_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h``, ``1d`` or ``250ms`` (delayed submits and
    schedules, issue 15); a clear error naming ``option`` otherwise."""
    import re

    import typer

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", text)
    if not match:
        raise typer.BadParameter(
            f"{text!r} is not a duration; use seconds or a number with s, m, h or d (90s, 15m, 2h)",
            param_hint=option,
        )
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


def parse_time(text: str, option: str) -> Any:
    """An aware datetime from RFC 3339 text (``2026-12-08T09:00:00+01:00``); a clear error
    naming ``option`` when it is not one or has no timezone."""
    import datetime as dt

    import typer

    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a time; use RFC 3339, e.g. 2026-12-08T09:00:00+01:00",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"{text!r} has no timezone; add one, e.g. +01:00 or Z", param_hint=option
        )
    return moment
