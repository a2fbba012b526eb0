"""Prometheus metrics: gauges read from one ``state.stats()`` per scrape, and submit latency.

Each app owns its registry, so several apps in one process (tests) never collide.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jobbers.models.dashboard import Stats


class StatsCollector(Collector):
    """Turns the ``Stats`` snapshot of the current scrape into gauge families."""

    def __init__(self) -> None:
        self.stats: Stats | None = None

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges of the snapshot; nothing outside a scrape."""
        stats = self.stats
        if stats is None:
            return
        by_status = GaugeMetricFamily(
            "jobbers_tasks", "Stored tasks by status, across queues.", labels=["status"]
        )
        for status, count in sorted(stats.statuses.items()):
            by_status.add_metric([status], count)
        by_queue = GaugeMetricFamily(
            "jobbers_queue_tasks",
            "Stored tasks by queue and status.",
            labels=["queue", "status"],
        )
        depth = GaugeMetricFamily(
            "jobbers_queue_depth", "Tasks waiting to start, by queue.", labels=["queue"]
        )
        paused = GaugeMetricFamily("jobbers_queue_paused", "1 when paused.", labels=["queue"])
        dlq = GaugeMetricFamily(
            "jobbers_queue_dead_letter_tasks", "Dead-lettered tasks by queue.", labels=["queue"]
        )
        completed = GaugeMetricFamily(
            "jobbers_queue_completed_last_hour",
            "Tasks completed in the last hour.",
            labels=["queue"],
        )
        failed = GaugeMetricFamily(
            "jobbers_queue_failed_last_hour", "Tasks failed in the last hour.", labels=["queue"]
        )
        for q in stats.queues:
            for status, count in sorted(q.counts.items()):
                by_queue.add_metric([q.name, status], count)
            depth.add_metric([q.name], q.depth)
            paused.add_metric([q.name], 1 if q.paused else 0)
            dlq.add_metric([q.name], q.dlq)
            completed.add_metric([q.name], q.completed_1h)
            failed.add_metric([q.name], q.failed_1h)
        yield from (by_status, by_queue, depth, paused, dlq, completed, failed)
        yield GaugeMetricFamily("jobbers_dead_letter_tasks", "Tasks in the DLQ.", value=stats.dlq)
        yield GaugeMetricFamily(
            "jobbers_workers", "Workers with a live lease.", value=stats.workers
        )


class Metrics:
    """The manager's metrics registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.submit_latency = Histogram(
            "jobbers_submit_latency_seconds",
            "Time to store and enqueue a submitted task.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self._stats = StatsCollector()
        self.registry.register(self._stats)

    def render(self, stats: Stats) -> bytes:
        """The text exposition of every metric, with the gauges taken from ``stats``."""
        # No await between setting and rendering: concurrent scrapes cannot interleave.
        self._stats.stats = stats
        try:
            return generate_latest(self.registry)
        finally:
            self._stats.stats = None
