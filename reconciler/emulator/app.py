"""The HTTP face of the emulator: one Starlette app running the request pipeline in order.

Owns the pipeline; routes.py says which endpoint a request is, responses.py how answers are
encoded (and damaged by faults), admin.py answers ``/_emulator/*``, operations.py does the record
work.
Pipeline (every step may end the request, and every step's outcome is in the request log):

1. ``/_emulator/*`` admin routes bypass everything (not logged); admin.py says who gets in.
2. ``Authorization: Bearer <key>`` → 401 ``unauthorized`` (the key is never echoed or logged).
3. ``Lightfield-Version: 2026-03-01`` → 400 ``version_header``.
4. Rate limit (``category_for`` + ``RateLimiter.take``): 429 ``too_many_requests`` with
   ``Retry-After``; the ``X-RateLimit-*`` headers go on every response from here on.
5. Faults: ``Faults.before``: ``status`` / ``drop`` / ``redirect`` answer now (after the
   ``latency_ms`` sleep); the committing actions are remembered for step 10. Otherwise the
   latency is spent just before the operation, while its idempotency key is held (step 9).
6. The body within body.py's bounds (413 / 408); it needs ``Content-Type: application/json``
   (415); malformed JSON → 400 ``invalid_json``.
7. Route lookup (unknown → 404), then scope check → 403 naming the scope.
8. ``Idempotency-Key`` on POST: > 255 chars → 400; replay / 409 in flight / 422 mismatch (strict).
9. The operation (operations.py), then idempotency ``finish`` / ``abandon``.
10. Committing faults damage or replace the committed response.

Choices where the docs are open (full list with reasons in docs/emulator.md): errors always use
the ``{"error": {...}}`` envelope, the idempotency 409 is ``type: conflict, code:
idempotency_conflict``; successes are 200; reads include every defined field (null) and
relationship ([]); trashed records are 404 for retrieve / update / history and reachable through
``status=trashed``, delete and restore; read-only fields / relationships → 400 ``read_only_field``
/ ``read_only_relationship``; wrong value shapes → 400 ``invalid_type``; missing / trashed link
targets, required values and the 25-id cap → 422; ``add`` on a filled HAS_ONE → 400
``invalid_type``; array ``replace`` on HAS_MANY means "exactly these" unless the org turned it off.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from .admin import admin_response
from .body import parse_json, read_body
from .definitions import PLURAL_TO_TYPE
from .errors import ApiError
from .faults import COMMITTING_ACTIONS
from .idempotency import InFlight, Mismatch, Proceed, Replay, key_too_long
from .operations import Caller
from .parts import EmulatorParts
from .ratelimit import category_for
from .responses import damaged, encode, error_response, injected, json_response
from .routes import ApiRoute, match_route
from .stored import KeyGrant

API_VERSION = "2026-03-01"


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


class Pipeline:
    def __init__(self, emu: EmulatorParts) -> None:
        self.emu = emu

    # ---- entry --------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        if request.url.path.startswith("/_emulator/"):
            return await admin_response(self.emu, request)
        log: dict[str, Any] = {
            "at": self.emu.clock.now(),
            "org": None,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "category": None,
            "status": 0,
            "idempotency_key": request.headers.get("idempotency-key"),
            "body": None,
            "fault": None,
        }
        headers: dict[str, str] = {}
        enveloped = self.emu.profile.enveloped_errors
        try:
            response = await self._run(request, log, headers)
        except ApiError as error:
            response = error_response(error, headers, enveloped=enveloped)
        except Exception:  # a bug must still answer the envelope, never a trace
            response = error_response(
                ApiError(500, "The emulator failed on this request."), {}, enveloped=enveloped
            )
        if log["status"] == 0 and log["fault"] != "drop":
            log["status"] = response.status_code
        self.emu.store.log_request(log)
        return response

    async def _run(
        self, request: Request, log: dict[str, Any], headers: dict[str, str]
    ) -> Response:
        emu = self.emu
        method, path = request.method, request.url.path
        grant = self._authenticate(request)
        log["org"] = grant.org
        if request.headers.get("lightfield-version") != API_VERSION:
            raise ApiError(
                400,
                f"The Lightfield-Version header is missing or invalid; send '{API_VERSION}'.",
                code="version_header",
                param="Lightfield-Version",
            )
        category = category_for(method, path)
        log["category"] = category
        decision = emu.rate_limiter.take(grant.org, category)
        headers.update(decision.headers())
        if not decision.allowed:
            raise ApiError(429, "Rate limit exceeded. Please try again later.")
        rule = emu.faults.before(method, path)
        latency = emu.faults.config.latency_ms / 1000
        if rule is not None and rule.action not in COMMITTING_ACTIONS:
            await _pause(latency)
            log["fault"] = rule.action
            return injected(rule, headers, enveloped=emu.profile.enveloped_errors)
        body = await self._body(request)
        log["body"] = body
        route, params = match_route(method, path)
        granted = set(grant.scopes)
        for scope in route.scopes(request):
            if granted and scope not in granted:
                raise ApiError(403, f"This API key lacks the '{scope}' scope.")
        caller = Caller(grant.org, method, path, log["idempotency_key"])
        payload = await self._idempotent(
            caller,
            body,
            latency,
            lambda: self._operate(request, route, params, caller, body, grant),
        )
        if isinstance(payload, Response):  # a replayed idempotent request
            payload.headers.update(headers)
            return payload
        if rule is not None:
            log["fault"] = rule.action
            log["status"] = 200 if rule.action != "commit_then_status" else rule.status
            return damaged(
                rule, 200, encode(payload), headers, enveloped=emu.profile.enveloped_errors
            )
        return json_response(200, payload, headers)

    # ---- steps --------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> KeyGrant:
        auth = request.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        grant = self.emu.store.grant_for(key.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            raise ApiError(401, "Invalid or missing API key.")
        return grant

    async def _body(self, request: Request) -> Any:
        raw = await read_body(request)
        if not raw.strip():
            return None
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(415, "Request bodies must be JSON (Content-Type: application/json).")
        return parse_json(raw)

    async def _idempotent(
        self, caller: Caller, body: Any, latency: float, operate: Callable[[], Any]
    ) -> Any:
        """``operate()``'s payload (answered 200), run under the Idempotency-Key rules, or the
        stored ``Response`` of a replay. The injected latency is spent while the key is held,
        as a slow real operation would be, so a concurrent duplicate sees it in flight (409)
        instead of a finished answer."""
        key = caller.idempotency_key
        if caller.method != "POST" or key is None:
            await _pause(latency)
            return operate()
        if key_too_long(key):
            raise ApiError(
                400,
                "The Idempotency-Key header may be at most 255 characters.",
                code="idempotency_key_too_long",
                param="Idempotency-Key",
            )
        store = self.emu.idempotency
        operation = f"POST {caller.path}"
        begin = store.begin(caller.org, operation, key, _fingerprint(body))
        if isinstance(begin, Replay):
            return Response(begin.body, begin.status, headers=begin.headers)
        if isinstance(begin, InFlight):
            raise ApiError(
                409,
                "An operation with this idempotency key is already in progress. Please wait "
                "and retry.",
                code="idempotency_conflict" if self.emu.profile.conflict_code else None,
            )
        if isinstance(begin, Mismatch):
            raise ApiError(
                422,
                "This idempotency key was already used with a different request body.",
                code="idempotency_key_reused",
                param="Idempotency-Key",
            )
        assert isinstance(begin, Proceed)
        try:
            await _pause(latency)
            payload = operate()
        except ApiError as error:
            enveloped = self.emu.profile.enveloped_errors
            store.finish(
                caller.org,
                operation,
                key,
                error.status,
                encode(error.body(enveloped=enveloped)),
                {},
            )
            raise
        except BaseException:
            store.abandon(caller.org, operation, key)
            raise
        store.finish(
            caller.org, operation, key, 200, encode(payload), {"content-type": "application/json"}
        )
        return payload

    def _operate(
        self,
        request: Request,
        route: ApiRoute,
        params: dict[str, str],
        caller: Caller,
        body: Any,
        grant: KeyGrant,
    ) -> Any:
        records = self.emu.records
        org = grant.org
        if route.action == "validate":
            return {
                "active": True,
                "tokenType": "api_key",
                "subjectType": "user",
                "scopes": list(grant.scopes),
            }
        assert route.plural is not None
        object_type = PLURAL_TO_TYPE[route.plural]
        record_id = params.get("id", "")
        actions: dict[str, Callable[[], Any]] = {
            "list": lambda: records.list_records(
                org,
                object_type,
                request.query_params.multi_items(),
                lag_seconds=self.emu.faults.config.list_lag_seconds,
            ),
            "definitions": lambda: records.definitions(org, object_type),
            "retrieve": lambda: records.retrieve(org, object_type, record_id),
            "create": lambda: records.create(caller, org, object_type, body),
            "update": lambda: records.update(caller, org, object_type, record_id, body),
            "delete": lambda: records.delete(caller, org, object_type, record_id),
            "restore": lambda: records.restore(caller, org, object_type, record_id),
            "merge": lambda: _unserved(route.plural or "", "merge"),
            "history": lambda: records.history(
                org,
                object_type,
                record_id,
                params["key"],
                after=request.query_params.get("after"),
                limit=request.query_params.get("limit"),
            ),
        }
        return actions[route.action]()


def build_app(emu: EmulatorParts) -> Starlette:
    return Starlette(routes=[Route("/{path:path}", _AnyMethod(Pipeline(emu).handle))])


class _AnyMethod:
    """An ASGI endpoint, so Starlette routes every method to it (a function endpoint would get
    a bare-text 405 for methods not listed) and the pipeline answers with the envelope."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self._app = request_response(handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def _unserved(plural: str, action: str) -> Any:
    """An endpoint of the API the emulator routes but does not serve (lfr never calls it):
    a clear 404, never a write to a record of that name."""
    raise ApiError(
        404,
        f"POST /v1/{plural}/{action} is an endpoint of the Lightfield API that the emulator "
        "does not serve.",
        code="endpoint_not_served",
    )


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
