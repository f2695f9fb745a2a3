"""OCPP dateTime values: RFC 3339 with an offset on input, always UTC ``...Z`` on output."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# RFC 3339 section 5.6 date-time: the offset is mandatory ("Z" or ±hh:mm).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


def parse_datetime(value: str) -> datetime:
    """An aware UTC datetime; ``ValueError`` for anything that is not an RFC 3339 date-time."""
    if not _RFC3339.match(value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    # Python >= 3.11 parses "Z", a space separator and fractions of any length (beyond µs truncated);
    # it also rejects impossible dates such as February 30th.
    return datetime.fromisoformat(value.upper()).astimezone(UTC)


def is_datetime(value: str) -> bool:
    try:
        parse_datetime(value)
    except ValueError:
        return False
    return True


def format_datetime(moment: datetime) -> str:
    """UTC with millisecond precision and a ``Z`` suffix, as OCPP examples show."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
