"""Drivers' charging flow: their tokens (RFID cards, one app token), app-started charging sessions with a
state machine linked to OCPP transactions, the live session and its cost estimate, history and CDRs.
See docs/drivers.md."""
