"""Fake PagerDuty, Opsgenie and Statuspage APIs on 127.0.0.1, serving the recorded fixtures.

Each server runs ``http.server`` in a thread on a free port, checks the
authorization header, pages its lists the way the real API does (PagerDuty:
``offset``/``limit``/``more``; Opsgenie: ``offset``/``limit`` with a
``paging.next`` link), and records every request. Faults queued with
:meth:`FakeServer.fail_next` (a 429 with ``Retry-After``, a 500) are returned for the
next matching requests instead of the route. ``run_refresh_with_incidents``
runs the project's refresh job with the incident assets merged in.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": {"message": "injected fault"}}'
    path_prefix: str = ""


@dataclass
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class FakeServer:
    """Base of the fake APIs: routing, auth check, faults and the request log."""

    def __init__(self, expected_auth: str | None) -> None:
        self.expected_auth = expected_auth
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(self, status: int, count: int = 1, path_prefix: str = "", **headers: str) -> None:
        """Return ``status`` for the next ``count`` requests under ``path_prefix``."""
        header_map = {name.replace("_", "-"): value for name, value in headers.items()}
        with self.lock:
            self.faults.extend(
                Fault(status, header_map, path_prefix=path_prefix) for _ in range(count)
            )

    def requests_to(self, path_prefix: str) -> list[Recorded]:
        return [item for item in self.requests if item.path.startswith(path_prefix)]

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        raise NotImplementedError

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for index, fault in enumerate(self.faults):
                if path.startswith(fault.path_prefix):
                    return self.faults.pop(index)
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                headers = {name.lower(): value for name, value in self.headers.items()}
                fault = server._take_fault(parts.path)
                extra: dict[str, str] = {}
                if fault is not None:
                    status, body, extra = fault.status, fault.body, fault.headers
                elif headers.get("authorization") != server.expected_auth:
                    status, body = 401, json.dumps({"error": {"message": "invalid credentials"}})
                else:
                    status, data = server.route(parts.path, query)
                    body = json.dumps(data)
                with server.lock:
                    server.requests.append(Recorded(parts.path, query, headers, status))
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    return int(query.get(name, [str(default)])[0])


class FakePagerDuty(FakeServer):
    """``GET /incidents``, ``/incidents/{id}`` and ``/incidents/{id}/log_entries``.

    ``max_limit`` caps the page size the way PagerDuty caps ``limit``, so a
    test can force many pages.
    """

    def __init__(
        self,
        incidents: list[dict[str, Any]],
        log_entries: dict[str, list[dict[str, Any]]],
        token: str,
        max_limit: int = 100,
    ) -> None:
        super().__init__(f"Token token={token}")
        self.incidents = incidents
        self.log_entries = log_entries
        self.max_limit = max_limit

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/incidents":
            return 200, self._page("incidents", self._filtered(query), query)
        match = re.fullmatch(r"/incidents/([^/]+)(/log_entries)?", path)
        if match is None:
            return 404, {"error": {"message": "Not Found", "code": 2100}}
        incident = next((i for i in self.incidents if i["id"] == match.group(1)), None)
        if incident is None:
            return 404, {"error": {"message": "Not Found", "code": 2100}}
        if match.group(2):
            return 200, self._page("log_entries", self.log_entries.get(incident["id"], []), query)
        return 200, {"incident": incident}

    def _filtered(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        since, until = _time(query["since"][0]), _time(query["until"][0])
        services = set(query.get("service_ids[]", []))
        chosen = [
            incident
            for incident in self.incidents
            if since <= _time(incident["created_at"]) < until
            and (not services or incident["service"]["id"] in services)
        ]
        return sorted(chosen, key=lambda incident: incident["created_at"])

    def _page(self, key: str, items: list[Any], query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(_int(query, "limit", 25), self.max_limit)
        offset = _int(query, "offset", 0)
        page = items[offset : offset + limit]
        return {
            key: page,
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": None,
        }


class FakeOpsgenie(FakeServer):
    """``GET /v1/incidents``, ``/v1/incidents/{id}`` and ``/v2/alerts``.

    The ``query`` parameter understands ``impactedServices:<id>`` only, which
    is what the client sends. ``max_limit`` caps the page size.
    """

    def __init__(
        self,
        incidents: list[dict[str, Any]],
        token: str,
        alerts: list[dict[str, Any]] | None = None,
        max_limit: int = 100,
    ) -> None:
        super().__init__(f"GenieKey {token}")
        self.incidents = incidents
        self.alerts = alerts or []
        self.max_limit = max_limit

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/v1/incidents":
            return 200, self._page(path, self._filtered(self.incidents, query), query)
        if path == "/v2/alerts":
            return 200, self._page(path, self._filtered(self.alerts, query), query)
        match = re.fullmatch(r"/(v1/incidents|v2/alerts)/([^/]+)", path)
        pool = self.incidents if match and match.group(1) == "v1/incidents" else self.alerts
        found = next((item for item in pool if match and item["id"] == match.group(2)), None)
        if found is None:
            return 404, {"message": "Not found", "took": 0.001}
        return 200, {"data": found, "took": 0.001, "requestId": "fake"}

    def _filtered(
        self, items: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        text = query.get("query", [""])[0]
        match = re.fullmatch(r"impactedServices:(\S+)", text)
        if match:
            items = [item for item in items if match.group(1) in item.get("impactedServices", [])]
        descending = query.get("order", ["desc"])[0] == "desc"
        return sorted(items, key=lambda item: item["createdAt"], reverse=descending)

    def _page(self, path: str, items: list[Any], query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(_int(query, "limit", 20), self.max_limit)
        offset = _int(query, "offset", 0)
        flat = {name: values[0] for name, values in query.items()}

        def link(at: int) -> str:
            return f"{self.base_url}{path}?{urlencode({**flat, 'offset': at, 'limit': limit})}"

        paging = {"first": link(0), "last": link(max(len(items) - 1, 0) // limit * limit)}
        if offset + limit < len(items):
            paging["next"] = link(offset + limit)
        return {"data": items[offset : offset + limit], "paging": paging, "took": 0.01}


class FakeStatuspage(FakeServer):
    """``GET /api/v2/incidents.json`` of a public status page (no authorization)."""

    def __init__(self, incidents: list[dict[str, Any]]) -> None:
        super().__init__(None)
        self.incidents = incidents

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path != "/api/v2/incidents.json":
            return 404, {"error": "not found"}
        page = {"id": "kctbh9vrtdwd", "name": "GitHub", "url": "https://www.githubstatus.com"}
        return 200, {"page": page, "incidents": self.incidents}


def run_refresh_with_incidents(
    tmp_path: Path, config_path: Path, as_of: str
) -> tuple[Any, Path, str]:
    """Run the project's refresh (each partition, then the refresh job) into a new warehouse.

    Returns the refresh result, the DuckDB file and the text of every log line of its runs.
    """
    import dagster as dg

    from dagster_project import pipeline

    db = tmp_path / "refresh.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    result = pipeline.run_refresh_job(
        str(db), {"config_path": str(config_path), "as_of": as_of}, instance=instance
    )
    log_text = "\n".join(
        entry.user_message for run in result.runs for entry in instance.all_logs(run.run_id)
    )
    return result, db, log_text


def load_pagerduty_fixtures() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Return the recorded incidents and their log entries, by incident id."""
    folder = FIXTURES / "pagerduty"
    incidents = json.loads((folder / "incidents.json").read_text())["incidents"]
    entries = {
        path.stem: json.loads(path.read_text())["log_entries"]
        for path in sorted((folder / "log_entries").glob("*.json"))
    }
    return incidents, entries


def load_constructed_pagerduty() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Return the hand-written incidents (reopened, resolved twice, merged) and their log entries."""
    data = json.loads((FIXTURES / "pagerduty" / "constructed" / "incidents.json").read_text())
    return data["incidents"], data["log_entries"]


def load_opsgenie_fixtures() -> list[dict[str, Any]]:
    """Return the recorded Opsgenie incidents."""
    return json.loads((FIXTURES / "opsgenie" / "incidents.json").read_text())["data"]


def load_constructed_opsgenie() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the hand-written Opsgenie incidents and alerts."""
    data = json.loads((FIXTURES / "opsgenie" / "constructed" / "items.json").read_text())
    return data["incidents"], data["alerts"]
