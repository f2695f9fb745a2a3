"""Drivers' station search: sites near a point or by text, with each connector's live status."""
