"""The core never imports the faces or their frameworks."""

from __future__ import annotations

import subprocess
import sys

FACES = ["textual", "typer", "fastapi", "uvicorn", "jobbers.cli", "jobbers.tui", "jobbers.server"]


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys; {imports}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_imports_no_face() -> None:
    loaded = _loaded_after(
        "import jobbers, jobbers.runtime.worker, jobbers.store.facade, jobbers.runtime.scheduler, "
        "jobbers.runtime.cleaner, jobbers.registry, jobbers.models, jobbers.api.schemas"
    )
    assert not loaded & set(FACES), loaded & set(FACES)


def test_worker_loads_no_metrics_or_integration_library_until_enabled() -> None:
    # Hooks, metrics and the integrations cost a worker nothing at start unless used.
    # (opentelemetry is not checked: redis-py itself imports it when it is installed.)
    loaded = _loaded_after(
        "import jobbers, jobbers.runtime.worker, jobbers.runtime.worker_main, jobbers.hooks, "
        "jobbers.context"
    )
    heavy = {m for m in loaded if m.split(".")[0] in ("prometheus_client", "sentry_sdk")}
    assert not heavy, heavy
    assert "jobbers.integrations" not in loaded and "jobbers.runtime.metrics" not in loaded
