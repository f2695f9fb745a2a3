"""Realistic, consistent synthetic data for the archive (seed command, tests, benchmarks).

One fleet per tenant: sites with their currency, VAT and price per kWh; stations on sites; accounts
with id tags; some roaming partners. Each session yields one session record and one CDR priced from its
site's tariff (and, on request, meter values), all with the same ids, times and energy. Deterministic
for a given (tenant, seed). Lines are produced in the models' field order without building a model per
record (a million records in seconds); tests validate a sample against the models.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from voltway.archive.archive import ArchiveWriter
from voltway.archive.records import ArchiveKind, format_ts

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class Site:
    site_id: str
    currency: str
    vat_percent: int
    price_per_kwh_minor: int
    partner_id: str | None


@dataclass(frozen=True, slots=True)
class Fleet:
    tenant_id: str
    sites: tuple[Site, ...]
    stations: tuple[tuple[str, int], ...]  # (charge point id, site index)
    accounts: tuple[str, ...]

    @classmethod
    def build(cls, tenant_id: str, *, stations: int = 50, accounts: int = 500, seed: int = 7) -> Fleet:
        rng = random.Random(f"{tenant_id}:{seed}")
        sites = []
        for n in range(max(1, stations // 5)):
            if n % 4 == 3:
                sites.append(Site(f"SITE-{n:03d}", "GBP", 20, rng.choice([45, 49, 55]), "PARTNER-UK"))
            else:
                partner = "PARTNER-EU" if n % 5 == 4 else None
                sites.append(Site(f"SITE-{n:03d}", "EUR", 19, rng.choice([39, 44, 49, 59]), partner))
        station_list = tuple((f"{tenant_id.upper()}-CP{n:04d}", n % len(sites)) for n in range(stations))
        return cls(tenant_id, tuple(sites), station_list, tuple(f"ACC-{n:05d}" for n in range(accounts)))


@dataclass(frozen=True, slots=True)
class SyntheticRow:
    """One session's archive lines: (kind, day, id, json line)."""

    day: date
    session: tuple[str, str]
    cdr: tuple[str, str]
    meter_values: tuple[tuple[str, str], ...]


def sessions(
    fleet: Fleet, count: int, first_day: date, days: int, *, meter_values: int = 0, seed: int = 7
) -> Iterator[SyntheticRow]:
    """``count`` sessions spread evenly over ``days`` days from ``first_day``, in time order."""
    rng = random.Random(f"{fleet.tenant_id}:{seed}:sessions")
    span = days * 86400
    start = datetime.combine(first_day, datetime.min.time(), UTC)
    step = span / max(count, 1)
    for n in range(count):
        stopped = start + timedelta(seconds=int(n * step))
        duration = rng.randint(10 * 60, 4 * 3600)
        started = stopped - timedelta(seconds=duration)
        cp, site_index = fleet.stations[rng.randrange(len(fleet.stations))]
        site = fleet.sites[site_index]
        connector = rng.randint(1, 2)
        account = fleet.accounts[rng.randrange(len(fleet.accounts))]
        tag = f"TAG{account[4:]}"
        power_w = rng.choice([3700, 7400, 11000, 22000, 50000])
        energy = min(int(power_w * duration / 3600 * rng.uniform(0.6, 1.0)), 150_000)
        meter_start = rng.randint(0, 5_000_000)
        tx = n + 1
        session_id = f"{cp}:{tx}"
        started_s, stopped_s = format_ts(started), format_ts(stopped)
        common = {
            "tenant_id": fleet.tenant_id,
            "charge_point_id": cp,
            "connector_id": connector,
            "site_id": site.site_id,
            "account_id": account,
            "partner_id": site.partner_id,
        }
        session = {"id": session_id, **common, "transaction_id": tx, "id_tag": tag}
        session |= {"started_at": started_s, "stopped_at": stopped_s, "meter_start_wh": meter_start}
        session |= {"meter_stop_wh": meter_start + energy, "energy_wh": energy, "stop_reason": "Local"}
        excl = round(energy * site.price_per_kwh_minor / 1000)
        vat = round(excl * site.vat_percent / 100)
        cdr_id = f"CDR-{fleet.tenant_id}-{tx:09d}"
        cdr = {"id": cdr_id, **common, "session_id": session_id, "id_tag": tag}
        cdr |= {"started_at": started_s, "stopped_at": stopped_s, "energy_wh": energy}
        cdr |= {"tariff_id": f"TARIFF-{site.site_id}", "currency": site.currency}
        cdr |= {"price_excl_vat_minor": excl, "vat_minor": vat, "price_incl_vat_minor": excl + vat}
        cdr["issued_at"] = format_ts(stopped + timedelta(seconds=rng.randint(1, 120)))
        values = []
        for k in range(meter_values):
            at = started + timedelta(seconds=duration * (k + 1) // meter_values)
            mv_id = f"{session_id}:{k}"
            mv = {"id": mv_id, **common, "session_id": session_id, "timestamp": format_ts(at)}
            mv |= {"measurand": "Energy.Active.Import.Register", "phase": None}
            mv |= {"value": float(meter_start + energy * (k + 1) // meter_values), "unit": "Wh"}
            values.append((mv_id, _DUMPS(mv)))
        yield SyntheticRow(
            stopped.date(), (session_id, _DUMPS(session)), (cdr_id, _DUMPS(cdr)), tuple(values)
        )


def archive_rows(
    writer: ArchiveWriter,
    rows: Iterator[SyntheticRow] | list[SyntheticRow],
    tenant_id: str,
    *,
    kinds: tuple[ArchiveKind, ...] = (ArchiveKind.SESSIONS, ArchiveKind.CDRS),
    batch_rows: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write synthetic rows as archive batches (one object per kind and day, split at ``batch_rows``)."""
    pending: dict[ArchiveKind, list[tuple[str, str]]] = {k: [] for k in kinds}
    day: date | None = None
    written = 0

    def flush() -> None:
        for kind, lines in pending.items():
            if lines and day is not None:
                writer.put_lines(kind, tenant_id, day, lines)
                lines.clear()

    for row in rows:
        if row.day != day or len(pending[kinds[0]]) >= batch_rows:
            flush()
            day = row.day
        if ArchiveKind.SESSIONS in pending:
            pending[ArchiveKind.SESSIONS].append(row.session)
        if ArchiveKind.CDRS in pending:
            pending[ArchiveKind.CDRS].append(row.cdr)
        if ArchiveKind.METER_VALUES in pending:
            pending[ArchiveKind.METER_VALUES].extend(row.meter_values)
        written += 1
        if progress is not None and written % 10_000 == 0:
            progress(written)
    flush()
    if progress is not None:
        progress(written)
    return written
