"""The emulated API's error type and its wire envelope (lightfield-api.md §1.2).

Every layer of the emulator (values, filters, operations, the HTTP pipeline) raises ``ApiError``;
only app.py turns it into a response. ``TYPE_FOR_STATUS`` is the documented status → ``type``
table, so a raise site names the status and the reason code and never spells the type itself.
"""

from __future__ import annotations

from typing import Any

TYPE_FOR_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_content",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def error_type(status: int) -> str:
    return TYPE_FOR_STATUS.get(status, "internal_server_error" if status >= 500 else "bad_request")


class ApiError(Exception):
    """An error the API answers with: status, documented ``type``, and optional code/param."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.extra = extra or {}
        self.type = error_type(status)

    def body(self, *, enveloped: bool = True) -> dict[str, Any]:
        """The wire body: ``{"error": {...}}``, or (profile ``strict-0.20``) the error object
        itself at the top level."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error} if enveloped else error


def bad_request(message: str, *, code: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, code=code, param=param)


def invalid_type(message: str, param: str) -> ApiError:
    return ApiError(400, message, code="invalid_type", param=param)


def unprocessable(message: str, *, code: str, param: str | None = None) -> ApiError:
    return ApiError(422, message, code=code, param=param)


def not_found(plural: str) -> ApiError:
    return ApiError(404, f"No resource found in '{plural}' with the given ID.")
