"""The HTTP client under network faults, from a raw socket server on 127.0.0.1.

Each connection gets the next scripted behaviour: a stall past the client's
timeout, a connection reset, a body cut short of its Content-Length, a 200
with a non-JSON body, 5xx, 429 and 403 rate limits, or a good JSON answer.
Sleeping is replaced by a recorder, so no test waits for a backoff.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator

import duckdb
import pytest

from dagster_project import warehouse
from dagster_project.clients.http import ApiError, ApiSession, RetryPolicy
from dagster_project.sources.api_loading import Batch, write_batch
from tests.fakes.api_server import FakeApi, Listing

TOKEN = "ghp_PLANTEDhttpfaulttoken0123456789abcdef"
GOOD = json.dumps([{"id": 1}]).encode()


def _response(status: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


BEHAVIOURS = {
    "ok": lambda conn: conn.sendall(
        _response("200 OK", GOOD, {"Content-Type": "application/json"})
    ),
    "500": lambda conn: conn.sendall(_response("500 Internal Server Error", b"boom")),
    "503": lambda conn: conn.sendall(_response("503 Service Unavailable", b"<html>down</html>")),
    "429": lambda conn: conn.sendall(
        _response("429 Too Many Requests", b"{}", {"Retry-After": "2"})
    ),
    "403-rate": lambda conn: conn.sendall(
        _response(
            "403 Forbidden",
            b'{"message": "API rate limit exceeded"}',
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"},
        )
    ),
    "403": lambda conn: conn.sendall(_response("403 Forbidden", b'{"message": "no access"}')),
    "html": lambda conn: conn.sendall(
        _response("200 OK", b"<html>login page</html>", {"Content-Type": "text/html"})
    ),
    "bad-json": lambda conn: conn.sendall(
        _response("200 OK", b'[{"id": 1}, {"id"', {"Content-Type": "application/json"})
    ),
    "truncated": lambda conn: conn.sendall(_response("200 OK", GOOD)[:-5]),
    "reset": lambda conn: conn.setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    ),
    "stall": None,  # read the request, answer nothing; the client times out
}


class ScriptedServer:
    """Answer connection N with behaviour N of the script, then 'ok' forever."""

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.seen: list[str] = []
        self.requests: list[bytes] = []
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._stalled: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self.requests.append(conn.recv(65536))
            behaviour = self.script.pop(0) if self.script else "ok"
            self.seen.append(behaviour)
            if behaviour == "stall":
                self._stalled.append(conn)
                continue
            BEHAVIOURS[behaviour](conn)
            conn.close()

    def close(self) -> None:
        self._socket.close()
        for conn in self._stalled:
            conn.close()


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


@pytest.fixture
def serve() -> Iterator:
    servers: list[ScriptedServer] = []

    def start(*script: str) -> ScriptedServer:
        servers.append(ScriptedServer(list(script)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def session(server: ScriptedServer, sleeps: list[float], retries: int = 3) -> ApiSession:
    return ApiSession(
        server.base_url,
        token=TOKEN,
        timeout=0.5,
        retry=RetryPolicy(max_retries=retries, backoff_base=1.0, backoff_max=8.0),
        sleep=sleeps.append,
        clock=lambda: 1_000_000.0,
    )


@pytest.mark.parametrize(
    "fault", ["500", "503", "reset", "stall", "truncated"], ids=lambda fault: fault
)
def test_transient_fault_is_retried_with_backoff(serve, fault: str) -> None:
    server = serve(fault, fault)
    sleeps: list[float] = []
    page = session(server, sleeps).get("items")
    assert page.data == [{"id": 1}]
    assert server.seen == [fault, fault, "ok"]
    assert sleeps == [1.0, 2.0], "exponential backoff: base, then twice the base"


@pytest.mark.parametrize("fault", ["500", "reset", "stall", "truncated"], ids=lambda f: f)
def test_fault_that_stays_fails_after_the_bound_with_a_clear_error(serve, fault: str) -> None:
    server = serve(*[fault] * 10)
    sleeps: list[float] = []
    with pytest.raises(ApiError) as raised:
        session(server, sleeps, retries=3).get("items")
    message = str(raised.value)
    assert "after 4 attempts" in message, message
    assert server.base_url in message
    assert TOKEN not in message
    assert len(server.seen) == 4
    assert sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("fault", ["429", "403-rate"], ids=lambda f: f)
def test_rate_limit_waits_then_succeeds(serve, fault: str) -> None:
    server = serve(fault)
    sleeps: list[float] = []
    page = session(server, sleeps).get("items")
    assert page.data == [{"id": 1}]
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 2.0, sleeps


def test_rate_limit_that_stays_is_bounded(serve) -> None:
    server = serve(*["429"] * 30)
    client = session(server, [])
    client.retry = RetryPolicy(max_retries=3, max_rate_limit_waits=4)
    with pytest.raises(ApiError) as raised:
        client.get("items")
    assert "rate limit still exceeded after 5 waits" in str(raised.value)
    assert len(server.seen) == 5


@pytest.mark.parametrize("fault", ["html", "bad-json"], ids=lambda f: f)
def test_body_that_is_not_json_fails_clearly_without_retry(serve, fault: str) -> None:
    server = serve(fault)
    with pytest.raises(ApiError) as raised:
        session(server, []).get("items")
    assert "is not JSON" in str(raised.value)
    assert "check the base URL" in str(raised.value)
    assert server.seen == [fault]


def test_forbidden_without_rate_limit_is_not_retried(serve) -> None:
    server = serve("403")
    with pytest.raises(ApiError) as raised:
        session(server, []).get("items")
    assert raised.value.status == 403
    assert "scopes" in str(raised.value)
    assert server.seen == ["403"]


def test_token_is_sent_but_never_in_errors(serve) -> None:
    server = serve(*["500"] * 10)
    with pytest.raises(ApiError) as raised:
        session(server, [], retries=1).get("items")
    assert TOKEN.encode() in server.requests[0]
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value)


def test_listing_that_shifts_between_pages_is_stored_once(tmp_path) -> None:
    """An item added at the front after page 1 repeats an item on page 2; the upsert keeps one."""
    items = [{"id": number} for number in range(5, 0, -1)]  # newest first, like GitHub

    def listing(match, query) -> Listing:
        if query.get("page", "1") == "2" and items[0]["id"] == 5:
            items.insert(0, {"id": 6})  # a new item arrives between the two reads
        return Listing(list(items))

    columns = {"item_id": "integer"}
    with FakeApi(per_page=3) as api:
        api.route("/items", listing)
        client = ApiSession(api.base_url, sleep=lambda seconds: None)
        read = [item for page in client.paginate("items") for item in page.data]

    assert [item["id"] for item in read] == [5, 4, 3, 3, 2, 1]
    batch = Batch("test", "items")
    for item in read:
        batch.add(
            f"items/{item['id']}",
            item,
            lambda item=item: {"_record_key": str(item["id"]), "item_id": item["id"]},
        )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        warehouse.ensure_raw_tables(con, {"raw_test__items": columns})
        write_batch(con, "raw_test__items", columns, batch)
        stored = con.execute("select item_id from raw_test__items order by 1").fetchall()
    assert stored == [(1,), (2,), (3,), (4,), (5,)]
