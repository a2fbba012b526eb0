"""Example tasks for ``jobbers dev examples/tasks.py`` (what ``./scripts/run`` starts).

Try them from another terminal while ``jobbers dev`` runs::

    jobbers submit greet -p name=Ada --wait          # completes at once
    jobbers submit fetch_rates --wait                # fails twice, retried with backoff, then ok
    jobbers submit build_report -p sections:=12      # heartbeats with progress: watch `jobbers top`
    jobbers submit charge_card -p order_id=A17       # declined: fails into the dead-letter queue
    jobbers dlq list
    jobbers dlq resubmit --task-name charge_card --yes

Every parameter has a default, so each task runs without any.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any

from jobbers import task
from jobbers.models.task_config import BackoffStrategy, DeadLetterPolicy
from jobbers.registry import register_task

DECLINED_CARD = "4000000000000002"  # the usual "card declined" test number


class RatesUnavailable(ConnectionError):
    """The (simulated) exchange-rate API did not answer."""


class CardDeclined(Exception):
    """The (simulated) payment provider refused the card."""


@register_task(name="greet", version=1, max_concurrent=None)
async def greet(**kwargs: Any) -> dict[str, Any]:
    """The smallest task: returns a greeting."""
    return {"greeting": f"Hello, {kwargs.get('name', 'world')}!"}


@register_task(
    name="fetch_rates",
    version=1,
    max_retries=4,
    retry_delay=2,
    backoff_strategy=BackoffStrategy.EXPONENTIAL_JITTER,
    max_retry_delay=30,
    expected_exceptions=(RatesUnavailable, TimeoutError),
    timeout=10,
)
async def fetch_rates(**kwargs: Any) -> dict[str, Any]:
    """Fetch exchange rates from a flaky API: the first ``fail_times`` attempts time out.

    The failures are expected exceptions, so each one schedules a retry (2 s, then about
    4 s with jitter): watch ``jobbers scheduled`` while it backs off.
    """
    await asyncio.sleep(0.3)
    if task.attempt < int(kwargs.get("fail_times", 2)):
        raise RatesUnavailable(f"rates API timed out (simulated, attempt {task.attempt + 1})")
    base = str(kwargs.get("base", "EUR"))
    return {"base": base, "rates": {"USD": 1.08, "GBP": 0.85, "JPY": 161.2}}


@register_task(
    name="build_report",
    version=1,
    max_heartbeat_interval=dt.timedelta(seconds=15),
    timeout=600,
    max_concurrent=2,
)
async def build_report(**kwargs: Any) -> dict[str, Any]:
    """Build a report section by section, heartbeating with progress after each one."""
    sections = int(kwargs.get("sections", 8))
    report_id = kwargs.get("report_id", random.randint(1000, 9999))
    for done in range(1, sections + 1):
        await asyncio.sleep(float(kwargs.get("seconds_per_section", 1.0)))
        await task.heartbeat(progress=done / sections, message=f"section {done}/{sections}")
    return {"url": f"/reports/{report_id}.pdf", "sections": sections}


@register_task(name="charge_card", version=1, dead_letter_policy=DeadLetterPolicy.SAVE)
async def charge_card(**kwargs: Any) -> dict[str, Any]:
    """Charge an order; the default test card is declined, which lands the task in the DLQ.

    A declined card is not an expected exception, so there is no retry: the task fails at
    once and, with ``DeadLetterPolicy.SAVE``, waits in the dead-letter queue for an operator.
    """
    card = str(kwargs.get("card", DECLINED_CARD)).replace(" ", "")
    await asyncio.sleep(0.2)
    if card == DECLINED_CARD:
        raise CardDeclined(f"card ending {card[-4:]} was declined (order {kwargs.get('order_id')})")
    return {"order_id": kwargs.get("order_id"), "charged_cents": int(kwargs.get("cents", 1999))}
