"""One logger and one metrics object for every function (Powertools), plus correlation ids.

No Tracer here: importing it costs ~150 ms of cold start, and X-Ray tracing is already on for every
function through the template's ``Tracing: Active``.
"""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "voltway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Voltway")

# Many invocations legitimately record no business event (a $disconnect of an unknown connection, an
# idle monitor run): Powertools' warning about it is noise in every log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def count(event: str, value: int = 1) -> None:
    """One business event (``BootAccepted``, ``ChargerOfflineAlert``…), published as an EMF count."""
    metrics.add_metric(name=event, unit=MetricUnit.Count, value=value)


_correlated: set[str] = set()  # the keys correlate() added in this unit of work


def correlate(**ids: str | None) -> None:
    """Attach correlation ids (``charge_point_id``, ``unique_id``, ``connection_id``…) to every
    following log line of this unit of work; ``None`` values are removed."""
    present = {k: v for k, v in ids.items() if v is not None}
    absent = [k for k, v in ids.items() if v is None]
    if present:
        logger.append_keys(**present)
        _correlated.update(present)
    if absent:
        logger.remove_keys(absent)
        _correlated.difference_update(absent)


def begin(**ids: str | None) -> None:
    """Start a unit of work (a frame, a request, a queue record) with these ids: the ids of the previous
    one are dropped. Powertools keeps appended keys for the life of the process, so without this a warm
    function logged the last frame's ``command_id`` / ``transaction_id`` on the next one."""
    if _correlated:
        logger.remove_keys(list(_correlated))
        _correlated.clear()
    correlate(**ids)
