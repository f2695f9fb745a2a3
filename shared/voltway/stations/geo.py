"""Great-circle distances on a spherical Earth (mean radius), good to ~0.5 % for station search."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_KM / 180


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def lon_span_degrees(lat: float, radius_km: float) -> float:
    """Half-width in longitude of a circle of ``radius_km`` at ``lat`` (360 near the poles)."""
    cos_lat = math.cos(math.radians(lat))
    if cos_lat < 1e-6:
        return 360.0
    return min(360.0, radius_km / (KM_PER_DEGREE_LAT * cos_lat))
