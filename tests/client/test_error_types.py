"""The error family: status → class, human messages, and what a caller can branch on."""

from __future__ import annotations

import pytest

from reconciler.core.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    LfrError,
    NotFound,
    RateLimited,
    RetryBudgetExhausted,
    ServerError,
    TransportError,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    api_error_class,
)


@pytest.mark.parametrize(
    ("status", "cls", "default_type"),
    [
        (400, BadRequest, "bad_request"),
        (401, Unauthorized, "unauthorized"),
        (403, Forbidden, "forbidden"),
        (404, NotFound, "not_found"),
        (409, Conflict, "conflict"),
        (415, UnsupportedMediaType, "unsupported_media_type"),
        (422, Unprocessable, "unprocessable_content"),
        (429, RateLimited, "too_many_requests"),
        (500, ServerError, "internal_server_error"),
        (503, ServerError, "service_unavailable"),
        (599, ServerError, "error"),
        (418, ApiError, "error"),
    ],
)
def test_status_maps_to_class_and_default_type(
    status: int, cls: type[ApiError], default_type: str
) -> None:
    assert api_error_class(status) is cls
    error = cls(status)
    assert isinstance(error, LfrError)
    assert error.type == default_type


def test_message_reads_like_the_request_that_failed() -> None:
    error = Unprocessable(
        422,
        "unprocessable_content",
        "relationship_write_limit_exceeded",
        "At most 25 ids per request.",
        "relationships.$contact",
        method="POST",
        path="/v1/opportunities/opp_x",
    )
    assert str(error) == (
        "POST /v1/opportunities/opp_x → 422 unprocessable_content "
        "(relationship_write_limit_exceeded): At most 25 ids per request. "
        "[param relationships.$contact]"
    )
    assert repr(error).startswith("Unprocessable(")
    assert str(NotFound(404)) == "404 not_found"


def test_idempotency_conflict_is_recognised_by_type_or_code() -> None:
    assert Conflict(409, "idempotency_conflict").is_idempotency_conflict
    assert Conflict(409, "conflict", "idempotency_conflict").is_idempotency_conflict
    assert not Conflict(409, "conflict", "locked").is_idempotency_conflict


def test_transport_and_budget_errors_explain_themselves() -> None:
    lost = TransportError(
        "200 response is not a valid Record", method="POST", path="/v1/x", maybe_committed=True
    )
    assert "may have been applied" in str(lost)
    assert "may have been applied" not in str(TransportError("ConnectError"))
    budget = RetryBudgetExhausted(ServerError(503, method="GET", path="/v1/y"), 5, 12.34)
    assert (
        str(budget)
        == "gave up after 5 attempts in 12.3s; last error: GET /v1/y → 503 service_unavailable"
    )
    assert budget.attempts == 5 and isinstance(budget.last_error, ServerError)
