"""Fixtures of the workflow tests: the manager app (tests/server) and in-process workers."""

from __future__ import annotations

from tests.server.conftest import app, client, dbsize  # noqa: F401
