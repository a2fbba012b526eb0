"""Every Prometheus metric jobbers exports, the manager's and the workers', in one table.

The manager (``GET /metrics``) reads the store: what is stored, waiting and done across
the cluster. Each worker (``jobbers_worker --metrics-port``) counts what it ran itself;
sum its series across workers (``sum by (task)``) for the cluster's view. The names
never overlap: a dashboard may scrape both. ``tests/test_worker_metrics.py`` checks that
every family either side exports is in this table.

=========================================  =========  =========  ========================
name                                       type       served by  labels
=========================================  =========  =========  ========================
jobbers_tasks                              gauge      manager    status
jobbers_queue_tasks                        gauge      manager    queue, status
jobbers_queue_depth                        gauge      manager    queue
jobbers_queue_paused                       gauge      manager    queue
jobbers_queue_dead_letter_tasks            gauge      manager    queue
jobbers_queue_completed_last_hour          gauge      manager    queue
jobbers_queue_failed_last_hour             gauge      manager    queue
jobbers_dead_letter_tasks                  gauge      manager
jobbers_workers                            gauge      manager
jobbers_submit_latency_seconds             histogram  manager
jobbers_worker_runs_started_total          counter    worker     task
jobbers_worker_runs_finished_total         counter    worker     task, outcome
jobbers_worker_run_duration_seconds        histogram  worker     task
jobbers_worker_runs_in_flight              gauge      worker
jobbers_worker_claim_latency_seconds       histogram  worker     task
=========================================  =========  =========  ========================

``outcome`` is a ``jobbers.hooks.RunOutcome``: completed, failed, retried, cancelled,
resubmitted, stopped, lost. The claim latency is the wait of a first attempt from its
submit to its claim, read from the task id's time (the submitter's clock).
"""

from __future__ import annotations

MANAGER = (
    "jobbers_tasks",
    "jobbers_queue_tasks",
    "jobbers_queue_depth",
    "jobbers_queue_paused",
    "jobbers_queue_dead_letter_tasks",
    "jobbers_queue_completed_last_hour",
    "jobbers_queue_failed_last_hour",
    "jobbers_dead_letter_tasks",
    "jobbers_workers",
    "jobbers_submit_latency_seconds",
)

RUNS_STARTED = "jobbers_worker_runs_started"  # prometheus_client appends _total
RUNS_FINISHED = "jobbers_worker_runs_finished"
RUN_DURATION = "jobbers_worker_run_duration_seconds"
RUNS_IN_FLIGHT = "jobbers_worker_runs_in_flight"
CLAIM_LATENCY = "jobbers_worker_claim_latency_seconds"

WORKER = (
    f"{RUNS_STARTED}_total",
    f"{RUNS_FINISHED}_total",
    RUN_DURATION,
    RUNS_IN_FLIGHT,
    CLAIM_LATENCY,
)
