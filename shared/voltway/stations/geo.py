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
    """Half-width in longitude of the spherical cap of ``radius_km`` around a point at ``lat``: the exact
    ``asin(sin(r / R) / cos(lat))`` (the cap is widest poleward of its centre, so the flat-map
    ``r / (km per degree at lat)`` is too narrow for large radii); 360 when the cap holds a pole."""
    angle = radius_km / EARTH_RADIUS_KM
    cos_lat = math.cos(math.radians(lat))
    if angle >= math.pi / 2 or cos_lat <= math.sin(angle):
        return 360.0
    return math.degrees(math.asin(math.sin(angle) / cos_lat)) * (1 + 1e-9)
