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


def correlate(**ids: str | None) -> None:
    """Attach correlation ids (``charge_point_id``, ``unique_id``, ``connection_id``…) to every
    following log line of this invocation; ``None`` values are removed."""
    present = {k: v for k, v in ids.items() if v is not None}
    absent = [k for k, v in ids.items() if v is None]
    if present:
        logger.append_keys(**present)
    if absent:
        logger.remove_keys(absent)
