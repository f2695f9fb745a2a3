"""Operators' alerts: charger offline, connector Faulted, StopTransaction for an unknown transaction."""
