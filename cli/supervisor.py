"""``jobbers dev``: Redis, the manager, workers, scheduler and cleaner in one terminal.

Start order: Redis (``REDIS_URL`` if set, else a private server whose data stays in
``--data-dir``, its log in ``server.log`` there), the manager (until ``/health`` answers),
one worker per role, the scheduler and the cleaner, whose output is shown line by line
behind a name prefix.

Only one ``jobbers dev`` may use a data folder: the first takes a lock on
``DATA_DIR/dev.lock`` (also held by its Redis, so the folder stays busy until that Redis
has exited) and a second one refuses before it starts anything.

Stop order, on Ctrl-C, SIGTERM or SIGHUP: every process but Redis gets SIGTERM and ``grace``
seconds to finish (a second Ctrl-C cuts that short), stragglers get SIGKILL, then Redis is
stopped last so workers can record their shutdown. Children run in their own process group,
so the terminal's Ctrl-C reaches only this supervisor, which stops them in that order; on
Linux each child also gets SIGTERM from the kernel if the supervisor is SIGKILLed, so none
is orphaned.

A child that dies on its own (the private Redis too, on the same port and data) is
restarted after a backoff (0.5 s, doubling up to 10 s). One that dies ``MAX_RAPID_CRASHES``
times within ``CRASH_WINDOW_S`` is broken, not unlucky: everything is then stopped and
``jobbers dev`` exits 1. A worker whose role was deleted is retired (SIGUSR1: it finishes
its tasks) and not restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from jobbers.dev.children import die_with_parent

from .exit_codes import ExitCode
from .output import colour_enabled

if TYPE_CHECKING:
    from jobbers.dev.redis_server import RedisServer

HEALTH_TIMEOUT_S = 30.0
ROLES_POLL_S = 2.0  # how often `jobbers dev` looks for roles created or deleted meanwhile
POLL_MARK = "jobbers-dev"  # query mark of those polls; their access-log lines are not shown
LINE_LIMIT = 1024 * 1024  # longest output line relayed whole
RESTART_FIRST_S = 0.5  # backoff before the first restart of a crashed child; then doubled
RESTART_MAX_S = 10.0
MAX_RAPID_CRASHES = 5  # this many crashes of one child within CRASH_WINDOW_S: give up
CRASH_WINDOW_S = 60.0
_COLOURS = ("36", "35", "33", "32", "34", "91", "96", "95", "93", "92")


@dataclass
class Child:
    """One supervised process and the task copying its output."""

    name: str
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None] | None = None
    exited: asyncio.Task[int] | None = None
    role: str | None = None  # a worker's role
    retired: bool = False  # stopped on purpose (its role was deleted): its exit is expected
    ended: bool = False  # its exit was seen and dealt with
    argv: tuple[str, ...] = ()  # how to start it again
    env: dict[str, str] | None = None
    index: int = 0  # its colour
    crashes: list[float] = field(default_factory=list)  # when it died lately (monotonic)
    restart: asyncio.Task[None] | None = None  # the pending restart after a crash


@dataclass
class DevOptions:
    """What ``jobbers dev`` was asked to run."""

    module: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers_per_role: int = 1
    data_dir: Path = field(default_factory=lambda: Path(".jobbers/redis"))
    grace: float = 10.0


class StartupFailed(Exception):
    """Raised when a process dies or the manager never answers during start-up."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class DataDirBusy(StartupFailed):
    """Raised when another ``jobbers dev`` (or its Redis) still uses the data folder."""


def lock_data_dir(data_dir: Path) -> int:
    """Lock ``data_dir`` for this process; the open lock file's descriptor.

    Two private Redis servers on one appendonly file would corrupt it, and two supervisors
    would fight over workers. ``flock`` is released by the kernel when every holder dies,
    so a SIGKILLed ``jobbers dev`` never leaves a stale lock behind.
    """
    path = data_dir / "dev.lock"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StartupFailed(f"cannot lock {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        who = f"another jobbers dev (pid {holder or '?'}) is running"
        if holder.isdigit() and not _alive(int(holder)):
            who = f"the redis of a jobbers dev that died (pid {holder}) is still running"
        raise DataDirBusy(
            f"{who} with data in {data_dir}; stop it first, or pass --data-dir",
            code=ExitCode.CONFLICT,
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Supervisor:
    """Starts the processes, relays their output, and stops them all."""

    def __init__(self, options: DevOptions, out: TextIO | None = None) -> None:
        self.options = options
        self.out = out or sys.stdout
        self.children: list[Child] = []
        self.redis: RedisServer | None = None
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()
        self._colour = colour_enabled(self.out)
        self._width = 10
        self._env: dict[str, str] = {}
        self._roles_run: list[str] = []
        self._lock: int | None = None  # the data folder's lock, held until exit
        self._failed = False  # a child could not be kept running: exit 1
        self._redis_crashes: list[float] = []
        self._redis_restart: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The manager's base URL."""
        return f"http://{self.options.host}:{self.options.port}"

    async def run(self) -> int:
        """Start everything, wait for a signal or a crash, stop everything; the exit status."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._on_signal)
        status = 0
        try:
            if not os.environ.get("REDIS_URL"):
                self._lock = lock_data_dir(self.options.data_dir.resolve())
            tasks = self._load_tasks()
            env = {**os.environ, "REDIS_URL": await self._redis_url(), "PYTHONUNBUFFERED": "1"}
            address = ["--host", self.options.host, "--port", str(self.options.port)]
            await self._spawn("manager", env, "manager", self.options.module, *address)
            await self._wait_healthy()
            roles = await self._roles()
            self._env = env
            for role in roles:
                await self._start_workers(roles, role)
            await self._spawn("scheduler", env, "scheduler")
            await self._spawn("cleaner", env, "cleaner", "--interval", "5")
            self._banner(env["REDIS_URL"], roles, tasks)
            status = await self._supervise()
        except StartupFailed as exc:
            self._say(f"error: {exc}")
            status = exc.code
        finally:
            await self._shutdown()
            if self._lock is not None:
                os.close(self._lock)  # Redis has exited: the folder is free
        return status

    # ------------------------------------------------------------------ start

    def _load_tasks(self) -> list[str]:
        """Import the tasks module here first, so a broken one fails before anything starts."""
        from jobbers.errors import TaskDefinitionError
        from jobbers.registry import load_tasks_module, registered_tasks

        try:
            load_tasks_module(self.options.module)
        except TaskDefinitionError as exc:
            raise StartupFailed(str(exc), code=2) from None
        except Exception as exc:  # the user's module failed while importing
            message = (
                f"cannot load tasks module {self.options.module!r}: {type(exc).__name__}: {exc}"
            )
            raise StartupFailed(message, code=2) from None
        return [f"{name} v{version}" for name, version in registered_tasks()]

    async def _redis_url(self) -> str:
        """REDIS_URL, or a private server in its own process group, its data in data_dir."""
        from jobbers.dev.redis_server import RedisBinaryNotFound, RedisServer, free_port

        if os.environ.get("REDIS_URL"):
            return os.environ["REDIS_URL"]
        data_dir = self.options.data_dir.resolve()
        try:
            # The appendonly file in data_dir is what keeps tasks across restarts.
            self.redis = RedisServer(
                free_port(),
                data_dir,
                own_process_group=True,
                die_with_parent=True,
                # Redis holds the lock too: the folder is busy until it has exited.
                keep_fds=() if self._lock is None else (self._lock,),
            )
            await asyncio.to_thread(self.redis.start)
        except (RedisBinaryNotFound, RuntimeError) as exc:
            raise StartupFailed(f"redis did not start: {exc}") from None
        assert self.redis.process is not None
        self._say(f"started redis (pid {self.redis.process.pid}, log in {data_dir}/server.log)")
        return self.redis.url

    async def _spawn(self, name: str, env: dict[str, str], *argv: str) -> None:
        """Start ``python -m jobbers.cli ARGV`` as a supervised child."""
        if self._stop.is_set():
            raise StartupFailed("interrupted during start-up")
        child = await self._start(name, sys.executable, "-m", "jobbers.cli", *argv, env=env)
        self.children.append(child)

    async def _start(self, name: str, *argv: str, env: dict[str, str] | None = None) -> Child:
        process = await self._exec(argv, env)
        child = Child(name, process, argv=argv, env=env, index=len(self.children))
        self._watch(child)
        return child

    async def _exec(
        self, argv: tuple[str, ...], env: dict[str, str] | None
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            process_group=0,
            preexec_fn=die_with_parent(),  # no orphans even if `jobbers dev` is SIGKILLed
            limit=LINE_LIMIT,
        )

    def _watch(self, child: Child) -> None:
        """Relay the output of the child's (new) process and note its exit."""
        child.pump = asyncio.create_task(self._pump(child, child.index))
        child.exited = asyncio.create_task(child.process.wait())
        child.ended = False
        self._width = max(self._width, len(child.name))
        self._say(f"started {child.name} (pid {child.process.pid})")

    def _backoff(self, name: str, code: int | None, crashes: list[float]) -> float | None:
        """Note a crash in ``crashes``; the delay before the restart, or None to give up."""
        now = time.monotonic()
        crashes[:] = [t for t in crashes if now - t < CRASH_WINDOW_S] + [now]
        if len(crashes) >= MAX_RAPID_CRASHES:
            self._say(
                f"{name} exited ({code}), its {len(crashes)}th crash within "
                f"{CRASH_WINDOW_S:g}s; giving up: stopping everything"
            )
            return None
        delay = min(RESTART_MAX_S, RESTART_FIRST_S * 2.0 ** (len(crashes) - 1))
        self._say(f"{name} exited ({code}); restarting it in {delay:g}s")
        return delay

    def _crashed(self, child: Child) -> bool:
        """Schedule the restart of a child that died on its own; False: give up instead."""
        delay = self._backoff(child.name, child.process.returncode, child.crashes)
        if delay is None:
            return False
        child.restart = asyncio.create_task(self._restart(child, delay))
        return True

    def _redis_alive(self) -> bool:
        """Restart the private Redis if it died (its data is in the appendonly file).

        Checked on each pass of the supervision loop, so within ``ROLES_POLL_S``; the
        other processes ride out the gap as they would any Redis outage. False: give up.
        """
        redis = self.redis
        if redis is None or redis.process is None or redis.process.poll() is None:
            return True
        if self._redis_restart is not None and not self._redis_restart.done():
            return True
        delay = self._backoff("redis", redis.process.returncode, self._redis_crashes)
        if delay is None:
            return False
        self._redis_restart = asyncio.create_task(self._restart_redis(redis, delay))
        return True

    async def _restart_redis(self, redis: RedisServer, delay: float) -> None:
        if await self._stopped_within(delay):
            return
        try:
            await asyncio.to_thread(redis.start)  # the same port: the children's URL holds
        except RuntimeError as exc:
            self._say(f"cannot restart redis: {exc}; stopping everything")
            self._failed = True
            self._stop.set()
            return
        assert redis.process is not None
        self._say(f"started redis (pid {redis.process.pid})")

    async def _stopped_within(self, delay: float) -> bool:
        """Wait ``delay`` seconds; True at once if everything is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)
            return True
        return False

    async def _restart(self, child: Child, delay: float) -> None:
        """After ``delay``, start the child again, unless everything is stopping by then."""
        if await self._stopped_within(delay):
            return
        try:
            child.process = await self._exec(child.argv, child.env)
        except OSError as exc:
            self._say(f"cannot restart {child.name}: {exc}; stopping everything")
            self._failed = True
            self._stop.set()
            return
        self._watch(child)

    async def _start_workers(self, roles: list[str], role: str) -> None:
        """The worker processes of one role."""
        for i in range(self.options.workers_per_role):
            worker = ["worker", self.options.module, "--role", role]
            await self._spawn(self._worker_name(roles, role, i), self._env, *worker)
            self.children[-1].role = role
        self._roles_run.append(role)

    async def _follow_roles(self) -> None:
        """Start workers for roles created since start-up; stop those of deleted roles."""
        from jobbers.api.client import ClientError, JobbersClient
        from jobbers.api.schemas import RolesResponse

        try:
            async with JobbersClient(self.url, timeout=2.0) as api:
                # Marked, so the relay can leave these polls out of the manager's log.
                answer = await api.request("GET", "/roles", params={"poll": POLL_MARK})
        except ClientError:
            return  # the manager is busy or restarting: look again next time
        roles = [r.name for r in RolesResponse.model_validate_json(answer.content).roles]
        for role in [r for r in roles if r not in self._roles_run]:
            self._say(f"role {role} was created; starting its worker")
            await self._start_workers(roles, role)
        for role in [r for r in self._roles_run if r not in roles]:
            # SIGUSR1, not SIGTERM: a routine admin action must not leave tasks `stalled`
            # (policy STOP), so the worker retires: RESUBMIT runs are re-queued, the others
            # finish, then it exits.
            self._say(f"role {role} was deleted; its worker finishes its tasks and stops")
            self._roles_run.remove(role)
            for child in self.children:
                if child.role == role and not child.retired:
                    child.retired = True
                    with contextlib.suppress(ProcessLookupError):
                        child.process.send_signal(signal.SIGUSR1)

    def _worker_name(self, roles: list[str], role: str, index: int) -> str:
        """``worker`` for the usual single default worker, else ``worker.ROLE[.N]``."""
        several = self.options.workers_per_role > 1
        if roles == ["default"] and not several:
            return "worker"
        return f"worker.{role}" + (f".{index + 1}" if several else "")

    async def _wait_healthy(self) -> None:
        """Poll /health until the manager answers; fail if it exits or never answers."""
        from jobbers.api.client import ClientError, JobbersClient

        manager = self.children[0]
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        async with JobbersClient(self.url, timeout=2.0) as api:
            while True:
                if manager.process.returncode is not None:
                    raise StartupFailed(
                        f"the manager exited ({manager.process.returncode}); "
                        f"is port {self.options.port} in use? try --port"
                    )
                if self._stop.is_set():
                    raise StartupFailed("interrupted during start-up")
                with contextlib.suppress(ClientError):
                    if (await api.health()).status == "ok":
                        return
                if time.monotonic() > deadline:
                    raise StartupFailed(f"the manager did not answer on {self.url}")
                await asyncio.sleep(0.1)

    async def _roles(self) -> list[str]:
        """Every configured role (the manager created ``default``), or just ``default``."""
        from jobbers.api.client import JobbersClient

        async with JobbersClient(self.url) as api:
            roles = [r.name for r in (await api.list_roles()).roles]
        return roles or ["default"]

    def _banner(self, redis_url: str, roles: list[str], tasks: list[str]) -> None:
        from jobbers.dev.redis_server import mask_password

        where = f"data in {self.options.data_dir}" if self.redis else "from REDIS_URL"
        per = f" x{self.options.workers_per_role}" if self.options.workers_per_role > 1 else ""
        example = tasks[0].split()[0] if tasks else "NAME"
        export = [] if self.options.port == 8000 else [f"  export JOBBERS_URL={self.url}"]
        hints = [
            (f"jobbers submit {example} --wait", "run a task and wait for its result"),
            ("jobbers list", "recent tasks"),
            ("jobbers top", "watch it all live"),
        ]
        width = max(len(command) for command, _ in hints) + 2
        lines = [
            "",
            f"jobbers dev is up with {self.options.module}",
            f"  manager   {self.url}  (API docs: {self.url}/docs)",
            f"  redis     {mask_password(redis_url)}  ({where})",
            f"  workers   {', '.join(r + per for r in roles)}; scheduler; cleaner every 5s",
            f"  tasks     {', '.join(tasks) or '(none registered)'}",
            "",
            "Next, in another terminal:",
            *export,
            *(f"  {command:<{width}}# {why}" for command, why in hints),
            "Ctrl-C here stops everything.",
            "",
        ]
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    # ------------------------------------------------------------------ run and stop

    async def _supervise(self) -> int:
        """Wait for a stop signal (status 0), restarting children that die on their own.

        Status 1 when one crashes too often. Meanwhile, follow the roles: workers start for
        new roles and retire for deleted ones.
        """
        stop = asyncio.create_task(self._stop.wait())
        try:
            while True:
                watched = {c.exited: c for c in self.children if c.exited and not c.ended}
                done, _ = await asyncio.wait(
                    {stop, *watched}, timeout=ROLES_POLL_S, return_when=asyncio.FIRST_COMPLETED
                )
                if stop in done:
                    return 1 if self._failed else 0
                for task in done:
                    child = watched[task]
                    child.ended = True
                    code = child.process.returncode
                    if child.retired:
                        self._say(f"{child.name} stopped ({code}): its role was deleted")
                    elif not self._crashed(child):
                        return 1
                if not self._redis_alive():
                    return 1
                if not self._stop.is_set():
                    with contextlib.suppress(StartupFailed):  # a stop arrived meanwhile
                        await self._follow_roles()
        finally:
            stop.cancel()

    def _on_signal(self) -> None:
        if self._stop.is_set():
            self._hurry.set()
            self._say("stopping now")
            return
        self._say("stopping (Ctrl-C again to kill at once)")
        self._stop.set()

    async def _shutdown(self) -> None:
        """SIGTERM to all but Redis, wait ``grace``, SIGKILL stragglers; then Redis."""
        self._stop.set()
        # A pending restart returns at once now, or finishes starting its child (stopped next).
        await asyncio.gather(*(c.restart for c in self.children if c.restart))
        await self._stop_group(self.children, self.options.grace)
        if self._redis_restart is not None:
            await self._redis_restart
        if self.redis is not None:
            await asyncio.to_thread(self.redis.stop)  # SIGTERM, then SIGKILL after 10 s
        for child in self.children:
            if child.pump is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(child.pump, 2.0)
        if self.children or self.redis:
            self._say("everything stopped")

    async def _stop_group(self, children: list[Child], grace: float) -> None:
        alive = [c for c in children if c.process.returncode is None]
        for child in alive:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        waits = [c.exited for c in alive if c.exited is not None]
        if waits:
            hurry = asyncio.create_task(self._hurry.wait())
            either: set[asyncio.Future[Any]] = {asyncio.gather(*waits), hurry}
            await asyncio.wait(either, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            hurry.cancel()
        for child in alive:
            if child.process.returncode is None:
                self._say(f"{child.name} did not stop in time; killing it")
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()

    # ------------------------------------------------------------------ output

    async def _pump(self, child: Child, index: int) -> None:
        """Copy a child's output, one prefixed line at a time."""
        assert child.process.stdout is not None
        colour = _COLOURS[index % len(_COLOURS)]
        stream = child.process.stdout
        cutting = False  # inside an over-long line: drop it up to its newline
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # past LINE_LIMIT asyncio drops the buffered part
                if cutting:
                    continue
                cutting = True
                raw = f"(a line of over {LINE_LIMIT} bytes was cut)\n".encode()
            else:
                if cutting:
                    cutting = False
                    continue
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\n")
            if f"/roles?poll={POLL_MARK} " in line:
                continue  # the supervisor's own polling, every 2 s: noise in the log
            prefix = f"{child.name:<{self._width}} |"
            if self._colour:
                prefix = f"\x1b[{colour}m{prefix}\x1b[0m"
            self.out.write(f"{prefix} {line}\n")
            self.out.flush()

    def _say(self, message: str) -> None:
        prefix = f"{'dev':<{self._width}} |"
        if self._colour:
            prefix = f"\x1b[1m{prefix}\x1b[0m"
        self.out.write(f"{prefix} {message}\n")
        self.out.flush()
