"""A fake JSON API on 127.0.0.1 for the client tests: routes, paging, ETags, injected faults.

A route is a regular expression on the path and a handler that returns
``(status, body)`` or a :class:`Listing`. A listing is split into pages of
``per_page`` items, with GitHub-style ``Link`` headers or GitLab-style
``X-Next-Page`` headers. Every 200 response carries an ETag (a hash of its
body), and a request whose ``If-None-Match`` matches gets ``304``. Faults
queued with :meth:`FakeApi.fail_next` replace the responses to the next matching requests
instead of the handler. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class Listing:
    """A list response that the server splits into pages."""

    items: list[Any]
    envelope_key: str | None = None
    envelope: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    """One injected response: a status, headers and a body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"message": "injected fault"}'
    path_pattern: str = ""


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


Handler = Callable[[re.Match[str], dict[str, str]], Any]


class FakeApi:
    """The fake server. Use as a context manager; ``base_url`` is its root URL."""

    def __init__(
        self,
        paging: str = "link",
        per_page: int = 30,
        prefix: str = "",
        expected_auth: str | None = None,
        auth_header: str = "authorization",
    ) -> None:
        self.paging = paging
        self.expected_auth = expected_auth
        self.auth_header = auth_header.lower()
        self.default_per_page = per_page
        self.prefix = prefix.rstrip("/")
        self.routes: list[tuple[re.Pattern[str], Handler]] = []
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.rate_limit_remaining: int | None = None
        self.rate_limit_reset: int = 0
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, pattern: str, handler: Handler) -> None:
        self.routes.append((re.compile(f"^{pattern}$"), handler))

    def fail_next(self, fault: Fault, times: int = 1) -> None:
        self.faults.extend([fault] * times)

    def count(self, pattern: str = ".*", status: int | None = None) -> int:
        regex = re.compile(pattern)
        return sum(
            1
            for r in self.requests
            if regex.search(r.path) and (status is None or r.status == status)
        )

    def _handler_class(self):
        api = self

        class RequestHandler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status, headers, body = api.answer(self)
                data = body.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return RequestHandler

    def answer(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.path)
        path = parts.path
        if self.prefix and path.startswith(self.prefix):
            path = path[len(self.prefix) :]
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        headers = {key.lower(): value for key, value in request.headers.items()}
        status, out_headers, body = self._dispatch(path, query, headers, request)
        with self.lock:
            self.requests.append(Recorded(path, query, headers, status))
        return status, out_headers, body

    def _dispatch(self, path, query, headers, request):
        with self.lock:
            fault = next((f for f in self.faults if re.search(f.path_pattern, path)), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None:
            return fault.status, {"Content-Type": "application/json", **fault.headers}, fault.body
        if self.expected_auth is not None and headers.get(self.auth_header) != self.expected_auth:
            return 401, {"Content-Type": "application/json"}, '{"message": "Bad credentials"}'
        for pattern, handler in self.routes:
            match = pattern.match(path)
            if match:
                result = handler(match, query)
                break
        else:
            return 404, {"Content-Type": "application/json"}, '{"message": "Not Found"}'
        if isinstance(result, Listing):
            status, extra, body = self._page(result, path, query, request)
        else:
            status, payload = result
            extra, body = {}, json.dumps(payload)
        out = {"Content-Type": "application/json", **extra}
        out.update(self._quota_headers())
        if status != 200:
            return status, out, body
        etag = '"' + hashlib.sha1(body.encode()).hexdigest() + '"'
        out["ETag"] = etag
        if headers.get("if-none-match") == etag:
            return 304, {k: v for k, v in out.items() if k != "Content-Type"}, ""
        return 200, out, body

    def _quota_headers(self) -> dict[str, str]:
        if self.rate_limit_remaining is None:
            return {}
        names = ("X-RateLimit-Remaining", "X-RateLimit-Reset")
        if self.paging == "gitlab":
            names = ("RateLimit-Remaining", "RateLimit-Reset")
        return {names[0]: str(self.rate_limit_remaining), names[1]: str(self.rate_limit_reset)}

    def _page(self, listing: Listing, path: str, query: dict[str, str], request):
        per_page = int(query.get("per_page", self.default_per_page))
        number = int(query.get("page", "1"))
        start = (number - 1) * per_page
        chunk = listing.items[start : start + per_page]
        has_next = start + per_page < len(listing.items)
        host = request.headers.get("Host")
        extra: dict[str, str] = {}
        if has_next:
            next_query = urlencode({**query, "page": number + 1})
            next_url = f"http://{host}{self.prefix}{path}?{next_query}"
            if self.paging == "gitlab":
                extra["X-Next-Page"] = str(number + 1)
                extra["X-Page"] = str(number)
            else:
                extra["Link"] = f'<{next_url}>; rel="next"'
        elif self.paging == "gitlab":
            extra["X-Next-Page"] = ""
        if listing.envelope_key:
            body = json.dumps({**listing.envelope, listing.envelope_key: chunk})
        else:
            body = json.dumps(chunk)
        return 200, extra, body
