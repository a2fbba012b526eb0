"""Without a token, keep web pages in the operator's browser away from the manager.

A manager with no ``JOBBERS_API_TOKEN`` trusts whoever reaches its port, and a browser on
the operator's machine reaches it on behalf of any page it shows. Two attacks need no
token: a page can POST cross-site (``/queues/default/purge`` with ``Origin: evil.example``),
and through DNS rebinding (its own hostname re-pointed at 127.0.0.1) it can also read the
answers. So, when no token is set:

- a request whose ``Host`` is not allowed is refused (403): by default only loopback names
  (``localhost``, ``127.0.0.1``, ``[::1]``, any port), which a rebound hostname never is;
- a state-changing request (not GET, HEAD or OPTIONS) whose ``Origin`` is not the manager's
  own is refused (403); browsers send ``Origin`` on every cross-site POST.

Clients that are not browsers (the CLI, the TUI, ``jobbers dev``, curl) send no ``Origin``
and a loopback ``Host``, and pass. With a token set nothing here applies: a page cannot
attach the token, and the manager sends no CORS headers that would let it try.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


class LocalOnlyMiddleware:
    """ASGI middleware refusing foreign ``Host`` headers and cross-site writes (see module)."""

    def __init__(self, app: ASGIApp, allowed_hosts: Collection[str] | None) -> None:
        self.app = app
        # None: any Host (an embedding app, or --insecure-no-auth); Origin is still checked.
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 403 for a foreign Host or a cross-site write; pass anything else on."""
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await _forbidden(send, refusal)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        # Only the two headers read here are decoded (this runs on every request).
        host = ""
        origin: str | None = None
        for name, value in scope.get("headers", []):
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
        hostname, port = _split_host(host)
        if self.allowed_hosts is not None and not self._allowed(hostname):
            return (
                f"Host {host!r} is not allowed: without JOBBERS_API_TOKEN the manager answers "
                "only requests addressed to localhost, 127.0.0.1 or [::1] (this keeps web pages "
                "using DNS rebinding out); set a token, or list the name in "
                "JOBBERS_ALLOWED_HOSTS"
            )
        if origin is None or scope["method"] in _SAFE_METHODS:
            return None
        scheme = scope.get("scheme", "http")
        own = (scheme, hostname, port or _DEFAULT_PORTS.get(scheme))
        if _origin_parts(origin) != own:
            return (
                f"cross-site request refused: Origin {origin!r} is not this manager's own; "
                "without JOBBERS_API_TOKEN only same-origin pages and clients that send no "
                "Origin (the CLI, the TUI, scripts) may change anything"
            )
        return None

    def _allowed(self, hostname: str) -> bool:
        assert self.allowed_hosts is not None
        if hostname in self.allowed_hosts:
            return True
        if set(LOOPBACK_NAMES) <= self.allowed_hosts:
            try:
                return ipaddress.ip_address(hostname).is_loopback  # 127.0.0.2 is as local
            except ValueError:
                return False
        return False


def _split_host(host: str) -> tuple[str, int | None]:
    """``("localhost", 8000)`` from ``localhost:8000``; IPv6 brackets removed, lowercased."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        name, _, port_text = host.partition(":")
    else:
        name, port_text = host, ""
    port = int(port_text) if port_text.isdigit() else None
    return name.rstrip("."), port


def _origin_parts(origin: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an Origin header; None for ``null`` or anything unparsable."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.rstrip("."), port


async def _forbidden(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
