"""``jobbers_manager MODULE [--host 127.0.0.1] [--port 8000]``: serve the HTTP API."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from jobbers.errors import TaskDefinitionError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, as the README documents it."""
    from jobbers.runtime.settings import process_parser

    from .settings import ManagerEnv

    parser = process_parser("jobbers_manager", "Serve the jobbers HTTP API.", ManagerEnv)
    parser.add_argument("module", metavar="MODULE", help="tasks module (dotted path or .py file)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow a non-loopback --host without JOBBERS_API_TOKEN (anyone who can reach "
        "the port can then submit, cancel and purge)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Load the tasks module, then run the app on uvicorn; exit 2 on a bad module or setting."""
    args = parse_args(argv)
    # FastAPI and uvicorn load only here, when the manager actually runs.
    import uvicorn
    from pydantic import ValidationError

    from .access_log import log_config
    from .app import create_app
    from .settings import ENV_VARS, ManagerEnv, ServerSettings

    try:
        env = ManagerEnv()
        settings = ServerSettings.from_manager_env(env, tasks_module=args.module)
        opened = args.insecure_no_auth and not _is_loopback(args.host)
        if opened and "allowed_hosts" not in env.model_fields_set:
            # The operator opened the port to the network: any Host, as they asked.
            settings = settings.model_copy(update={"allowed_hosts": None})
        app = create_app(settings)
    except TaskDefinitionError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_VARS.get(str(err['loc'][0]), err['loc'][0]) if err['loc'] else 'settings'}: "
            f"{err['msg']}"
            for err in exc.errors(include_url=False)
        )
        _fail(f"invalid setting: {problems}")
    except ValueError as exc:
        _fail(f"invalid setting: {exc}")
    if not _is_loopback(args.host) and settings.api_token is None and not args.insecure_no_auth:
        _fail(
            f"refusing to serve on {args.host} without JOBBERS_API_TOKEN: API access is "
            "Redis access; set a token, or pass --insecure-no-auth"
        )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=log_config(show_debug=env.log_level.upper() == "DEBUG"),
    )


def _is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fail(message: str) -> None:
    """One line on stderr, exit status 2: what a service manager shows the operator."""
    sys.stderr.write(f"jobbers_manager: {' '.join(message.split())}\n")
    raise SystemExit(2)


if __name__ == "__main__":
    main()
