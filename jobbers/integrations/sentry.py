"""``jobbers[sentry]``: report task errors to Sentry, tagged with the task's name, id and attempt.

In your tasks module, after ``sentry_sdk.init(...)``::

    from jobbers import hooks
    from jobbers.integrations.sentry import SentryHook

    hooks.add(SentryHook())

A run that fails for good is reported; one that will be retried only with
``report_retries=True`` (an expected, retried error is usually noise). Cancelled and
interrupted runs are not errors. Each event carries the tags ``jobbers.task``,
``jobbers.task_id``, ``jobbers.attempt`` (1 for the first run), ``jobbers.queue`` and
``jobbers.outcome``, and a ``jobbers`` context with the run id and version.
"""

from __future__ import annotations

from typing import Any

from jobbers.hooks import Hook, RunInfo, RunOutcome


def _sentry() -> Any:
    try:
        import sentry_sdk
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "jobbers.integrations.sentry needs sentry-sdk: pip install 'jobbers[sentry]'"
        ) from exc
    return sentry_sdk


class SentryHook(Hook):
    """Captures the exception of a failed run in its own Sentry scope."""

    def __init__(self, report_retries: bool = False) -> None:
        self.sentry = _sentry()
        self.report_retries = report_retries

    def after_run(
        self,
        info: RunInfo,
        outcome: RunOutcome,
        error: BaseException | None,
        duration: float,
    ) -> None:
        """Capture ``error`` when the run failed (or, if asked, will be retried)."""
        if error is None:
            return
        if outcome is not RunOutcome.FAILED and not (
            outcome is RunOutcome.RETRIED and self.report_retries
        ):
            return
        with self.sentry.new_scope() as scope:
            scope.set_tag("jobbers.task", info.name)
            scope.set_tag("jobbers.task_id", info.id)
            scope.set_tag("jobbers.attempt", str(info.attempt + 1))
            scope.set_tag("jobbers.queue", info.queue)
            scope.set_tag("jobbers.outcome", outcome.value)
            scope.set_context(
                "jobbers",
                {
                    "task_id": info.id,
                    "run_id": info.run_id,
                    "name": info.name,
                    "version": info.version,
                    "attempt": info.attempt + 1,
                    "queue": info.queue,
                    "duration_s": round(duration, 6),
                },
            )
            scope.capture_exception(error)
