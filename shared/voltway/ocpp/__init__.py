"""The OCPP 1.6J central system: framing, schema validation, dispatch by action, profiles."""
