"""Errors that carry a SQLSTATE, and the one function that turns them into ErrorResponse."""

from __future__ import annotations

from .wire import codes
from .wire.messages import ErrorResponse, error_fields


class PgError(Exception):
    sqlstate = codes.INTERNAL_ERROR
    severity = "ERROR"

    def __init__(self, message: str, *, detail: str | None = None, hint: str | None = None,
                 sqlstate: str | None = None, severity: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint
        if sqlstate:
            self.sqlstate = sqlstate
        if severity:
            self.severity = severity

    def response(self) -> ErrorResponse:
        return ErrorResponse(error_fields(self.sqlstate, self.message, self.severity,
                                          self.detail, self.hint))


class ProtocolError(PgError):
    sqlstate = codes.PROTOCOL_VIOLATION
    severity = "FATAL"


class FeatureNotSupported(PgError):
    sqlstate = codes.FEATURE_NOT_SUPPORTED


class InvalidPassword(PgError):
    sqlstate = codes.INVALID_PASSWORD
    severity = "FATAL"


class InvalidAuthorization(PgError):
    sqlstate = codes.INVALID_AUTHORIZATION
    severity = "FATAL"


class OriginUnavailable(PgError):
    sqlstate = codes.CONNECTION_FAILURE
    severity = "FATAL"


class AdminShutdown(PgError):
    sqlstate = codes.ADMIN_SHUTDOWN
    severity = "FATAL"


class TooManyConnections(PgError):
    sqlstate = codes.TOO_MANY_CONNECTIONS
    severity = "FATAL"


class QueryCanceled(PgError):
    sqlstate = codes.QUERY_CANCELED


def error_frame(sqlstate: str, message: str, severity: str = "ERROR", **kw) -> bytes:
    return ErrorResponse(error_fields(sqlstate, message, severity, kw.get("detail"),
                                      kw.get("hint"))).encode()
