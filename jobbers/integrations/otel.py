"""``jobbers[otel]``: one OpenTelemetry span per run, in the trace of whoever submitted it.

In the submitting process (your web app) and in your tasks module::

    from jobbers import hooks
    from jobbers.integrations.otel import OtelHook

    hooks.add(OtelHook())

On submit (``StateManager.submit``) the hook opens a short ``jobbers.submit NAME`` span (a
PRODUCER) in the current context and stores its W3C ``traceparent`` with the task. The
worker's hook opens ``jobbers.run NAME`` (a CONSUMER) as its child, current while the task
runs (also in a ``def`` task's thread), so spans the task makes nest under it:
web request -> submit -> run, one trace. Submits over HTTP carry the context in the
``traceparent`` request header, which the manager stores with the task (an instrumented
httpx client sends it). Only ``opentelemetry-api`` is needed: without an SDK configured,
spans cost nothing and record nothing.
"""

from __future__ import annotations

from typing import Any

from jobbers.hooks import Hook, RunInfo, RunOutcome, SubmitInfo

_ERRORS = (RunOutcome.FAILED, RunOutcome.RETRIED)


class OtelHook(Hook):
    """Spans for submits and runs, their context carried in the task's headers."""

    wants_headers = True

    def __init__(self, tracer_provider: Any = None) -> None:
        try:
            from opentelemetry import context, propagate, trace
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError(
                "jobbers.integrations.otel needs opentelemetry-api: pip install 'jobbers[otel]'"
            ) from exc
        self._context, self._propagate, self._trace = context, propagate, trace
        self.tracer = trace.get_tracer("jobbers", tracer_provider=tracer_provider)

    def on_submit(self, info: SubmitInfo) -> None:
        """A PRODUCER span for the submit; its context goes into the task's headers."""
        trace = self._trace
        span = self.tracer.start_span(
            f"jobbers.submit {info.name}",
            kind=trace.SpanKind.PRODUCER,
            attributes=_attributes(info.id, info.name, info.version, info.queue),
        )
        try:
            carrier: dict[str, str] = {}
            self._propagate.inject(carrier, context=trace.set_span_in_context(span))
            info.headers.update(carrier)
        finally:
            span.end()

    def before_run(self, info: RunInfo) -> None:
        """Start the run's CONSUMER span, child of the submit, and make it current."""
        trace = self._trace
        parent = self._propagate.extract(dict(info.headers))
        attributes = _attributes(info.id, info.name, info.version, info.queue)
        attributes.update({"jobbers.run_id": info.run_id, "jobbers.attempt": info.attempt + 1})
        span = self.tracer.start_span(
            f"jobbers.run {info.name}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes=attributes,
        )
        token = self._context.attach(trace.set_span_in_context(span))
        info.scratch["otel"] = (span, token)

    def after_run(
        self,
        info: RunInfo,
        outcome: RunOutcome,
        error: BaseException | None,
        duration: float,
    ) -> None:
        """End the run's span with its outcome, the error recorded on it."""
        started = info.scratch.pop("otel", None)
        if started is None:
            return
        span, token = started
        try:
            span.set_attribute("jobbers.outcome", outcome.value)
            if error is not None:
                span.record_exception(error)
            if outcome in _ERRORS:
                from opentelemetry.trace import Status, StatusCode

                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.end()
        finally:
            self._context.detach(token)


def _attributes(task_id: str, name: str, version: int, queue: str) -> dict[str, Any]:
    return {
        "messaging.system": "jobbers",
        "messaging.destination.name": queue,
        "messaging.message.id": task_id,
        "jobbers.task": name,
        "jobbers.version": version,
    }
