"""A fake of the few GitHub REST endpoints the workflow scripts (.github/scripts) use, served on
loopback so the scripts run unchanged against it: open pull requests filtered by `head`, issues
filtered by label, issue comments, labels; creating and editing issues and comments. Lists are
served two items a page, so pagination is exercised. Every request is recorded; a request
without the expected token is answered 401."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "test-token"
BOT = {"login": "github-actions[bot]", "type": "Bot"}
PAGE_SIZE = 2
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def expand(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``${{ name }}`` a workflow writes replaced by ``values[name]``, as the
    runner would (an unknown name fails the test: a step reads something it was not given)."""
    return _EXPRESSION.sub(lambda m: values[m.group(1)], text)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    repo: str
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _next_id: int = 9000

    def comment(self, issue: int, user: dict[str, str], body: str) -> int:
        self._next_id += 1
        self.comments.setdefault(issue, []).append(
            {"id": self._next_id, "user": user, "body": body}
        )
        return self._next_id

    def issue(self, user: dict[str, str], labels: list[str], **fields: Any) -> int:
        self._next_id += 1
        number = self._next_id - 9000
        labelled = [{"name": name} for name in labels]
        self.issues.append(
            {"number": number, "user": user, "state": "open", "labels": labelled, **fields}
        )
        return number

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        prefix = f"/repos/{self.repo}/"
        if not path.startswith(prefix):
            return 404, {"message": "Not Found"}
        parts = path.removeprefix(prefix).split("/")
        if method == "GET" and parts == ["pulls"]:
            return 200, [
                pr
                for pr in self.pulls
                if pr["state"] == query.get("state", "open")
                and ("head" not in query or query["head"] == pr["head"]["label"])
            ]
        if method == "GET" and parts[:1] == ["pulls"] and len(parts) == 2:
            found = [pr for pr in self.pulls if str(pr["number"]) == parts[1]]
            return (200, found[0]) if found else (404, {"message": "Not Found"})
        if method == "GET" and len(parts) == 3 and parts[0] == "commits" and parts[2] == "pulls":
            # The pull requests a commit belongs to (a merged one: its merge commit).
            return 200, [pr for pr in self.pulls if pr.get("merge_commit_sha") == parts[1]]
        if method == "GET" and parts == ["issues"]:
            wanted = set(filter(None, query.get("labels", "").split(",")))
            return 200, [
                issue
                for issue in self.issues
                if issue["state"] == query.get("state", "open")
                and wanted <= {label["name"] for label in issue["labels"]}
            ]
        if method == "POST" and parts == ["issues"]:
            number = self.issue(BOT, body.get("labels", []), title=body["title"], body=body["body"])
            return 201, self.issues[-1] | {"number": number}
        if method == "POST" and parts == ["labels"]:
            if body["name"] in self.labels:
                return 422, {"message": "Validation Failed"}
            self.labels.add(body["name"])
            return 201, body
        if method == "PATCH" and parts[:1] == ["issues"] and len(parts) == 2:
            for issue in self.issues:
                if issue["number"] == int(parts[1]):
                    issue.update(body)
                    return 200, issue
        if parts[:1] == ["issues"] and len(parts) == 3 and parts[2] == "comments":
            number = int(parts[1])
            if method == "GET":
                return 200, self.comments.get(number, [])
            if method == "POST":
                self.comment(number, BOT, body["body"])
                return 201, self.comments[number][-1]
        if method == "PATCH" and parts[:2] == ["issues", "comments"] and len(parts) == 3:
            for comment in (c for cs in self.comments.values() for c in cs):
                if comment["id"] == int(parts[2]):
                    comment["body"] = body["body"]
                    return 200, comment
        return 404, {"message": "Not Found"}


def _handler(fake: FakeGitHub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.requests.append(Request(self.command, url.path, query, body))
            headers: dict[str, str] = {}
            data: Any
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, data = 401, {"message": "Bad credentials"}
            else:
                status, data = fake.answer(self.command, url.path, query, body)
                if self.command == "GET" and isinstance(data, list):
                    page = int(query.get("page", "1"))
                    data, rest = (
                        data[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
                        data[page * PAGE_SIZE :],
                    )
                    if rest:
                        link = f"{fake.url}{url.path}?{urlencode({**query, 'page': page + 1})}"
                        headers["Link"] = f'<{link}>; rel="next"'
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
