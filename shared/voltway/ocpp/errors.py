"""OCPP-J RPC errors. Each carries its wire code (OCPP-J 1.6 section 4.2.3, spelled as the spec
spells them: ``FormationViolation``, ``OccurenceConstraintViolation``); the dispatcher turns any of them
into a CALLERROR in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OcppError(Exception):
    code: ClassVar[str] = "GenericError"

    def __init__(self, description: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.details: dict[str, Any] = details or {}


class NotImplementedAction(OcppError):
    code = "NotImplemented"


class NotSupported(OcppError):
    code = "NotSupported"


class InternalError(OcppError):
    code = "InternalError"


class ProtocolError(OcppError):
    code = "ProtocolError"


class SecurityError(OcppError):
    code = "SecurityError"


class FormationViolation(OcppError):
    code = "FormationViolation"


class PropertyConstraintViolation(OcppError):
    code = "PropertyConstraintViolation"


class OccurenceConstraintViolation(OcppError):
    code = "OccurenceConstraintViolation"


class TypeConstraintViolation(OcppError):
    code = "TypeConstraintViolation"


class GenericError(OcppError):
    code = "GenericError"


ERROR_CODES = frozenset(
    cls.code
    for cls in (
        NotImplementedAction,
        NotSupported,
        InternalError,
        ProtocolError,
        SecurityError,
        FormationViolation,
        PropertyConstraintViolation,
        OccurenceConstraintViolation,
        TypeConstraintViolation,
        GenericError,
    )
)


class FrameError(Exception):
    """A frame that cannot be taken as a message at all. ``unique_id`` is what could be read of it
    (``UNREADABLE_ID`` otherwise); ``error`` is the CALLERROR to answer with."""

    def __init__(self, unique_id: str, error: OcppError) -> None:
        super().__init__(error.description)
        self.unique_id = unique_id
        self.error = error
