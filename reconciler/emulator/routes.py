"""The emulated API's endpoints: which method and path is which action, and the scope it needs.

Owns the route table (``/v1/auth/validate``, the record routes of opportunities, accounts,
contacts and notes, the read-only member routes) and the scope rule (``<plural>:<verb>``;
listing the trash also needs ``<plural>:restore``). Called by app.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from .definitions import PLURAL_TO_TYPE
from .errors import ApiError

# Members are read-only: they have list and retrieve routes of their own, no writes.
RESOURCE_PLURALS = tuple(plural for plural, kind in PLURAL_TO_TYPE.items() if kind != "member")


@dataclass(frozen=True)
class ApiRoute:
    method: str
    pattern: re.Pattern[str]
    action: str
    plural: str | None

    def scopes(self, request: Request) -> list[str]:
        verb = {
            "list": "read",
            "retrieve": "read",
            "definitions": "read",
            "history": "read",
            "create": "create",
            "update": "update",
            "delete": "delete",
            "restore": "restore",
            "merge": "update",
        }.get(self.action)
        if verb is None or self.plural is None:
            return []
        needed = [f"{self.plural}:{verb}"]
        if self.action == "merge":  # lightfield-api.md §2.10: update + delete
            needed.append(f"{self.plural}:delete")
        if self.action == "list" and request.query_params.get("status") == "trashed":
            needed.append(f"{self.plural}:restore")
        return needed


def _routes() -> list[ApiRoute]:
    routes = [ApiRoute("GET", re.compile(r"/v1/auth/validate"), "validate", None)]
    for plural in RESOURCE_PLURALS:
        base = f"/v1/{plural}"
        routes += [
            ApiRoute("GET", re.compile(base), "list", plural),
            ApiRoute("POST", re.compile(base), "create", plural),
            ApiRoute("GET", re.compile(f"{base}/definitions"), "definitions", plural),
            # Before the record routes, so "merge" is never taken for a record id.
            ApiRoute("POST", re.compile(f"{base}/merge"), "merge", plural),
            ApiRoute("GET", re.compile(f"{base}/(?P<id>[^/]+)"), "retrieve", plural),
            ApiRoute("POST", re.compile(f"{base}/(?P<id>[^/]+)"), "update", plural),
            ApiRoute("DELETE", re.compile(f"{base}/(?P<id>[^/]+)"), "delete", plural),
            ApiRoute("POST", re.compile(f"{base}/(?P<id>[^/]+)/restore"), "restore", plural),
            ApiRoute(
                "GET",
                re.compile(f"{base}/(?P<id>[^/]+)/fields/(?P<key>[^/]+)/history"),
                "history",
                plural,
            ),
        ]
    routes += [
        ApiRoute("GET", re.compile(r"/v1/members"), "list", "members"),
        ApiRoute("GET", re.compile(r"/v1/members/(?P<id>[^/]+)"), "retrieve", "members"),
    ]
    return routes


ROUTES = _routes()


def match_route(method: str, path: str) -> tuple[ApiRoute, dict[str, str]]:
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found and route.method == method:
            return route, found.groupdict()
    raise ApiError(404, f"No endpoint {method} {path}.")
