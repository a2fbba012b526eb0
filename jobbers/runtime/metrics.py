"""A worker's own Prometheus metrics, served by ``jobbers_worker --metrics-port``.

A hook (``jobbers.hooks``) fed by every run, so a worker started without the option pays
nothing, and imports neither this module nor ``prometheus_client``. Names: see
``jobbers.metric_names``.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from ulid import ULID

from jobbers import metric_names as names
from jobbers.hooks import Hook, RunInfo, RunOutcome

# From a millisecond task to an hour-long one.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)


class WorkerMetrics(Hook):
    """Counts runs by task and outcome, times them, and tracks the runs in flight."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.started = Counter(
            names.RUNS_STARTED, "Runs this worker started.", ["task"], registry=self.registry
        )
        self.finished = Counter(
            names.RUNS_FINISHED,
            "Runs this worker finished, by outcome.",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            names.RUN_DURATION,
            "How long the task function ran.",
            ["task"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            names.RUNS_IN_FLIGHT, "Runs in progress on this worker.", registry=self.registry
        )
        self.claim_latency = Histogram(
            names.CLAIM_LATENCY,
            "From submit to claim, first attempts (the task id's time).",
            ["task"],
            buckets=CLAIM_BUCKETS,
            registry=self.registry,
        )

    def before_run(self, info: RunInfo) -> None:
        """Count the start; a first attempt's wait since its submit is its claim latency."""
        self.started.labels(info.name).inc()
        self.in_flight.inc()
        if info.attempt == 0:
            try:
                submitted = ULID.from_str(info.id).timestamp
            except ValueError:
                return
            self.claim_latency.labels(info.name).observe(max(0.0, time.time() - submitted))

    def after_run(
        self,
        info: RunInfo,
        outcome: RunOutcome,
        error: BaseException | None,
        duration: float,
    ) -> None:
        """Count the end by outcome and time it."""
        self.in_flight.dec()
        self.finished.labels(info.name, outcome.value).inc()
        self.duration.labels(info.name).observe(duration)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """Serve ``/metrics`` on ``addr:port`` from a daemon thread."""
        start_http_server(port, addr, registry=self.registry)
